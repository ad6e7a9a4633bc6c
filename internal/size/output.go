package size

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// File is the answer's file name in its directory.
const File = "size.json"

// Write writes the answer as DIR/size.json, making DIR.
func (r *Result) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, File)
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// Read reads a size.json.
func Read(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Kind != "size" || r.Replay.PTU <= 0 || len(r.Replay.Steps) == 0 {
		return nil, fmt.Errorf("%s: not an aoaibench size answer (kind %q, %d steps)", path, r.Kind, len(r.Replay.Steps))
	}
	return &r, nil
}

// width is the terminal's: every line of Text fits.
const width = 80

// Text writes the answer for a terminal: the figures, the answer and
// what bounds it, then the counts tried, within 80 columns.
func (r *Result) Text(w io.Writer) {
	t := textWriter{w}
	r.textFigures(t)
	fmt.Fprintln(w)
	t.line("ANSWER", fmt.Sprintf("%d PTUs, %s provisioned", r.Replay.PTU, ptu.Type(r.DeploymentType).Name()))
	t.line("", r.Bound.Sentence)
	for _, n := range r.Notes {
		t.line("note", n)
	}
	if c := r.Cost; c != nil {
		for _, n := range c.Notes {
			t.line("note", n)
		}
	}
	fmt.Fprintln(w)
	r.textSteps(w)
}

// textWriter writes labelled lines, each wrapped within the width, its
// label in a column of 10.
type textWriter struct{ w io.Writer }

func (t textWriter) line(label, text string) {
	for i, l := range wrap(text, width-10) {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(t.w, "%-10s%s\n", label, l)
	}
}

// textFigures writes what the answer is made from: the model's figures,
// the input, the formula, the replay, the latency and the month's cost.
func (r *Result) textFigures(t textWriter) {
	m := r.Model
	typ := ptu.Type(r.DeploymentType).Name()
	t.line("model", fmt.Sprintf("%s (%s of %s: %s input TPM a PTU, an output token counts %g, %g tokens/s latency target); %s provisioned deploys %d PTUs and up, in steps of %d",
		r.Model.Asked, m.Name, m.Table, group(m.InputTPMPerPTU), m.OutputRatio, m.LatencyTPS, typ, m.Min, m.Increment))
	inputs := "1 input"
	if len(r.Inputs) > 1 {
		inputs = fmt.Sprintf("%d inputs overlaid", len(r.Inputs))
	}
	over := time.Duration(r.SpanSeconds * float64(time.Second)).Round(time.Second).String()
	if raw := r.rawSpan(); raw < time.Minute && r.SpanSeconds <= 60 {
		// The span is a minute at least (the quota's window): say so
		// rather than claim a minute the input does not have.
		over = fmt.Sprintf("%s (%s), sized as a minute: the quota's window", raw.Round(100*time.Millisecond), inputs)
	} else {
		over += " (" + inputs + ")"
	}
	t.line("input", fmt.Sprintf("%s requests over %s", group(float64(r.Requests)), over))
	f := r.Formula
	t.line("formula", fmt.Sprintf("peak %s RPM x %.1f prompt x (1 - %.1f%% cached) + %g x peak RPM x %.1f output = %s TPM; / %s = %.2f -> %d PTUs",
		group(float64(f.PeakRPM)), f.AvgPromptTokens, 100*f.CacheRate, m.OutputRatio, f.AvgOutputTokens, group(f.NormalizedTPM), group(m.InputTPMPerPTU), f.PTUExact, f.PTU))
	t.line("replay", fmt.Sprintf("%d PTUs refuse %s of %s requests (%s; --max-throttled %s)", r.Replay.PTU,
		group(float64(r.stepAt(r.Replay.PTU).Throttled)), group(float64(r.Requests)), pct(r.Replay.ThrottledShare), pct(r.MaxThrottled)))
	l := r.Latency
	t.line("latency", fmt.Sprintf("generation p50 %.0f ms, p95 %.0f ms (%d and %d output tokens at %g tokens/s)", 1e3*l.P50Seconds, 1e3*l.P95Seconds, l.OutputTokensP50, l.OutputTokensP95, l.LatencyTPS))
	c := r.Cost
	if c == nil {
		return
	}
	var parts []string
	if c.PTU != nil {
		parts = append(parts, fmt.Sprintf("%d PTUs %s", c.PTU.PTU, money(c.PTU.Monthly)))
	}
	if c.PayGo != nil {
		parts = append(parts, "pay-as-you-go "+money(c.PayGo.Monthly))
	}
	if c.Spillover != nil {
		parts = append(parts, fmt.Sprintf("%d PTUs + spillover %s (%s + %s)", c.Spillover.PTU, money(c.Spillover.Monthly), money(c.Spillover.PTUMonthly), money(c.Spillover.Spilled.Monthly)))
	}
	text := strings.Join(parts, "; ")
	if c.Cheapest != "" && len(parts) > 1 {
		text += "; cheapest: " + c.Cheapest
	}
	t.line("a month", text)
}

