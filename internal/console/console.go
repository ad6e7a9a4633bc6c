// Package console writes what a person reads in a terminal: a run's
// summary table, the inference server's figures beside the client's, the
// simulator's own count, the start lines of a run, and the steps and
// answer of a sweep or a search. Every line fits Width columns, and
// latencies are in ms. The command line only wires these to its streams;
// golden files (testdata) hold what each writes.
package console

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// Width is the columns a line for people fits in.
const Width = 80

// Wrapped writes text after head, wrapped at word boundaries to Width
// columns, each following line indented as far as head.
func Wrapped(w io.Writer, head, text string) {
	pad := strings.Repeat(" ", len(head))
	line := head
	for i, word := range strings.Fields(text) {
		if i > 0 && len(line)+1+len(word) > Width-1 {
			fmt.Fprintln(w, line)
			line = pad + word
			continue
		}
		if i > 0 {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}

// Note writes a note or warning for people: each of its lines that does
// not fit Width columns is wrapped at word boundaries, the following
// lines indented two columns, so that a terminal of 80 columns shows it
// whole.
func Note(w io.Writer, text string) {
	for _, line := range strings.Split(text, "\n") {
		if len(line) < Width {
			fmt.Fprintln(w, line)
			continue
		}
		lead := line[:len(line)-len(strings.TrimLeft(line, " "))]
		words := strings.Fields(line)
		if len(words) == 0 {
			fmt.Fprintln(w) // a long line of blanks
			continue
		}
		out := lead + words[0]
		for _, word := range words[1:] {
			if len(out)+1+len(word) > Width-1 {
				fmt.Fprintln(w, out)
				out = lead + "  " + word
				continue
			}
			out += " " + word
		}
		fmt.Fprintln(w, out)
	}
}

// fixed writes a number with prec decimals, or n/a when absent.
func fixed(v metrics.Num, prec int) string {
	if math.IsNaN(v.F()) {
		return "n/a"
	}
	return strconv.FormatFloat(v.F(), 'f', prec, 64)
}

// cell writes seconds as ms with four significant digits, the width a
// table's column keeps within Width; "-" when absent.
func cell(v metrics.Num) string {
	ms := v.F() * 1e3
	switch {
	case math.IsNaN(ms):
		return "-"
	case ms >= 1000:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 100:
		return fmt.Sprintf("%.1f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.2f", ms)
	}
	return fmt.Sprintf("%.3f", ms)
}
