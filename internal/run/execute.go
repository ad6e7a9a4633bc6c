package run

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// Outcome is what a run produced.
type Outcome struct {
	Results *metrics.Results
	Summary *metrics.Summary
	// Fatal is set when the first request showed the endpoint is wrong
	// (no answer, 401, 403, 404): the run stopped at once.
	Fatal error
	// Input is set when a row of the dataset could not be read: dispatch
	// stopped there (the results so far are kept). It is a *plan.Error.
	Input error
}

// lead is the time between deciding t=0 and t=0: the sinks write run.json
// in it, so that the first request leaves on time.
const lead = 5 * time.Millisecond

// execution is one Execute's shared state: what the dispatcher, the
// requests' goroutines and the aggregator all read. The counters are
// atomic and each channel is closed once; what one goroutine owns alone
// is in its own type (dispatcher, aggregator).
type execution struct {
	r              *Run
	slo            metrics.SLO
	start          time.Time
	length, warmup time.Duration // dispatch's length (0: until the count) and the part left out of the figures
	sinks          []sink.Sink
	done           chan *metrics.Record // finished requests, to the aggregator
	wg             sync.WaitGroup       // every request's (and session's) goroutine
	pool           *workers             // the goroutines requests run on
	sessWG         sync.WaitGroup       // the conversations
	warn           func(string)

	sent       atomic.Int64 // requests
	dispatched atomic.Int64 // schedule slots used: requests, or sessions
	sessions   atomic.Int64
	ids        atomic.Int64 // of a multi-turn run's requests
	inflight   atomic.Int64
	stopped    atomic.Int64 // when dispatch stopped, from the start; 0 while it runs
	checked    atomic.Bool  // the first request was sent
	answered   atomic.Bool  // some request got an answer: the endpoint is there
	longAnswer atomic.Bool

	halt      chan struct{} // dispatch must stop: a signal, a cut-off, a fatal answer, a bad row
	over      chan struct{} // dispatch has stopped
	fatal     chan struct{} // the first request showed the endpoint is wrong
	fatalErr  error
	fatalOnce sync.Once
	badInput  chan struct{} // a row of the input cannot be read
	inputErr  error
	inputOnce sync.Once
}

// Execute runs the plan once, feeding the sinks. Cancelling ctx stops
// dispatch and drains the requests in flight (up to the drain timeout);
// Options.Abort cuts them off. Every dispatched request is in the
// results, and the sinks get their End even when the run stops early. The
// error is a sink's (run.json, a results file).
func (r *Run) Execute(ctx context.Context, sinks ...sink.Sink) (*Outcome, error) {
	p := &r.plan
	x := &execution{r: r, sinks: sinks, done: make(chan *metrics.Record, 4096),
		slo:    metrics.SLO{TTFT: p.SLO.TTFT.D(), TPOT: p.SLO.TPOT.D(), E2E: p.SLO.E2E.D()},
		length: p.Load.Length().D(), warmup: p.Load.Warmup.D(),
		halt: make(chan struct{}), over: make(chan struct{}), fatal: make(chan struct{}), badInput: make(chan struct{}),
		warn: func(s string) { r.opts.Log(r.redact.Redact(s)) }}
	x.pool = newWorkers(&x.wg)
	d := &dispatcher{x: x, sleep: r.opts.Sleep}
	if d.sleep == nil {
		pw := newPrecise()
		defer pw.close()
		d.sleep = pw.sleep
	}
	if r.pacer != nil {
		d.pacer = r.pacer.Clone()
	}
	agg := newAggregator(x)

	var refreshes, failures int64
	if r.entra != nil {
		refreshes, failures = r.entra.Refreshes.Load(), r.entra.Failures.Load()
	}
	// Before t=0: decide it, let the sinks write run.json, start the
	// aggregator.
	var skew time.Duration
	x.start, skew = r.startTime(time.Now())
	if skew > time.Second {
		x.warn(fmt.Sprintf("warning: starting %.1f s after --start-at %s: this shard's schedule runs late against the others' (the merge will say so)", skew.Seconds(), p.Load.StartAt))
	}
	for _, s := range sinks {
		if s.Start != nil {
			if err := s.Start(sink.Start{T0: x.start, Plan: p, Target: r.target, Tokenizer: r.enc}); err != nil {
				return nil, err
			}
		}
	}
	reqCtx, cutoff := context.WithCancel(context.Background())
	defer cutoff()
	go x.watch(ctx, reqCtx, cutoff)
	ticks := make(chan struct{})
	go func() {
		agg.run()
		close(ticks)
	}()
	stopped := d.run(reqCtx)
	dispatch := time.Since(x.start)
	x.stopped.Store(int64(max(dispatch, 1)))
	close(x.over)
	x.drain(ctx, cutoff)
	x.wg.Wait()
	x.pool.close()
	close(x.done)
	<-ticks
	if x.fatalErr != nil { // read once every request has ended
		stopped = metrics.StopEndpoint
	}
	if x.inputErr != nil {
		stopped = metrics.StopInput
	}

	res := x.results(agg, d, stopped, dispatch, skew)
	if r.entra != nil {
		res.Entra = &metrics.Entra{Refreshes: r.entra.Refreshes.Load() - refreshes, Failures: r.entra.Failures.Load() - failures}
	}
	var err error
	for _, s := range sinks {
		if s.End != nil {
			if e := s.End(sink.End{Results: res, Summary: agg.sum}); e != nil && err == nil {
				err = e
			}
		}
	}
	return &Outcome{Results: res, Summary: agg.sum, Fatal: x.fatalErr, Input: x.inputErr}, err
}