// textSteps writes the table of the counts replayed (those shownSteps
// keeps), the answer's, the formula's and the cheapest mix's marked.
func (r *Result) textSteps(w io.Writer) {
	spill := ""
	if r.Spillover {
		spill = "  spilled"
	}
	fmt.Fprintf(w, "%6s %9s %7s %11s %14s%s\n", "PTUs", "refused", "share", "util p50", "p99     max", spill)
	shown := r.shownSteps()
	for _, s := range shown {
		var marks []string
		if s.PTU == r.Replay.PTU {
			marks = append(marks, "answer")
		}
		if s.PTU == r.Formula.PTU {
			marks = append(marks, "formula")
		}
		if r.Cost != nil && r.Cost.Spillover != nil && s.PTU == r.Cost.Spillover.PTU {
			marks = append(marks, "cheapest mix")
		}
		mark := ""
		if len(marks) > 0 {
			mark = "  " + strings.Join(marks, ", ")
		}
		sp := ""
		if s.Spillover != nil {
			sp = "  " + short(float64(s.Spillover.Prompt+s.Spillover.Output)) + " tok"
		}
		fmt.Fprintf(w, "%6d %9s %7s %10.1f%% %6.1f%% %6.1f%%%s%s\n", s.PTU, group(float64(s.Throttled)), pct(s.ThrottledShare),
			s.Utilization.P50, s.Utilization.P99, s.Utilization.Max, sp, mark)
	}
	if len(shown) < len(r.Replay.Steps) {
		fmt.Fprintf(w, "%d of the %d counts replayed; size.json has every one\n", len(shown), len(r.Replay.Steps))
	}
}

// maxShown bounds the rows of Text's table.
const maxShown = 12

// shownSteps are the steps a terminal shows: every one when few, else
// the least and most tried, the formula's, the answer and its
// neighbours, the cheapest mix, and as many more as fit, spread out.
func (r *Result) shownSteps() []Step {
	all := r.Replay.Steps
	if len(all) <= maxShown {
		return all
	}
	keep := map[int]bool{all[0].PTU: true, all[len(all)-1].PTU: true, r.Formula.PTU: true}
	for i, s := range all {
		if s.PTU == r.Replay.PTU {
			keep[s.PTU] = true
			if i > 0 {
				keep[all[i-1].PTU] = true
			}
			if i+1 < len(all) {
				keep[all[i+1].PTU] = true
			}
		}
	}
	if r.Cost != nil && r.Cost.Spillover != nil {
		keep[r.Cost.Spillover.PTU] = true
	}
	for k := 1; len(keep) < maxShown && k < maxShown; k++ {
		keep[all[k*(len(all)-1)/maxShown].PTU] = true
	}
	var out []Step
	for _, s := range all {
		if keep[s.PTU] {
			out = append(out, s)
		}
	}
	return out
}

// stepAt is the step of count n.
func (r *Result) stepAt(n int) Step {
	for _, s := range r.Replay.Steps {
		if s.PTU == n {
			return s
		}
	}
	return Step{}
}

// wrap cuts text into lines of at most n characters, at spaces.
func wrap(text string, n int) []string {
	var out []string
	cur := ""
	for _, word := range strings.Fields(text) {
		switch {
		case cur == "":
			cur = word
		case len(cur)+1+len(word) <= n:
			cur += " " + word
		default:
			out = append(out, cur)
			cur = word
		}
	}
	if cur != "" || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// group writes a whole number with thousands separators.
func group(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct writes a share as a percent.
func pct(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
	if v > 0 && 100*v < 0.005 {
		return "<0.01%"
	}
	return s
}

// money writes a price with two decimals and thousands separators, in
// the user's own currency.
func money(v float64) string {
	cents := strconv.FormatFloat(v, 'f', 2, 64)
	whole, frac, _ := strings.Cut(cents, ".")
	w, _ := strconv.ParseFloat(whole, 64)
	return group(w) + "." + frac
}

// short writes a count in k, M or G.
func short(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 1, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// rawSpan is the longest of the inputs' own spans, first arrival to last.
func (r *Result) rawSpan() time.Duration {
	var d float64
	for _, in := range r.Inputs {
		d = max(d, in.SpanSeconds)
	}
	return time.Duration(d * float64(time.Second))
}
