// Package capacity finds how much a deployment holds: a sweep runs one
// open-loop step per rate, and a search brackets and bisects the highest
// rate whose step meets the objectives. It knows nothing of HTTP: a step
// is a function the caller gives (a run of a plan at that rate), so the
// method is tested against a model of a deployment.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// StepFunc runs one step at rate (requests per minute, or clients for a
// closed-loop sweep); i counts the steps from 1. It returns the step's
// results and where they were written ("" for nowhere).
type StepFunc func(ctx context.Context, i int, rate float64) (res *metrics.Results, dir string, err error)

// Probe is one step's outcome.
type Probe struct {
	Rate    float64          `json:"rate"`
	Passed  bool             `json:"passed"`
	Reasons []string         `json:"reasons,omitempty"` // why it failed
	Dir     string           `json:"dir,omitempty"`
	Results *metrics.Results `json:"results"`
}

// Judge says whether a step's results meet the objectives, and if not why.
// A step whose load generator fell behind fails: it did not test its rate.
func Judge(res *metrics.Results, objectives []plan.Threshold) (bool, []string) {
	var why []string
	if !res.Valid {
		for _, r := range res.Invalid {
			why = append(why, "not a test of its rate: "+r)
		}
	}
	for _, th := range objectives {
		c := th.Check(res)
		res.SLO = append(res.SLO, c)
		if !c.Passed {
			why = append(why, fmt.Sprintf("%s: %s", c.Objective, metrics.Format(c.Figure, c.Value.F())))
		}
	}
	return len(why) == 0, why
}

// strip drops what a probe's entry in sweep.json or search.json does not
// need: each step's own summary.json keeps it all.
func strip(res *metrics.Results) *metrics.Results {
	if res == nil {
		return nil
	}
	r := *res
	r.Latency = map[string]metrics.Dist{}
	for k, d := range res.Latency {
		d.CDF = nil
		r.Latency[k] = d
	}
	r.TokensPerS.CDF = nil
	r.Stages = nil
	return &r
}

// Sweep runs a step at each rate, in order, judging each against the
// objectives (none: every step passes). A step that errs stops the sweep.
func Sweep(ctx context.Context, rates []float64, objectives []plan.Threshold, step StepFunc) ([]Probe, error) {
	var out []Probe
	for i, r := range rates {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		res, dir, err := step(ctx, i+1, r)
		if err != nil {
			return out, err
		}
		ok, why := Judge(res, objectives)
		out = append(out, Probe{Rate: r, Passed: ok, Reasons: why, Dir: dir, Results: strip(res)})
	}
	return out, nil
}

// Search configures a capacity search.
type Search struct {
	Min, Max  float64 // the range searched, requests per minute
	Start     float64 // the first probe (Min when 0)
	Tolerance float64 // stop when the bracket is this narrow, relative (0.05)
	MaxProbes int     // stop after this many probes (0: 20)
}

// Found is a search's outcome.
type Found struct {
	// MaxRate is the highest rate that passed (NaN: none did).
	MaxRate float64 `json:"max_rate"`
	// Pass and Fail are the bracket: the highest passing and the lowest
	// failing rate (NaN when the search never saw one).
	Pass   float64 `json:"bracket_pass"`
	Fail   float64 `json:"bracket_fail"`
	Probes []Probe `json:"probes"`
	// Why the search stopped: "bracket" (within the tolerance), "max"
	// (the highest rate passed), "min" (the lowest failed), "probes".
	Stopped string `json:"stopped"`
}

// ErrNoRate is returned when not even the lowest rate passed.
var ErrNoRate = errors.New("no rate passed")

