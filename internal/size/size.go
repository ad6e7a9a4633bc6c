// Package size answers how many provisioned throughput units (PTUs) a
// workload needs: it reads recorded traffic (aoaibench runs, traces,
// usage CSVs exported from production), applies Azure's published sizing
// formula, replays the arrivals through the leaky bucket the simulator
// uses (package ptu), in virtual time, for deployable PTU counts until it
// finds the least that throttles no more than asked, and prices the
// answer against pay-as-you-go and a mix with spillover when given
// prices. The answer is a Result, written as size.json.
package size

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// Options are what to size.
type Options struct {
	// Inputs are run directories, traces and usage CSVs.
	Inputs []string
	// Model is the model (or Azure model-version name) to size for.
	Model string
	// Table holds the models' figures (nil: the published table).
	Table *ptu.Table
	Type  ptu.Type
	// MaxThrottled is the share of requests that may be refused (0..1).
	MaxThrottled float64
	// Spillover reports what a standard deployment would take.
	Spillover bool
	// Warm replays the input once before the counted replay, so that the
	// bucket starts as the input leaves it (traffic that repeats as
	// recorded), not empty.
	Warm bool
	// Prices, as the user gives them; nil: not given.
	Prices Prices
}

// Prices are the prices a cost is figured from: none is built in, for
// they differ by region, agreement and month.
type Prices struct {
	// PTUHourly is the price of one PTU an hour.
	PTUHourly *float64 `json:"ptu_hourly,omitempty"`
	// Input, Cached and Output are pay-as-you-go prices per million
	// tokens.
	Input  *float64 `json:"input_per_million,omitempty"`
	Cached *float64 `json:"cached_per_million,omitempty"`
	Output *float64 `json:"output_per_million,omitempty"`
}

// Result is the answer, as size.json holds it.
type Result struct {
	Kind           string  `json:"kind"` // "size"
	Model          Figures `json:"model"`
	DeploymentType string  `json:"deployment_type"`
	MaxThrottled   float64 `json:"max_throttled"`
	Spillover      bool    `json:"spillover"`
	Warm           bool    `json:"warm"`
	Inputs         []Input `json:"inputs"`
	Requests       int     `json:"requests"`
	// SpanSeconds is the time the input covers: from its first arrival
	// to its last, plus one mean gap (a minute at least).
	SpanSeconds float64  `json:"span_seconds"`
	Formula     Formula  `json:"formula"`
	Replay      Replay   `json:"replay"`
	Latency     Latency  `json:"latency"`
	Cost        *Cost    `json:"cost,omitempty"`
	Bound       Bound    `json:"bound"`
	Notes       []string `json:"notes"`
}

// Figures are the model's figures the answer is made with, and where
// they come from.
type Figures struct {
	// Asked is the name given with --model.
	Asked string `json:"asked"`
	ptu.Model
	// Min and Increment are the deployable counts of the deployment type.
	Min       int    `json:"min"`
	Increment int    `json:"increment"`
	Table     string `json:"table"`
	Source    string `json:"source"`
}

// Errors of the options, before anything is read.
var (
	errNoInput = errors.New("give at least one INPUT: a run directory, a trace or a usage CSV")
)

// Size answers opts.
func Size(opts Options) (*Result, error) {
	table := opts.Table
	if table == nil {
		table = ptu.Default()
	}
	m, ok := table.Lookup(opts.Model)
	if !ok {
		hint := "; give newer figures with --ptu-table FILE"
		if opts.Table != nil {
			hint = ""
		}
		return nil, bad("--model: no provisioned figures for %q in %s (it has %s)%s", opts.Model, table.File, table.Names(), hint)
	}
	if _, err := ptu.ParseType(string(opts.Type)); err != nil {
		return nil, bad("--deployment-type: %v", err)
	}
	if !(opts.MaxThrottled >= 0 && opts.MaxThrottled <= 1) {
		return nil, bad("--max-throttled must be a share from 0 to 1, got %g", opts.MaxThrottled)
	}
	if len(opts.Inputs) == 0 {
		return nil, &BadInput{errNoInput}
	}
	if err := checkPrices(opts.Prices); err != nil {
		return nil, err
	}
	least, inc := m.Counts(opts.Type)
	res := &Result{Kind: "size", DeploymentType: string(opts.Type), MaxThrottled: opts.MaxThrottled, Spillover: opts.Spillover, Warm: opts.Warm,
		Model: Figures{Asked: opts.Model, Model: m, Min: least, Increment: inc, Table: table.File, Source: table.Source()},
		Notes: []string{}}
	var reqs []Request
	for _, p := range opts.Inputs {
		var in Input
		var err error
		if reqs, in, err = read(p, reqs, &res.Notes); err != nil {
			return nil, err
		}
		res.Inputs = append(res.Inputs, in)
	}
	if len(opts.Inputs) > 1 {
		res.Notes = append(res.Notes, "the inputs are overlaid, each from its own first request: traffic that reaches one deployment together")
	}
	sortByTime(reqs)
	res.Requests = len(reqs)
	res.SpanSeconds = span(reqs).Seconds()
	res.Formula = formula(reqs, m, opts.Type)
	var warm time.Duration
	if opts.Warm {
		warm = span(reqs)
	} else if span(reqs) < 10*time.Minute {
		res.Notes = append(res.Notes, "the replay starts with an empty bucket, which absorbs up to a minute's capacity before it refuses: for traffic that runs on, --warm replays the input until the bucket settles before it counts")
	}
	s := newSearch(reqs, m, opts.Type, opts.MaxThrottled, warm)
	res.Replay = s.answer(res.Formula.PTU)
	res.Latency = latency(reqs, m)
	if c := cost(s, res, opts.Prices, opts.Spillover); c != nil {
		res.Cost = c
	}
	res.Replay.Steps = s.steps(opts.Spillover)
	res.Bound = bound(s, res)
	return res, nil
}

// span is the time the requests cover: first to last arrival and one mean
// gap, so that n requests a gap apart span n gaps; a minute at least.
func span(reqs []Request) time.Duration {
	n := len(reqs)
	if n < 2 {
		return time.Minute
	}
	d := float64(reqs[n-1].At-reqs[0].At) * float64(n) / float64(n-1)
	return max(time.Duration(d), time.Minute)
}

// round keeps a figure's meaningful digits for size.json.
func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// at says an offset into the input, for a sentence: 1h02m03s.
func at(ns int64) string {
	d := time.Duration(ns).Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}
