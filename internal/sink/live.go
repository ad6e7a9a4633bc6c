package sink

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// timestampLayout is the original tool's timestamp format.
const timestampLayout = "2006-01-02 15:04:05"

// JSONLine returns the live line as the original tool's JSONL object: the
// same keys and nesting, numbers or null, then aoaibench's extra keys.
// Latencies are seconds; rpm and tpm are per minute over the window.
func JSONLine(t Tick) []byte {
	w := t.Window
	o := newObj(make([]byte, 0, 768))
	o.int("run_seconds", int64(t.RunSeconds))
	o.str("timestamp", t.Time.Format(timestampLayout))
	o.num("rpm", w.RPM, 1)
	o.int("processing", t.Processing)
	o.int("completed", t.Completed)
	o.int("failures", t.Failures)
	o.int("throttled", t.Throttled)
	o.int("requests", t.Requests)
	o.open("tpm")
	o.num("context", math.Round(w.TPMContext), 0)
	o.num("gen", math.Round(w.TPMGen), 0)
	o.num("total", math.Round(w.TPMTotal), 0)
	o.close()
	for _, d := range []struct {
		k string
		d metrics.Spread
	}{{"e2e", w.E2E}, {"ttft", w.TTFT}, {"tbt", w.TBT}} {
		o.open(d.k)
		o.num("avg", d.d.Avg, 6)
		o.num("95th", d.d.P95, 6)
		o.close()
	}
	o.open("util")
	o.num("avg", w.Util.Avg, 1)
	o.num("95th", w.Util.P95, 1)
	o.close()
	// Extra keys: everything above is exactly the original's.
	o.num("window_seconds", w.Span, 3)
	o.num("offered_rpm", t.Offered, 3)
	o.num("send_rpm", w.SendRPM, 1)
	o.int("throttled_window", int64(w.Throttled))
	o.int("failures_window", int64(w.Failed))
	for _, d := range []struct {
		k string
		d metrics.Spread
	}{{"e2e", w.E2E}, {"ttft", w.TTFT}, {"tbt", w.TBT}} {
		o.num(d.k+"_p50", d.d.P50, 6)
		o.num(d.k+"_p99", d.d.P99, 6)
	}
	o.open("lag")
	o.num("p50", w.Lag.P50, 6)
	o.num("p99", w.Lag.P99, 6)
	o.num("max", w.Lag.Max, 6)
	o.close()
	if t.Stage > 0 {
		o.int("stage", int64(t.Stage))
	}
	if t.Warmup {
		o.key("warmup")
		o.b = append(o.b, "true"...)
	}
	o.key("valid")
	o.b = append(o.b, fmt.Sprint(t.Behind == "")...)
	if t.Behind != "" {
		o.str("behind", t.Behind)
	}
	return append(o.bytes(), '\n')
}