// Run finds the highest rate in [Min, Max] whose step meets the
// objectives. It brackets by doubling from Start until a rate fails (or
// halving until one passes), then bisects until the bracket is within the
// tolerance. Doubling then bisection needs no model of the deployment and
// takes log2(range) + log2(1/tolerance) probes, each a full step of real
// traffic; a fancier search (fitting a latency curve, Bayesian
// optimisation) would assume a shape that throttling, a step function,
// does not have, and a wrong guess costs more steps than it saves.
func (s Search) Run(ctx context.Context, objectives []plan.Threshold, step StepFunc) (*Found, error) {
	if !(s.Min > 0) || !(s.Max >= s.Min) || math.IsInf(s.Max, 0) {
		return nil, fmt.Errorf("want 0 < min <= max, got %g and %g", s.Min, s.Max)
	}
	if s.Tolerance <= 0 {
		s.Tolerance = 0.05
	}
	if s.MaxProbes <= 0 {
		s.MaxProbes = 20
	}
	r := s.Start
	if r <= 0 {
		r = s.Min
	}
	r = math.Min(math.Max(r, s.Min), s.Max)
	f := &Found{MaxRate: math.NaN(), Pass: math.NaN(), Fail: math.NaN()}
	probe := func(rate float64) (bool, error) {
		res, dir, err := step(ctx, len(f.Probes)+1, rate)
		if err != nil {
			return false, err
		}
		ok, why := Judge(res, objectives)
		f.Probes = append(f.Probes, Probe{Rate: rate, Passed: ok, Reasons: why, Dir: dir, Results: strip(res)})
		if ok && !(rate <= f.Pass) {
			f.Pass = rate
		}
		if !ok && !(rate >= f.Fail) {
			f.Fail = rate
		}
		return ok, nil
	}
	// Bracket.
	for {
		if len(f.Probes) >= s.MaxProbes {
			f.Stopped = "probes"
			return f.done()
		}
		ok, err := probe(r)
		if err != nil {
			return f, err
		}
		switch {
		case ok && r >= s.Max:
			f.Stopped = "max"
			return f.done()
		case ok && !math.IsNaN(f.Fail):
			goto bisect
		case ok:
			r = math.Min(2*r, s.Max)
		case !ok && r <= s.Min:
			f.Stopped = "min"
			return f.done()
		case !ok && !math.IsNaN(f.Pass):
			goto bisect
		default:
			r = math.Max(r/2, s.Min)
		}
	}
bisect:
	for (f.Fail-f.Pass)/f.Pass > s.Tolerance {
		if len(f.Probes) >= s.MaxProbes {
			f.Stopped = "probes"
			return f.done()
		}
		if _, err := probe((f.Pass + f.Fail) / 2); err != nil {
			return f, err
		}
	}
	f.Stopped = "bracket"
	return f.done()
}

func (f *Found) done() (*Found, error) {
	f.MaxRate = f.Pass
	if math.IsNaN(f.Pass) {
		return f, ErrNoRate
	}
	return f, nil
}

// ParseRates reads --rates: a list (10,20,40,80) or a range FROM:TO:STEP
// (10:200:10), of positive numbers.
func ParseRates(flag, s string) ([]float64, error) {
	s = strings.TrimSpace(s)
	if parts := strings.Split(s, ":"); len(parts) == 3 && !strings.Contains(s, ",") {
		var v [3]float64
		for i, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || !(f > 0) || math.IsInf(f, 0) {
				return nil, plan.Errorf("%s: %q in %q is not a positive number (want FROM:TO:STEP, e.g. 10:200:10)", flag, p, s)
			}
			v[i] = f
		}
		if v[1] < v[0] {
			return nil, plan.Errorf("%s: %q goes down: want FROM <= TO", flag, s)
		}
		n := math.Floor((v[1]-v[0])/v[2]+1e-9) + 1
		if n > 1000 {
			return nil, plan.Errorf("%s: %q makes %.0f steps, more than 1000", flag, s, n)
		}
		var out []float64
		for i := 0; i < int(n); i++ {
			out = append(out, v[0]+float64(i)*v[2])
		}
		return out, nil
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0) || f > plan.MaxRate {
			return nil, plan.Errorf("%s: %q is not a positive rate (want e.g. 10,20,40 or 10:200:10)", flag, p)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, plan.Errorf("%s: no rate in %q", flag, s)
	}
	return out, nil
}
