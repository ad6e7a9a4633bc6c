package run

import (
	"fmt"
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// aggregator owns every figure of an execution: the whole run's summary,
// each stage's and each turn's, what throttling taught, and the live
// window. One goroutine runs it, so none of it needs a lock.
type aggregator struct {
	x          *execution
	sum        *metrics.Summary
	stageSums  []*metrics.Summary // the requests scheduled in each stage
	turnSums   []*metrics.Summary // by turn
	throttling throttling
	liveBehind []string // when the live line said the run was behind

	win                            *metrics.Window
	check                          pace.Pacer // a clone of the schedule, to tell what is due
	completed, failures, throttled int64
	wasBehind                      bool
}

func newAggregator(x *execution) *aggregator {
	a := &aggregator{x: x, sum: metrics.NewSummary(x.slo)}
	if x.r.stages != nil {
		for range x.r.plan.Load.Stages {
			a.stageSums = append(a.stageSums, metrics.NewSummary(x.slo))
		}
	}
	if x.r.pacer != nil {
		a.check = x.r.pacer.Clone()
	}
	return a
}

// run folds in every finished record, feeds the sinks, and emits the
// live figures once a second, until the records end.
func (a *aggregator) run() {
	x := a.x
	a.win = metrics.NewWindow(x.r.plan.Output.Window.D(), x.start)
	// Ticks fall on whole seconds of the run.
	time.Sleep(time.Until(x.start))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case rec, ok := <-x.done:
			if !ok {
				// A last line with the final figures, so that even a run
				// shorter than a second prints one.
				a.emit(time.Now(), true)
				return
			}
			a.add(rec)
		case now := <-tick.C:
			a.emit(now, false)
		}
	}
}

// add folds one finished record in and hands it to the sinks.
func (a *aggregator) add(rec *metrics.Record) {
	x := a.x
	a.throttling.add(rec, x.start)
	if !rec.Warmup {
		a.sum.Add(rec)
		if rec.Turn > 0 && x.r.convs != nil {
			for len(a.turnSums) < rec.Turn {
				a.turnSums = append(a.turnSums, metrics.NewSummary(x.slo))
			}
			a.turnSums[rec.Turn-1].Add(rec)
		}
		if a.stageSums != nil {
			i, _ := x.r.stages.At(rec.Sched.Sub(x.start))
			a.stageSums[i].Add(rec)
		}
	}
	a.win.Add(rec)
	switch rec.Class {
	case metrics.OK:
		a.completed++
	case metrics.Throttled:
		a.throttled++
	default:
		a.failures++
	}
	for _, s := range x.sinks {
		if s.Record != nil {
			s.Record(rec)
		}
	}
}

// emit gives the sinks the live figures at now; final is the last tick,
// after every request ended.
func (a *aggregator) emit(now time.Time, final bool) {
	x, r := a.x, a.x.r
	a.win.MarkSent(now, x.sent.Load())
	elapsed := now.Sub(x.start)
	offered, stage := math.NaN(), 0
	if r.plan.Load.Rate != nil {
		offered = *r.plan.Load.Rate
	}
	if r.stages != nil {
		i, _ := r.stages.At(elapsed)
		stage = i + 1
		if r.pacer != nil {
			offered = r.stages.Rate(elapsed)
		}
	}
	_, shards := r.shardOf()
	t := sink.Tick{
		RunSeconds: int(elapsed.Round(time.Second) / time.Second), Time: now, Elapsed: elapsed,
		Planned: x.length, Window: a.win.Snapshot(now), Stage: stage, Stages: len(r.plan.Load.Stages),
		Warmup:     elapsed < x.warmup,
		Processing: x.inflight.Load(), Requests: x.sent.Load(),
		Completed: a.completed, Failures: a.failures, Throttled: a.throttled, Offered: offered / float64(shards), Final: final,
	}
	if a.check != nil {
		// Once dispatch has stopped, nothing more is due.
		at := elapsed
		if stop := time.Duration(x.stopped.Load()); stop > 0 {
			at = min(at, stop)
		}
		t.Behind = behind(a.check, at, t, x.dispatched.Load(), r.requests)
		switch {
		case t.Behind != "" && !a.wasBehind:
			x.warn(fmt.Sprintf("WARNING: the load generator is behind its schedule (%s): the figures are not valid for %.4g RPM", t.Behind, t.Offered))
			a.liveBehind = append(a.liveBehind, fmt.Sprintf("at %d s (%s)", t.RunSeconds, t.Behind))
		case t.Behind == "" && a.wasBehind && !final:
			// Said as it was said: the summary weighs the whole run.
			x.warn(fmt.Sprintf("note: back on schedule at %d s", t.RunSeconds))
		}
		a.wasBehind = t.Behind != ""
	}
	for _, s := range x.sinks {
		if s.Tick != nil {
			s.Tick(t)
		}
	}
}

// behind says why, at elapsed, the run is not delivering its schedule:
// requests due more than the lag limit ago not sent (past 1% of those
// due), or the window's schedule lag p99 past it; "" when it is on time.
func behind(p pace.Pacer, elapsed time.Duration, t sink.Tick, dispatched, limit int64) string {
	most := lagLimit(t.Offered)
	due := p.Count(elapsed - most)
	if limit > 0 {
		due = min(due, limit)
	}
	if late := due - dispatched; late > 0 && float64(late) > 0.01*float64(due) {
		return fmt.Sprintf("%d of %d due requests not sent", late, due)
	}
	if lag := t.Window.Lag.P99; lag > most.Seconds() {
		return fmt.Sprintf("schedule lag p99 %.1f ms", lag*1e3)
	}
	return ""
}
