package capacity

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// deployment models a deployment that holds capacity RPM: past it, a
// tenth of the requests are throttled.
func deployment(capacity float64) StepFunc {
	return func(_ context.Context, i int, rate float64) (*metrics.Results, string, error) {
		r := &metrics.Results{Valid: true, Requests: metrics.Requests{Sent: 1000, OK: 1000}}
		if rate > capacity {
			r.Requests.Throttled, r.Requests.OK = 100, 900
		}
		return r, "", nil
	}
}

func objectives(t *testing.T) []plan.Threshold {
	th, err := metrics.ParseThresholds("--slo", "throttled<=1%")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestSearchFindsCapacity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		capacity, min, max float64
		probes             int
	}{
		{60, 10, 10000, 8},   // 10 20 40 80 | 60 70 65 62.5
		{600, 10, 10000, 11}, // up to 640, then bisect
		{1, 10, 10000, 1},    // the least fails
		{10000, 10, 10000, 11},
		{5000, 5000, 5000, 1},
	} {
		f, err := Search{Min: c.min, Max: c.max, Tolerance: 0.05}.Run(context.Background(), objectives(t), deployment(c.capacity))
		if c.capacity < c.min {
			if !errors.Is(err, ErrNoRate) || f.Stopped != "min" || !math.IsNaN(f.MaxRate) {
				t.Errorf("capacity %g: %v %+v", c.capacity, err, f)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.MaxRate > c.capacity || f.MaxRate < c.capacity*0.95 {
			t.Errorf("capacity %g: found %g (bracket %g..%g, %s)", c.capacity, f.MaxRate, f.Pass, f.Fail, f.Stopped)
		}
		if len(f.Probes) > c.probes {
			t.Errorf("capacity %g: %d probes, want at most %d", c.capacity, len(f.Probes), c.probes)
		}
		for _, p := range f.Probes {
			if p.Passed != (p.Rate <= c.capacity) {
				t.Errorf("capacity %g: probe %+v", c.capacity, p)
			}
		}
	}
}

// TestSearchInvalidStepFails: a step whose load generator fell behind did
// not test its rate: it fails, and says why.
func TestSearchInvalidStepFails(t *testing.T) {
	t.Parallel()
	behind := func(_ context.Context, i int, rate float64) (*metrics.Results, string, error) {
		r := &metrics.Results{Valid: rate <= 1000, Requests: metrics.Requests{Sent: 100, OK: 100}}
		if !r.Valid {
			r.Invalid = []string{"schedule lag p99 40 ms"}
		}
		return r, "", nil
	}
	f, err := Search{Min: 100, Max: 100000}.Run(context.Background(), objectives(t), behind)
	if err != nil || f.MaxRate < 950 || f.MaxRate > 1000 {
		t.Fatalf("%v %+v", err, f)
	}
	last := f.Probes[len(f.Probes)-1]
	for _, p := range f.Probes {
		if !p.Passed && (len(p.Reasons) == 0 || p.Reasons[0] != "not a test of its rate: schedule lag p99 40 ms") {
			t.Errorf("probe %+v", p)
		}
	}
	_ = last
	if !strings.HasPrefix(f.Bound, "bounded by the load generator: at ") || !strings.Contains(f.Bound, "the endpoint may hold more") {
		t.Errorf("bound %q", f.Bound)
	}
}

// shortSteps models 10-second steps against a 60,000 TPM standard
// deployment: requests of 1,000 quota-counted tokens are all admitted up
// to 360 RPM (the step ends before its minute fills), so their rate,
// scaled to a minute, passes the objectives; only the quota can say it
// was not held for a minute.
func shortSteps(_ context.Context, i int, rate float64) (*metrics.Results, string, error) {
	r := &metrics.Results{Valid: true, Requests: metrics.Requests{Sent: 100, OK: 100}, Quota: &metrics.Quota{TPM: 60000, RPM: 360, Source: "simulator"}}
	r.RPM.Achieved, r.TPM.Quota = metrics.Num(rate), metrics.Num(rate*1000)
	if rate > 360 {
		r.Requests.Throttled, r.Requests.OK = 50, 50
	}
	return r, "", nil
}

// TestQuotaBoundsSearch: a step over the quota fails whatever the
// objectives say, and the answer says the quota bounds it.
func TestQuotaBoundsSearch(t *testing.T) {
	t.Parallel()
	f, err := Search{Min: 60, Max: 960, Tolerance: 0.05}.Run(context.Background(), objectives(t), shortSteps)
	if err != nil || f.MaxRate != 60 || f.Fail > 63 {
		t.Fatalf("%v: max %g, bracket %g..%g", err, f.MaxRate, f.Pass, f.Fail)
	}
	if !strings.HasPrefix(f.Bound, "bounded by the quota: at ") || !strings.Contains(f.Bound, "quota-counted TPM is over the 60000 TPM quota") {
		t.Errorf("bound %q", f.Bound)
	}
	for _, p := range f.Probes {
		if p.Rate > 60 && (p.Passed || p.FailedBy != ByQuota) || !p.Judged {
			t.Errorf("probe %g: passed %v, failed by %q", p.Rate, p.Passed, p.FailedBy)
		}
	}
	// A sweep judges its steps the same way: 480 RPM is not a pass.
	probes, err := Sweep(context.Background(), []float64{60, 120, 480}, objectives(t), shortSteps)
	if err != nil || !probes[0].Passed || probes[1].Passed || probes[2].Passed || probes[2].FailedBy != ByQuota {
		t.Errorf("%v %+v", err, probes)
	}
	// The range and the probes bound an answer too.
	if f, _ := (Search{Min: 10, Max: 40}).Run(context.Background(), objectives(t), deployment(1000)); !strings.HasPrefix(f.Bound, "bounded by --max: 40 RPM") {
		t.Errorf("bound %q", f.Bound)
	}
}

func TestParseRates(t *testing.T) {
	t.Parallel()
	r, err := ParseRates("--rates", "10:50:10")
	if err != nil || len(r) != 5 || r[4] != 50 {
		t.Errorf("%v %v", r, err)
	}
	r, err = ParseRates("--rates", "10, 20,40")
	if err != nil || len(r) != 3 || r[2] != 40 {
		t.Errorf("%v %v", r, err)
	}
	for _, bad := range []string{"", "a,b", "10:5:1", "0,10", "1:1000000:1", "-5", "10:20:0"} {
		if _, err := ParseRates("--rates", bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
