// Package sink holds where a run's results go: the live line, the
// original tool's JSONL log, requests.jsonl, run.json, summary.json and
// the histograms, the summary table. A run feeds every sink from one
// goroutine, so a sink needs no lock; adding one touches no engine code.
// The model is vegeta's encoders and reporters: small function types over
// the result stream.
package sink

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// Start is what a run tells its sinks before its first request.
type Start struct {
	T0        time.Time
	Plan      *plan.Plan
	Target    string // what is tested, for people
	Tokenizer string
}

// Tick is a run's live state, once a second and once more at the end.
type Tick struct {
	RunSeconds int
	Time       time.Time
	Elapsed    time.Duration
	Planned    time.Duration // the run's duration, 0 if it has none
	Window     metrics.WindowStats
	Processing int64 // in flight
	Requests   int64 // sent
	Completed  int64 // succeeded
	Failures   int64 // failed, other than throttled
	Throttled  int64
	Offered    float64 // requests per minute now; NaN for a closed loop
	// Stage is the stage running (from 1) of Stages; 0 without stages.
	Stage, Stages int
	// Warmup says the run is in its warmup: not yet counted.
	Warmup bool
	// Behind says why the load generator is not delivering the offered
	// rate right now ("" when it is): the figures are then not valid for
	// that rate.
	Behind string
	Final  bool // the last tick, after the run
}

// End is a run's outcome.
type End struct {
	Results *metrics.Results
	Summary *metrics.Summary
}

// Sink receives a run's events. Every field is optional. Start is called
// before the first request: an error stops the run before anything is
// sent. Record and Tick are called from one goroutine, in order. End is
// called once, last.
type Sink struct {
	Start  func(Start) error
	Record func(*metrics.Record)
	Tick   func(Tick)
	End    func(End) error
}