// watch closes halt, which stops dispatch, at the first of: the context
// (then requests drain), a bad row, an abort or a fatal first answer
// (then they are cut off: cutoff cancels reqCtx, which outlives a
// drain).
func (x *execution) watch(ctx, reqCtx context.Context, cutoff context.CancelFunc) {
	select {
	case <-ctx.Done():
	case <-x.badInput:
	case <-x.r.opts.Abort:
		cutoff()
	case <-x.fatal:
		cutoff()
	case <-reqCtx.Done():
	}
	close(x.halt)
}

// results are summary.json's figures of a finished execution: the
// aggregator's summaries over the dispatch window, with the verdicts of
// outcome.go.
func (x *execution) results(agg *aggregator, d *dispatcher, stopped metrics.StopReason, dispatch, skew time.Duration) *metrics.Results {
	r, p, sum := x.r, &x.r.plan, agg.sum
	_, shards := r.shardOf()
	sp := span{stopped: stopped, dispatch: dispatch, length: x.length, warmup: x.warmup, requests: r.requests, sessions: r.convs != nil}
	info := metrics.Info{Start: x.start, Stopped: stopped, Offered: math.NaN(), Sent: sum.Total(), HeldBack: d.heldBack}
	info.Window = window(sp, r.pacer, sum.Wall())
	if r.pacer != nil {
		info.Offered = offered(p.Load.Rate, r.stages, r.pacer, shards, x.warmup, x.warmup+info.Window)
		info.NotSent = notSent(r.pacer, sp, x.dispatched.Load(), sum.NotSent)
	}
	res := sum.Results(info)
	res.Stages = x.stageResults(agg.stageSums, sp)
	if sh := p.Load.Shard; sh != nil || p.Load.StartAt != "" {
		res.Shard = &metrics.ShardResults{Count: 1, StartAt: p.Load.StartAt, Skew: metrics.Num(skew.Seconds())}
		if sh != nil {
			res.Shard.Index, res.Shard.Count = sh.Index, sh.Count
		}
	}
	if r.convs != nil {
		res.Sessions = x.sessions.Load()
		for i, ts := range agg.turnSums {
			tr := ts.Results(metrics.Info{Start: x.start, Window: info.Window, Stopped: stopped, Offered: math.NaN(), Sent: ts.Total()})
			res.Turns = append(res.Turns, metrics.TurnResults{Turn: i + 1, Results: withoutCDFs(tr)})
		}
	}
	res.Throttling = agg.throttling.reading()
	res.Quota = quota(p, r.sim != nil, agg.throttling.limitTok, agg.throttling.limitReq)
	res.Caveats = caveats(res, perMinute(p, r.ep.API, agg.throttling.limitTok > 0 || agg.throttling.limitReq > 0))
	if r.pacer != nil {
		lag := sum.Hist("lag").Stats()
		res.Invalid = invalid(res, lag, r.clients, r.convs != nil)
		res.Valid = len(res.Invalid) == 0
		if res.Valid && len(agg.liveBehind) > 0 {
			res.Caveats = append(res.Caveats, retracted(agg.liveBehind, lag.P99.F(), lagLimit(res.RPM.Offered.F())))
		}
	}
	for _, th := range p.SLO.Thresholds {
		res.SLO = append(res.SLO, res.Check(th))
	}
	return res
}

