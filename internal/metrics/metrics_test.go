package metrics

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func okRecord(send, first, last, end time.Duration, out int) *Record {
	r := NewRecord(0, t0.Add(send))
	r.Send, r.First, r.Last, r.End = t0.Add(send), t0.Add(first), t0.Add(last), t0.Add(end)
	r.Class, r.ServerPrompt, r.ServerOutput = OK, 100, out
	return r
}

func TestRecordMetrics(t *testing.T) {
	t.Parallel()
	r := okRecord(0, 200*time.Millisecond, 200*time.Millisecond+49*20*time.Millisecond, 1200*time.Millisecond, 50)
	r.Sched = t0.Add(-time.Millisecond)
	if d, _ := r.TPOT(); d != 20*time.Millisecond {
		t.Errorf("TPOT %v (divides by N-1)", d)
	}
	if v, _ := r.TokensPerSec(); math.Abs(v-50) > 1e-9 {
		t.Errorf("tokens/s %v", v)
	}
	if d, _ := r.TTFTSched(); d != 201*time.Millisecond {
		t.Errorf("TTFT from schedule %v", d)
	}
	one := okRecord(0, time.Second, time.Second, time.Second, 1)
	if _, ok := one.TPOT(); ok {
		t.Error("TPOT of a one-token answer")
	}
	// Server count preferred; the client's when the server gives none.
	r.ServerOutput, r.ClientOutput = -1, 48
	if r.OutputTokens() != 48 {
		t.Error("client count not used")
	}
}

func TestWindowFractionAndCompletionKey(t *testing.T) {
	t.Parallel()
	w := NewWindow(time.Minute, t0)
	// Sent at 0 s, completes at 2.5 s: counted by completion time.
	w.Add(okRecord(0, time.Second, 2*time.Second, 2500*time.Millisecond, 10))
	st := w.Snapshot(t0.Add(2500 * time.Millisecond))
	// Before a full window, the window is the elapsed 2.5 s, not 2 or 3.
	if st.Span != 2.5 || st.OK != 1 || math.Abs(st.RPM-24) > 1e-9 || math.Abs(st.TPMGen-240) > 1e-9 {
		t.Fatalf("window %+v", st)
	}
	// After 62.6 s the completion at 2.5 s has left the 60 s window.
	st = w.Snapshot(t0.Add(62600 * time.Millisecond))
	if st.Span != 60 || st.OK != 0 || !math.IsNaN(st.E2E.Avg) {
		t.Fatalf("window after a minute %+v", st)
	}
}

func TestWindowPercentiles(t *testing.T) {
	t.Parallel()
	w := NewWindow(time.Minute, t0)
	for i := 1; i <= 100; i++ {
		r := okRecord(0, time.Duration(i)*time.Millisecond, 2*time.Second, 3*time.Second, 10)
		w.Add(r)
	}
	thr := NewRecord(1, t0)
	thr.Send, thr.End, thr.Class = t0, t0.Add(time.Second), Throttled
	w.Add(thr)
	st := w.Snapshot(t0.Add(10 * time.Second))
	// The window keeps float32 seconds: sub-microsecond error.
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-7 }
	if !near(st.TTFT.P50, 0.05) || !near(st.TTFT.P95, 0.095) || !near(st.TTFT.P99, 0.099) || !near(st.TTFT.Avg, 0.0505) || st.Throttled != 1 {
		t.Fatalf("TTFT %+v throttled %d", st.TTFT, st.Throttled)
	}
}

func TestWindowMemoryFlat(t *testing.T) {
	t.Parallel()
	w := NewWindow(time.Second, t0)
	for i := range 100000 {
		at := time.Duration(i) * time.Millisecond
		w.Add(okRecord(at, at, at, at, 1))
		if i%1000 == 0 {
			w.Snapshot(t0.Add(at))
		}
	}
	if len(w.q) > 5000 {
		t.Fatalf("window keeps %d entries for a 1 s window at 1000/s", len(w.q))
	}
}

func TestSummaryCounts(t *testing.T) {
	t.Parallel()
	s := NewSummary(SLO{})
	s.Add(okRecord(0, time.Second, 2*time.Second, 3*time.Second, 11))
	f := NewRecord(1, t0)
	f.Send, f.End, f.Class = t0.Add(time.Second), t0.Add(4*time.Second), Timeout
	s.Add(f)
	if s.Total() != 2 || s.Failures() != 1 || s.Wall() != 4*time.Second || s.Hist("failed").Count() != 1 {
		t.Fatalf("total %d failures %d wall %v", s.Total(), s.Failures(), s.Wall())
	}
	// A failed request keeps its real time to failure (3 s), never 0.
	if p := s.Hist("failed").Quantile(50); math.Abs(p-3) > 0.01 {
		t.Errorf("time to failure %v", p)
	}
	res := s.Results(Info{Start: t0, Window: time.Minute, Sent: 2})
	if !math.IsNaN(res.RPM.Goodput.F()) {
		t.Error("goodput without an SLO")
	}
	m := okRecord(0, time.Second, 2*time.Second, 3*time.Second, 11)
	m.ClientOutput = 12
	s.Add(m)
	if s.Compared != 1 || s.Mismatched != 1 {
		t.Errorf("mismatch %d/%d", s.Mismatched, s.Compared)
	}
	// Answers that broke a rule without failing are counted, the first
	// rule kept.
	for _, w := range []string{"usage prompt_tokens is not a number: ignored", "", "choice 0's finish_reason came twice (stop, then stop)"} {
		r := okRecord(0, time.Second, 2*time.Second, 3*time.Second, 11)
		r.Warn = w
		s.Add(r)
	}
	if q := s.Results(Info{Start: t0, Window: time.Minute, Sent: 6}).Requests; q.Warned != 2 || !strings.HasPrefix(q.FirstWarning, "usage prompt_tokens") {
		t.Errorf("warned %d, first %q", q.Warned, q.FirstWarning)
	}
}

func TestHistStats(t *testing.T) {
	t.Parallel()
	h := NewDurations()
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Millisecond)
	}
	st := h.Stats()
	if st.Count != 1000 || math.Abs(st.P50.F()-0.5) > 0.001 || math.Abs(st.P99.F()-0.99) > 0.001 || math.Abs(st.Max.F()-1) > 0.001 {
		t.Fatalf("stats %+v", st)
	}
	if c := h.CDF(50); len(c) != 50 || c[len(c)-1].P != 1 {
		t.Fatalf("cdf %d points, last %v", len(c), c[len(c)-1])
	}
	if !math.IsNaN(NewDurations().Stats().P50.F()) {
		t.Error("empty histogram percentile not NaN")
	}
}

// TestServedBounded: a server that names a new deployment in every
// answer's x-ms-deployment-name costs the summary maxServed deployments'
// figures, not two histograms a request (2,000 requests took 750 MB);
// the others are counted together.
func TestServedBounded(t *testing.T) {
	t.Parallel()
	s := NewSummary(SLO{})
	for i := range 2000 {
		r := okRecord(0, time.Second, 2*time.Second, 2*time.Second, 10)
		r.Deployment = "dep-" + strconv.Itoa(i)
		s.Add(r)
	}
	if len(s.Served) > 9 {
		t.Fatalf("%d deployments kept", len(s.Served))
	}
	res := s.Results(Info{Start: t0, Window: time.Minute})
	total := int64(0)
	for _, sv := range res.Deployments {
		total += sv.Requests
	}
	if o := res.Deployments["(others)"]; o == nil || o.Requests != 2000-8 || total != 2000 {
		t.Errorf("others %+v, %d requests in all", o, total)
	}
}