// HumanLine returns the live line for people: the same figures as the
// JSONL line, latencies in seconds.
func HumanLine(t Tick) string {
	w := t.Window
	f := func(v float64, prec int) string {
		if math.IsNaN(v) {
			return "n/a"
		}
		return fmt.Sprintf("%.*f", prec, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s rpm: %-6s processing: %-4d completed: %-5d failures: %-4d throttled: %-4d requests: %-5d tpm: %-7s",
		t.Time.Format(timestampLayout), f(w.RPM, 1), t.Processing, t.Completed, t.Failures, t.Throttled, t.Requests, f(math.Round(w.TPMTotal), 0))
	fmt.Fprintf(&b, " ttft_avg: %-6s ttft_95th: %-6s tbt_avg: %-6s tbt_95th: %-6s e2e_avg: %-6s e2e_95th: %-6s util_avg: %-5s util_95th: %-5s lag_p99: %s",
		f(w.TTFT.Avg, 3), f(w.TTFT.P95, 3), f(w.TBT.Avg, 4), f(w.TBT.P95, 4), f(w.E2E.Avg, 3), f(w.E2E.P95, 3),
		pct(w.Util.Avg), pct(w.Util.P95), ms(w.Lag.P99))
	if t.Stage > 0 {
		fmt.Fprintf(&b, " stage: %d/%d offered: %.1f", t.Stage, t.Stages, t.Offered)
	}
	if t.Warmup {
		b.WriteString(" (warmup)")
	}
	if t.Behind != "" {
		fmt.Fprintf(&b, " BEHIND: %s", t.Behind)
	}
	return b.String()
}

// StatusLine is the live state for a terminal: one line of at most 79
// columns, rewritten in place.
func StatusLine(t Tick) string {
	secs := func(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second)) }
	at := secs(t.Elapsed)
	switch {
	case t.Planned > 0 && t.Elapsed > t.Planned:
		at = "drain " + secs(t.Elapsed-t.Planned)
	case t.Planned > 0:
		at += "/" + secs(t.Planned)
	}
	if t.Stage > 0 {
		at = fmt.Sprintf("%s s%d", at, t.Stage)
	}
	if t.Warmup {
		at += " warm"
	}
	// The rate is of completions in the trailing window (their outcomes
	// are known; the summary's rates are over the dispatch window): it
	// names what it counts and over how long.
	rate := "ok/min -"
	if r := t.Window.RPM; !math.IsNaN(r) {
		rate = fmt.Sprintf("ok/min %.1f (%.0fs)", r, t.Window.Span)
	}
	ttft := "TTFT -"
	if w := t.Window.TTFT; !math.IsNaN(w.P95) {
		ttft = fmt.Sprintf("TTFT p95 %.0fms", w.P95*1e3)
	}
	head := fmt.Sprintf("%-8s sent %-4d ok %-4d 429 %-3d fail %-3d ", at, t.Requests, t.Completed, t.Throttled, t.Failures)
	if len(at) > 8 {
		head = fmt.Sprintf("%s sent %d ok %d 429 %d fail %d ", at, t.Requests, t.Completed, t.Throttled, t.Failures)
	}
	line := head + rate + " " + ttft
	switch {
	case t.Final:
		// The window's rate is over the drain too: the summary that
		// follows has the run's rates.
		line = fmt.Sprintf("done     sent %-5d ok %-5d 429 %-4d fail %-4d", t.Requests, t.Completed, t.Throttled, t.Failures)
	case t.Behind != "":
		line = head + "BEHIND schedule"
	}
	if len(line) > 79 {
		line = line[:79]
	}
	return line
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func ms(sec float64) string {
	if math.IsNaN(sec) {
		return "n/a"
	}
	return fmt.Sprintf("%.3fms", sec*1e3)
}

// Live writes the live line to w once a second: on a terminal (tty) one
// status line updated in place, else the original tool's lines, human or
// jsonl.
func Live(out io.Writer, format plan.LiveFormat, tty bool) Sink {
	// A stdout that is closed (a pipe to head) ends the live output,
	// never the run: its results still go to their files.
	w := &stopOnError{w: out}
	if tty && format == plan.Human {
		shown := false
		return Sink{
			Tick: func(t Tick) {
				// Carriage return and clear to the end of the line.
				fmt.Fprintf(w, "\r\x1b[K%s", StatusLine(t))
				shown = true
			},
			End: func(End) error {
				if shown {
					fmt.Fprintln(w)
				}
				return nil
			},
		}
	}
	return Sink{Tick: func(t Tick) {
		if format == plan.JSON {
			w.Write(JSONLine(t))
		} else {
			fmt.Fprintln(w, HumanLine(t))
		}
	}}
}

// stopOnError writes until the first error, then drops what follows.
type stopOnError struct {
	w   io.Writer
	err error
}

func (s *stopOnError) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// JSONLog writes the JSONL live lines to a file (the lab's TEST_NAME.log),
// created now so that a path that cannot be written fails before the run.
func JSONLog(path string) (Sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return Sink{}, fmt.Errorf("--log-file: %w", err)
	}
	var werr error
	return Sink{
		Tick: func(t Tick) {
			if werr == nil {
				_, werr = f.Write(JSONLine(t))
			}
		},
		End: func(End) error {
			cerr := f.Close()
			if werr == nil {
				werr = cerr
			}
			if werr != nil {
				return fmt.Errorf("--log-file: %w", werr)
			}
			return nil
		},
	}, nil
}