// stageResults are the figures of each stage: the requests scheduled in
// it, over its span.
func (x *execution) stageResults(sums []*metrics.Summary, sp span) []metrics.StageResults {
	r := x.r
	if r.stages == nil {
		return nil
	}
	_, shards := r.shardOf()
	var out []metrics.StageResults
	for i, st := range stageSpans(r.plan.Load.Stages, sp) {
		sum := sums[i]
		sr := metrics.StageResults{Index: i + 1, Start: metrics.Num(st.begin.Seconds()), End: metrics.Num(st.end.Seconds()),
			Target: r.plan.Load.Stages[i].Target, Clients: r.plan.Load.StageClients}
		if st.to > st.from {
			info := metrics.Info{Start: x.start.Add(st.from), Window: st.to - st.from, Stopped: sp.stopped, Offered: math.NaN(), Sent: sum.Total()}
			if r.pacer != nil {
				info.Offered = offered(nil, r.stages, r.pacer, shards, st.from, st.to)
			} else {
				info.Window = max(sum.Wall(), st.to-st.from)
			}
			sr.Results = withoutCDFs(sum.Results(info))
		}
		out = append(out, sr)
	}
	return out
}

// withoutCDFs drops a part's distributions' curves (a stage's, a turn's):
// the whole run's summary keeps them, and summary.json stays small.
func withoutCDFs(r *metrics.Results) *metrics.Results {
	for name, d := range r.Latency {
		d.CDF = nil
		r.Latency[name] = d
	}
	r.TokensPerS.CDF = nil
	return r
}

// drain waits for the requests in flight, up to the drain timeout (0:
// none at all), then cuts them off; an abort or a fatal answer cuts them
// off at once.
func (x *execution) drain(ctx context.Context, cutoff context.CancelFunc) {
	if x.inflight.Load() == 0 {
		return
	}
	idle := make(chan struct{})
	go func() {
		x.wg.Wait()
		close(idle)
	}()
	wait := x.r.plan.Load.DrainTimeout.D()
	if wait <= 0 || !x.answered.Load() && ctx.Err() != nil {
		// Nothing has answered yet: there is nothing to drain, and one
		// interrupt must not wait a minute on an endpoint that hangs.
		cutoff()
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		x.warn(fmt.Sprintf("drain timeout: cutting off %d requests still in flight (counted as incomplete)", x.inflight.Load()))
		cutoff()
	case <-x.r.opts.Abort:
		cutoff()
	case <-x.fatal:
		cutoff()
	}
}

// deadline is a channel that fires when dispatch's length ends (nil, which
// never fires, without one), and its stop.
func (x *execution) deadline() (<-chan time.Time, func()) {
	if x.length <= 0 {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(x.start.Add(x.length)))
	return t.C, func() { t.Stop() }
}

// halted reports whether dispatch must stop now. It reads the causes
// themselves, not only halt, which a goroutine closes a moment after
// them: a request waiting for the slot that the first (fatal) request
// frees must not leave.
func (x *execution) halted() bool {
	for _, c := range []chan struct{}{x.halt, x.fatal, x.badInput} {
		select {
		case <-c:
			return true
		default:
		}
	}
	return false
}

// pause waits d, or until dispatch stops; it reports whether it waited
// d out.
func (x *execution) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.over:
	case <-x.halt:
	}
	return false
}

// warnOnce logs msg the first time flag is set.
func (x *execution) warnOnce(flag *atomic.Bool, msg string) {
	if flag.CompareAndSwap(false, true) {
		x.warn(msg)
	}
}
