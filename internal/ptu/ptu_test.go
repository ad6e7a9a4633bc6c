package ptu

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPublishedTable(t *testing.T) {
	t.Parallel()
	tb := Default()
	// The figures the models table had wrong.
	for name, want := range map[string]float64{"gpt-4.1-mini": 14_900, "o1": 230, "gpt-4o": 2_500, "gpt-5.2": 3_400} {
		m, ok := tb.Lookup(name)
		if !ok || m.InputTPMPerPTU != want {
			t.Errorf("%s: %+v %v, want %g input TPM per PTU", name, m, ok, want)
		}
	}
	// Output ratios by family, as the issue and the source say.
	for name, want := range map[string]float64{"gpt-4o": 4, "gpt-4.1": 4, "o3": 4, "o4-mini": 4, "gpt-5": 8, "gpt-5.2": 8, "gpt-5.4": 6, "gpt-5.5": 6} {
		if m, _ := tb.Lookup(name); m.OutputRatio != want {
			t.Errorf("%s: output ratio %g, want %g", name, m.OutputRatio, want)
		}
	}
	if s := tb.Source(); !strings.HasPrefix(s, "Source: Microsoft Learn") || !strings.Contains(s, "2026-05-22") || !strings.HasSuffix(s, ".") {
		t.Errorf("source %q", s)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tb := Default()
	for name, want := range map[string]string{
		"gpt-4o": "gpt-4o", "GPT-4o-2024-08-06": "gpt-4o", "gpt-4o-mini-2024-07-18": "gpt-4o-mini",
		"gpt-4.1-nano": "gpt-4.1-nano", "gpt-4.1-2025-04-14": "gpt-4.1", "gpt-5.2-codex": "gpt-5.2-codex",
		"gpt-5.2": "gpt-5.2", "o3-2025-04-16": "o3", " o1 ": "o1", "gpt-5.4-mini": "gpt-5.4-mini",
	} {
		if m, ok := tb.Lookup(name); !ok || m.Name != want {
			t.Errorf("Lookup(%q) = %q, %v; want %s", name, m.Name, ok, want)
		}
	}
	// A name that is another model's with a word after it is not that
	// model: gpt-5-nano's figures are not gpt-5's.
	for _, name := range []string{"gpt-5-nano", "gpt-4o-audio", "o1x", "gpt-40", "", "llama-3", "gpt-35-turbo", "my-gpt-4o"} {
		if m, ok := tb.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %s, want unknown", name, m.Name)
		}
	}
}

// TestWorkedExample is the source's worked example, exact.
func TestWorkedExample(t *testing.T) {
	t.Parallel()
	m, _ := Default().Lookup("gpt-5.2")
	for _, c := range []struct {
		cache      float64
		tpm, exact float64
		dz, reg    int
	}{
		{0, 360_000, 105.88, 110, 150},
		{0.5, 260_000, 76.47, 80, 100},
	} {
		w := Workload{PeakRPM: 1000, AvgPrompt: 200, AvgOutput: 20, CacheRate: c.cache}
		dz, reg, gl := m.Formula(w, DataZone), m.Formula(w, Regional), m.Formula(w, Global)
		if dz.NormalizedTPM != c.tpm || math.Round(dz.Exact*100)/100 != c.exact || dz.PTU != c.dz || reg.PTU != c.reg || gl.PTU != c.dz {
			t.Errorf("cache %g: %+v (Data Zone), %+v (Regional); want %g TPM, %.2f, %d and %d", c.cache, dz, reg, c.tpm, c.exact, c.dz, c.reg)
		}
	}
}

func TestDeployable(t *testing.T) {
	t.Parallel()
	m, _ := Default().Lookup("gpt-4o-mini") // regional 25 in steps of 25
	for _, c := range []struct {
		t  Type
		n  int
		ok bool
	}{
		{Global, 15, true}, {Global, 20, true}, {DataZone, 1005, true}, {Global, 10, false}, {Global, 17, false}, {Global, 0, false},
		{Regional, 25, true}, {Regional, 50, true}, {Regional, 15, false}, {Regional, 30, false},
	} {
		err := m.Deployable(c.t, c.n)
		if (err == nil) != c.ok {
			t.Errorf("%s %d: %v", c.t, c.n, err)
		}
	}
	err := m.Deployable(Global, 17)
	if err == nil || err.Error() != "17 PTUs cannot be deployed as Global provisioned gpt-4o-mini: it takes at least 15, in steps of 5 (15, 20, 25, ...)" {
		t.Errorf("message: %v", err)
	}
	for _, c := range []struct {
		t     Type
		exact float64
		want  int
	}{
		{Global, 0, 15}, {Global, 14.9, 15}, {Global, 15, 15}, {Global, 15.01, 20}, {Global, 20.0000000001, 20}, {Regional, 26, 50}, {Regional, math.NaN(), 25}, {Global, math.Inf(1), 1_000_000_000_000},
	} {
		if got := m.RoundUp(c.t, c.exact); got != c.want {
			t.Errorf("RoundUp(%s, %g) = %d, want %d", c.t, c.exact, got, c.want)
		}
	}
	if _, err := ParseType("Global"); err == nil {
		t.Error("ParseType is case-sensitive, as every flag value")
	}
}

func TestUnits(t *testing.T) {
	t.Parallel()
	m, _ := Default().Lookup("gpt-5.2")
	// 1,000 prompt of which 400 cached, 100 output at 8: 600 + 800.
	if u := m.Units(1000, 400, 100); u != 1400 {
		t.Errorf("units %g", u)
	}
}

func TestBucket(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	b := NewBucket(60_000, t0) // 1,000 units a second
	if !b.Admit(t0, 30_000).OK || b.Utilization(t0) != 50 {
		t.Fatalf("utilization %v, want 50", b.Utilization(t0))
	}
	// Completion corrects the estimate to the real 20,000.
	b.Correct(t0, 30_000, 20_000)
	if u := b.Utilization(t0); u < 33.3 || u > 33.4 {
		t.Fatalf("after correction %v, want 33.3", u)
	}
	if u := b.Utilization(t0.Add(10 * time.Second)); u < 16.6 || u > 16.7 {
		t.Fatalf("after 10 s %v, want 16.7", u)
	}
	// Under 100% a request is admitted whatever its size; at 100% the
	// next is refused, with the time until the level is back under.
	now := t0.Add(10 * time.Second)
	if !b.Admit(now, 60_000).OK {
		t.Fatal("refused under 100%")
	}
	v := b.Admit(now, 1)
	// Level 70,000: 10,000 over, 10 s to drain.
	if v.OK || v.RetryAfter != 10*time.Second+time.Millisecond {
		t.Fatalf("at 117%%: %+v", v)
	}
	if !b.Admit(now.Add(v.RetryAfter), 1).OK {
		t.Fatal("refused after retry-after")
	}
	// A clock that steps back drains nothing and breaks nothing.
	if u := b.Utilization(t0); u < 99 || u > 101 {
		t.Fatalf("stepping back: %v", u)
	}
}
