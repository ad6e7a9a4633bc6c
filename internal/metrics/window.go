package metrics

import (
	"math"
	"slices"
	"time"
)

// Window holds the requests that completed in the last Size of a run, keyed
// on completion time, for the live line. Before a full window has elapsed it
// spans the elapsed time, as a fraction of a second, not rounded. Memory is
// bounded by the requests one window holds, whatever the run's length.
// It is not safe for concurrent use.
type Window struct {
	size    time.Duration
	start   time.Time
	q       []entry // completion order; q[head:] is live
	head    int
	sent    []mark
	scratch []float64 // reused by Snapshot, one figure at a time, for sorting
}

// entry is one finished request, packed small: a window at 60,000 RPM
// holds 60,000 of them.
type entry struct {
	end                       time.Duration // since start
	prompt, output            int32
	e2e, ttft, tbt, util, lag float32 // seconds, percent; NaN when absent
	class                     Class
}

type mark struct {
	t time.Time
	n int64
}

// NewWindow returns a window of the given size for a run started at start.
func NewWindow(size time.Duration, start time.Time) *Window {
	return &Window{size: size, start: start}
}

func secs(d time.Duration, ok bool) float32 {
	if !ok {
		return float32(nan)
	}
	return float32(d.Seconds())
}

// Add records a finished request.
func (w *Window) Add(r *Record) {
	n := float32(nan)
	e := entry{end: r.End.Sub(w.start), class: r.Class, util: float32(r.Util), e2e: n, ttft: n, tbt: n, lag: secs(r.Lag())}
	if r.Class == OK {
		e.prompt, e.output = int32(r.PromptTokens()), int32(r.OutputTokens())
		e.e2e, e.ttft, e.tbt = secs(r.E2E()), secs(r.TTFT()), secs(r.TPOT())
	}
	w.q = append(w.q, e)
}

// MarkSent notes that total requests had been sent by now, for the send rate.
func (w *Window) MarkSent(now time.Time, total int64) {
	w.sent = append(w.sent, mark{now, total})
}

// Spread is a windowed distribution: average and percentiles, NaN when
// empty.
type Spread struct {
	Avg, P50, P95, P99, Max float64
}

// WindowStats are the figures of one window.
type WindowStats struct {
	Span                         float64 // seconds the window covers
	OK                           int
	Throttled                    int
	Failed                       int // failures other than throttling
	RPM                          float64
	SendRPM                      float64 // requests sent per minute
	TPMContext, TPMGen, TPMTotal float64
	E2E, TTFT, TBT, Util, Lag    Spread
}

// Snapshot evicts what fell out of the window and returns its figures at now.
func (w *Window) Snapshot(now time.Time) WindowStats {
	from := now.Add(-w.size)
	span := w.size
	if from.Before(w.start) {
		from, span = w.start, now.Sub(w.start)
	}
	fromOff := from.Sub(w.start)
	for w.head < len(w.q) && w.q[w.head].end <= fromOff {
		w.head++
	}
	// Compact when the dead prefix dominates, so memory stays flat.
	if w.head > 1024 && w.head > len(w.q)/2 {
		w.q = append(w.q[:0], w.q[w.head:]...)
		w.head = 0
	}
	st := WindowStats{Span: span.Seconds()}
	live := w.q[w.head:]
	var prompt, output int
	for _, e := range live {
		switch e.class {
		case OK:
			st.OK++
			prompt += int(e.prompt)
			output += int(e.output)
		case Throttled:
			st.Throttled++
		default:
			st.Failed++
		}
	}
	if span > 0 {
		m := span.Minutes()
		st.RPM = float64(st.OK) / m
		st.TPMContext, st.TPMGen = float64(prompt)/m, float64(output)/m
		st.TPMTotal = float64(prompt+output) / m
		st.SendRPM = w.sendRate(from)
	}
	// One scratch buffer serves every figure in turn: at 60,000 RPM a
	// window holds 60,000 entries, and five copies would be most of the
	// memory a run needs.
	figure := func(get func(*entry) float32) Spread {
		w.scratch = w.scratch[:0]
		for i := range live {
			w.scratch = appendNum(w.scratch, get(&live[i]))
		}
		return dist(w.scratch)
	}
	st.E2E = figure(func(e *entry) float32 { return e.e2e })
	st.TTFT = figure(func(e *entry) float32 { return e.ttft })
	st.TBT = figure(func(e *entry) float32 { return e.tbt })
	st.Util = figure(func(e *entry) float32 { return e.util })
	st.Lag = figure(func(e *entry) float32 { return e.lag })
	return st
}

// sendRate is the requests sent per minute between the newest mark and
// the last mark at or before from (the start of the run if none).
func (w *Window) sendRate(from time.Time) float64 {
	// Keep one mark at or before from, as the window's base.
	k := 0
	for k+1 < len(w.sent) && !w.sent[k+1].t.After(from) {
		k++
	}
	w.sent = w.sent[k:]
	if len(w.sent) == 0 {
		return nan
	}
	base := mark{t: w.start}
	if !w.sent[0].t.After(from) {
		base = w.sent[0]
	}
	last := w.sent[len(w.sent)-1]
	if !last.t.After(base.t) {
		return nan
	}
	return float64(last.n-base.n) / last.t.Sub(base.t).Minutes()
}

func appendNum(s []float64, v float32) []float64 {
	if v != v { // NaN
		return s
	}
	return append(s, float64(v))
}

// dist sorts v in place and returns its figures; percentiles are nearest
// rank, exact for the window's samples.
func dist(v []float64) Spread {
	if len(v) == 0 {
		return Spread{nan, nan, nan, nan, nan}
	}
	slices.Sort(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return Spread{Avg: sum / float64(len(v)), P50: rank(v, 50), P95: rank(v, 95), P99: rank(v, 99), Max: v[len(v)-1]}
}

// rank returns the nearest-rank p-th percentile of sorted v.
func rank(v []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(v)))) - 1
	return v[min(max(i, 0), len(v)-1)]
}
