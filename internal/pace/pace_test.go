package pace

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestConstant(t *testing.T) {
	t.Parallel()
	c, err := NewConstant(120)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int64
		want time.Duration
	}{{0, 0}, {1, 500 * time.Millisecond}, {7, 3500 * time.Millisecond}, {1_000_000, 500_000 * time.Second}} {
		if d, ok := c.Due(tc.n); !ok || d != tc.want {
			t.Errorf("Due(%d) = %v, %v; want %v", tc.n, d, ok, tc.want)
		}
	}
	// Fractional: one every 2 minutes; 1/3 RPM rounds, never drifts.
	c, _ = NewConstant(0.5)
	if d, _ := c.Due(3); d != 6*time.Minute {
		t.Errorf("0.5 RPM: request 3 at %v", d)
	}
	c, _ = NewConstant(1.0 / 3)
	if d, _ := c.Due(1_000_000); d != 1_000_000*180*time.Second {
		t.Errorf("1/3 RPM: %v", d)
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := NewConstant(bad); err == nil {
			t.Errorf("NewConstant(%v): want error", bad)
		}
	}
}

// TestOverflow: a tiny rate sends its first request at once and then has
// no more, instead of overflowing into negative offsets (which sent
// thousands of requests at once).
func TestOverflow(t *testing.T) {
	t.Parallel()
	for _, rpm := range []float64{1e-300, 1e-12, 5e-324} {
		c, err := NewConstant(rpm)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := c.Due(0); !ok || d != 0 {
			t.Errorf("%g RPM: first request at %v %v", rpm, d, ok)
		}
		if d, ok := c.Due(1); ok {
			t.Errorf("%g RPM: second request at %v", rpm, d)
		}
		if n := c.Count(time.Hour); n != 1 {
			t.Errorf("%g RPM: %d due in an hour", rpm, n)
		}
		if w, stop := Pace(c, time.Second, 1); !stop {
			t.Errorf("%g RPM: Pace says wait %v", rpm, w)
		}
		p, _ := NewPoisson(rpm, 1)
		if _, ok := p.Due(5); ok {
			t.Errorf("Poisson %g RPM: request 5 is due", rpm)
		}
	}
	c, _ := NewConstant(1e300) // all due at 0: every request at once, no overflow
	if d, ok := c.Due(math.MaxInt64); !ok || d < 0 {
		t.Errorf("huge rate: %v %v", d, ok)
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	c, _ := NewConstant(6000) // every 10 ms
	for _, tc := range []struct {
		t    time.Duration
		want int64
	}{{0, 0}, {1, 1}, {10 * time.Millisecond, 1}, {10*time.Millisecond + 1, 2}, {10 * time.Second, 1000}} {
		if n := c.Count(tc.t); n != tc.want {
			t.Errorf("Count(%v) = %d, want %d", tc.t, n, tc.want)
		}
	}
	p, _ := NewPoisson(600, 7)
	q := p.Clone()
	for n := int64(0); n < 500; n++ {
		d, _ := p.Due(n)
		if got := q.Count(d); got != n {
			t.Fatalf("Count(Due(%d)) = %d", n, got)
		}
	}
}

func TestPoisson(t *testing.T) {
	t.Parallel()
	p, _ := NewPoisson(600, 3)
	q, _ := NewPoisson(600, 3)
	var last time.Duration
	for n := int64(0); n < 6000; n++ {
		d, ok := p.Due(n)
		if !ok || d < last {
			t.Fatalf("Due(%d) = %v after %v", n, d, last)
		}
		last = d
		if e, _ := q.Due(n); e != d {
			t.Fatal("same seed, different schedule")
		}
	}
	// 6,000 at 600 RPM take about 10 minutes.
	if last < 9*time.Minute || last > 11*time.Minute {
		t.Errorf("6000 requests by %v", last)
	}
	// Asking again from the start replays the same sequence.
	if d, _ := p.Due(10); func() time.Duration { d2, _ := q.Clone().Due(10); return d2 }() != d {
		t.Error("rewind differs")
	}
	if d, _ := p.Due(0); d != 0 {
		t.Errorf("first request at %v", d)
	}
}

// TestStagesDispatchTheIntegral: the requests due in any span of a ramp
// are the integral of its rate over that span (to the request), and the
// whole schedule sends exactly its integral.
func TestStagesDispatchTheIntegral(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		start  float64
		stages []Stage
		total  int64
	}{
		// 30 s from 0 to 60 RPM (15), 2 min to 600 (660), 1 min at 600 (600).
		{0, []Stage{{30 * time.Second, 60}, {2 * time.Minute, 600}, {time.Minute, 600}}, 15 + 660 + 600},
		// Down: 1 min from 6,000 to 0 RPM: 3,000.
		{6000, []Stage{{time.Minute, 0}}, 3000},
		// Hold, ramp, hold.
		{120, []Stage{{10 * time.Second, 120}, {20 * time.Second, 240}, {10 * time.Second, 240}}, 20 + 60 + 40},
	} {
		s, err := NewStages(tc.start, tc.stages)
		if err != nil {
			t.Fatal(err)
		}
		end := s.Total()
		if got := s.Count(end); got != tc.total {
			t.Errorf("%v: %d requests over the stages, want the integral %d", tc.stages, got, tc.total)
		}
		var last time.Duration
		for n := int64(0); n < tc.total; n++ {
			d, ok := s.Due(n)
			if !ok || d < last || d > end {
				t.Fatalf("%v: request %d due at %v (%v) after %v", tc.stages, n, d, ok, last)
			}
			last = d
		}
		// Every whole second: the requests due before it are the
		// integral, rounded up (request 0 is due at 0).
		for sec := time.Second; sec <= end; sec += time.Second {
			want := int64(math.Ceil(s.Integral(sec) - 1e-9))
			if got := s.Count(sec); got != want {
				t.Errorf("%v at %v: %d due, integral %v", tc.stages, sec, got, s.Integral(sec))
			}
		}
	}
}

