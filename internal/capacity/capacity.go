// Package capacity finds how much a deployment holds: a sweep runs one
// open-loop step per rate, and a search brackets and bisects the highest
// rate whose step meets the objectives. It knows nothing of HTTP: a step
// is a function the caller gives (a run of a plan at that rate), so the
// method is tested against a model of a deployment.
package capacity

import (
	"cmp"
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
	Rate float64 `json:"rate"`
	// Judged says the step was held to objectives; Passed whether it met
	// them. A step that was not judged has not passed.
	Judged  bool     `json:"judged"`
	Passed  bool     `json:"passed"`
	Reasons []string `json:"reasons,omitempty"` // why it failed
	// FailedBy is what failed it first: "load generator" (it did not
	// send its rate), "quota" (over the quota, or throttled past an
	// objective), or "objectives".
	FailedBy string           `json:"failed_by,omitempty"`
	Dir      string           `json:"dir,omitempty"`
	Results  *metrics.Results `json:"results"`
}

// What fails a step, in Probe.FailedBy.
const (
	ByGenerator  = "load generator"
	ByQuota      = "quota"
	ByObjectives = "objectives"
)

// Judge says whether a step's results meet the objectives, and if not why
// and what failed it. A step whose load generator fell behind fails: it
// did not test its rate. So does one whose rates are over the quota: a
// step shorter than the quota's minute can hold a rate no whole minute
// allows, which is never the deployment's capacity.
func Judge(res *metrics.Results, objectives []plan.Threshold) (bool, []string, string) {
	var why []string
	by := ""
	if !res.Valid {
		for _, r := range res.Invalid {
			why = append(why, "not a test of its rate: "+r)
		}
		by = ByGenerator
	}
	if over := res.OverQuota(); len(over) > 0 {
		why = append(why, over...)
		by = cmp.Or(by, ByQuota)
	}
	for _, th := range objectives {
		c := res.Check(th)
		res.SLO = append(res.SLO, c)
		if !c.Passed {
			why = append(why, fmt.Sprintf("%s: %s", c.Objective, metrics.Format(c.Figure, c.Value.F())))
			kind := ByObjectives
			if strings.HasPrefix(c.Figure, "throttled") {
				kind = ByQuota
			}
			by = cmp.Or(by, kind)
		}
	}
	return len(why) == 0, why, by
}

// judged is the probe of a step's results.
func judged(rate float64, res *metrics.Results, dir string, objectives []plan.Threshold) Probe {
	ok, why, by := Judge(res, objectives)
	return Probe{Rate: rate, Judged: true, Passed: ok, Reasons: why, FailedBy: by, Dir: dir, Results: strip(res)}
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
// objectives (and the quota and the load generator, as a search does). A
// step that errs stops the sweep.
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
		out = append(out, judged(r, res, dir, objectives))
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
	// Bound says what bounds the answer, in one sentence for people.
	Bound string `json:"bound"`
}

// SweepFile is sweep.json: a sweep's steps, each judged.
type SweepFile struct {
	Schema     int     `json:"schema"`
	Kind       string  `json:"kind"`    // "sweep"
	Clients    bool    `json:"clients"` // steps of client counts, not rates
	Objectives string  `json:"objectives"`
	Probes     []Probe `json:"probes"`
}

// SearchFile is search.json: a search's answer, what bounds it, and its
// probes.
type SearchFile struct {
	Schema      int         `json:"schema"`
	Kind        string      `json:"kind"` // "search"
	Objectives  string      `json:"objectives"`
	Tolerance   float64     `json:"tolerance"`
	MaxRate     metrics.Num `json:"max_rate"`
	BracketPass metrics.Num `json:"bracket_pass"`
	BracketFail metrics.Num `json:"bracket_fail"`
	Stopped     string      `json:"stopped"`
	Bound       string      `json:"bound"`
	Probes      []Probe     `json:"probes"`
}

// FileVersion is the schema of sweep.json and search.json.
const FileVersion = 1

// File returns a search's search.json.
func (f *Found) File(objectives string, tolerance float64) SearchFile {
	return SearchFile{Schema: FileVersion, Kind: "search", Objectives: objectives, Tolerance: tolerance,
		MaxRate: metrics.Num(f.MaxRate), BracketPass: metrics.Num(f.Pass), BracketFail: metrics.Num(f.Fail),
		Stopped: f.Stopped, Bound: f.Bound, Probes: f.Probes}
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
		p := judged(rate, res, dir, objectives)
		ok := p.Passed
		f.Probes = append(f.Probes, p)
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

// Best is the probe at the rate found; nil when none passed.
func (f *Found) Best() *Probe {
	for i := range f.Probes {
		if f.Probes[i].Rate == f.Pass && f.Probes[i].Passed {
			return &f.Probes[i]
		}
	}
	return nil
}

// BoundedByGenerator reports whether the probe that bounds the answer
// failed because the load generator did not send its rate: the answer is
// then this machine's, not the endpoint's.
func (f *Found) BoundedByGenerator() bool {
	for _, p := range f.Probes {
		if p.Rate == f.Fail && p.FailedBy == ByGenerator {
			return true
		}
	}
	return false
}

// bound says what bounds the search's answer, in one sentence for
// people: the quota, the objectives or the load generator at the lowest
// failing rate, or the range searched, or the probes allowed.
func (f *Found) bound() string {
	switch f.Stopped {
	case "max":
		return fmt.Sprintf("bounded by --max: %g RPM, the highest searched, passed; the deployment may hold more", f.Pass)
	case "probes":
		if math.IsNaN(f.Fail) {
			return fmt.Sprintf("bounded by --max-probes: %g RPM passed, no higher rate was tried", f.Pass)
		}
	}
	for _, p := range f.Probes {
		if p.Rate != f.Fail || p.Passed || len(p.Reasons) == 0 {
			continue
		}
		s := fmt.Sprintf("bounded by the %s: at %g RPM, %s", p.FailedBy, p.Rate, p.Reasons[0])
		if p.FailedBy == ByGenerator {
			s += " (the endpoint may hold more: send from more machines, --shard)"
		}
		return s
	}
	return ""
}

func (f *Found) done() (*Found, error) {
	f.MaxRate = f.Pass
	f.Bound = f.bound()
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