func TestStagesRate(t *testing.T) {
	t.Parallel()
	s, _ := NewStages(0, []Stage{{time.Minute, 600}, {time.Minute, 600}, {30 * time.Second, 0}})
	for _, tc := range []struct {
		at   time.Duration
		rate float64
		i    int
	}{{0, 0, 0}, {30 * time.Second, 300, 0}, {time.Minute, 600, 1}, {90 * time.Second, 600, 1}, {135 * time.Second, 300, 2}, {3 * time.Minute, 0, 2}} {
		if r := s.Rate(tc.at); math.Abs(r-tc.rate) > 1e-9 {
			t.Errorf("rate at %v = %v, want %v", tc.at, r, tc.rate)
		}
		if i, _ := s.At(tc.at); i != tc.i {
			t.Errorf("stage at %v = %d, want %d", tc.at, i, tc.i)
		}
	}
	for _, bad := range [][]Stage{nil, {{0, 10}}, {{time.Second, -1}}, {{time.Second, math.NaN()}}, {{time.Second, math.Inf(1)}}} {
		if _, err := NewStages(0, bad); err == nil {
			t.Errorf("NewStages(%v): want error", bad)
		}
	}
}

func TestOffsets(t *testing.T) {
	t.Parallel()
	o, err := NewOffsets([]time.Duration{0, 0, time.Second, 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range []time.Duration{0, 0, time.Second, 3 * time.Second} {
		if d, ok := o.Due(int64(n)); !ok || d != want {
			t.Errorf("Due(%d) = %v, %v; want %v", n, d, ok, want)
		}
	}
	if _, ok := o.Due(4); ok {
		t.Error("Due(4) past the end")
	}
	for at, want := range map[time.Duration]int64{0: 0, 1: 2, time.Second: 2, time.Second + 1: 3, time.Hour: 4} {
		if got := o.Count(at); got != want {
			t.Errorf("Count(%v) = %d, want %d", at, got, want)
		}
	}
	if _, err := NewOffsets([]time.Duration{time.Second, 0}); err == nil {
		t.Error("decreasing offsets accepted")
	}
}

func TestThink(t *testing.T) {
	t.Parallel()
	parse := func(s string) (time.Duration, error) { return time.ParseDuration(s) }
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		in     string
		lo, hi time.Duration
		bad    bool
	}{
		{"", 0, 0, false}, {"2s", 2 * time.Second, 2 * time.Second, false},
		{"1s-3s", time.Second, 3 * time.Second, false}, {"exp:1s", 0, MaxThink, false},
		{"3s-1s", 0, 0, true}, {"-1s", 0, 0, true}, {"exp:x", 0, 0, true}, {"48h", 0, 0, true},
	} {
		th, err := ParseThink(tc.in, parse)
		if (err != nil) != tc.bad {
			t.Errorf("ParseThink(%q): err %v", tc.in, err)
			continue
		}
		if tc.bad {
			continue
		}
		var sum time.Duration
		for range 1000 {
			d := th.Sample(r)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("%q: sample %v outside [%v, %v]", tc.in, d, tc.lo, tc.hi)
			}
			sum += d
		}
		if tc.in == "exp:1s" {
			if mean := sum / 1000; mean < 900*time.Millisecond || mean > 1100*time.Millisecond {
				t.Errorf("exp:1s mean %v", mean)
			}
		}
	}
}

// TestShardsUnion: n shards of a schedule send, together, exactly its
// requests at exactly its offsets, for constant, Poisson and staged
// schedules; each shard's Count agrees with its Due.
func TestShardsUnion(t *testing.T) {
	t.Parallel()
	c, _ := NewConstant(24000)
	p, _ := NewPoisson(24000, 7)
	s, _ := NewStages(0, []Stage{{30 * time.Second, 6000}, {30 * time.Second, 6000}})
	for name, sched := range map[string]Pacer{"constant": c, "poisson": p, "stages": s} {
		const n, total = 4, 5000
		var union []time.Duration
		for i := range n {
			sh := NewShard(sched.Clone(), i, n)
			for k := int64(0); ; k++ {
				d, ok := sh.Due(k)
				if !ok || sh.Global(k) >= total {
					break
				}
				union = append(union, d)
				if got := sh.Count(d); got != k && (k == 0 || mustDue(t, sh, k-1) != d) {
					t.Fatalf("%s shard %d: Count(Due(%d)) = %d", name, i, k, got)
				}
			}
		}
		slices.Sort(union)
		one := sched.Clone()
		want := 0
		for ; want < total; want++ {
			if _, ok := one.Due(int64(want)); !ok {
				break
			}
		}
		if len(union) != want {
			t.Fatalf("%s: %d requests in the union, want %d", name, len(union), want)
		}
		for k, d := range union {
			if want := mustDue(t, one, int64(k)); d != want {
				t.Fatalf("%s: request %d of the union at %v, the single schedule's at %v", name, k, d, want)
			}
		}
	}
	for _, c := range []struct{ total, want0, want3 int64 }{{10, 3, 2}, {3, 1, 0}, {8, 2, 2}} {
		if a, b := Split(c.total, 0, 4), Split(c.total, 3, 4); a != c.want0 || b != c.want3 {
			t.Errorf("Split(%d): %d and %d, want %d and %d", c.total, a, b, c.want0, c.want3)
		}
	}
}

func mustDue(t *testing.T, p Pacer, n int64) time.Duration {
	t.Helper()
	d, ok := p.Due(n)
	if !ok {
		t.Fatalf("request %d not due", n)
	}
	return d
}
