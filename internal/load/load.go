// Package load runs a load test: it dispatches requests on a schedule
// (open loop) or keeps a fixed number in flight (closed loop), hands each
// to the client, and streams the finished records to the sinks.
//
// Data flows one way: schedule -> dispatch -> client -> record -> sinks.
// One goroutine, the aggregator, owns every figure, so no metric needs a
// lock; the dispatcher shares only two atomic counters with it.
package load

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/schedule"
	"github.com/aoaibench/aoaibench/internal/workload"
)

// Config configures a run.
type Config struct {
	// Schedule paces an open-loop run; nil runs closed loop, keeping
	// Clients requests in flight.
	Schedule schedule.Schedule
	// Offered is the schedule's rate in requests per minute, for reports.
	Offered float64
	// Clients caps the requests in flight.
	Clients int
	// Requests stops dispatch after this many (0: no limit).
	Requests int64
	// Duration stops dispatch after this long (0: no limit).
	Duration time.Duration
	// DrainTimeout bounds the wait for in-flight requests after dispatch
	// stops; those still running are then cut off as incomplete.
	DrainTimeout time.Duration
	// Window is the live line's sliding window.
	Window time.Duration
	// SLO sets the objectives goodput is counted against.
	SLO metrics.SLO

	Client  *client.Client
	Builder *workload.Builder

	// Tick, if set, is called every second with the live figures.
	Tick func(Tick)
	// Record, if set, is called with every finished request, in the
	// aggregator goroutine.
	Record func(*metrics.Record)
	// Warn reports a warning (one line, no newline).
	Warn func(string)
	// Started, if set, is called with the run's start time before the
	// first request is dispatched.
	Started func(time.Time)
	// Sleep waits for each due time of an open-loop run: PreciseSleep when
	// nil. Tests in synctest bubbles use TimerSleep, which follows virtual
	// time.
	Sleep Sleeper
}

// Tick is the live state of a run, once a second.
type Tick struct {
	RunSeconds int
	Time       time.Time
	Window     metrics.WindowStats
	Processing int64 // in flight
	Requests   int64 // sent
	Completed  int64 // succeeded
	Failures   int64 // failed, other than throttled
	Throttled  int64
}

// Result is the outcome of a run.
type Result struct {
	Start    time.Time
	Summary  *metrics.Summary
	Sent     int64
	HeldBack int64         // due requests the clients cap delayed
	Dispatch time.Duration // from the start until dispatch stopped
	Stopped  string        // why dispatch stopped
	Offered  float64
}

// Run runs a test until its request count or duration is reached, stop is
// closed (stop dispatching, drain), or ctx is cancelled (cut off in-flight
// requests at once). Every dispatched request is in the result.
func Run(ctx context.Context, cfg Config, stop <-chan struct{}) *Result {
	if cfg.Clients <= 0 {
		cfg.Clients = 1
	}
	if cfg.Warn == nil {
		cfg.Warn = func(string) {}
	}
	r := &run{cfg: cfg, done: make(chan *metrics.Record, 4096)}
	r.start = time.Now()
	res := &Result{Start: r.start, Summary: metrics.NewSummary(cfg.SLO), Offered: cfg.Offered}

	// reqCtx outlives a soft stop: in-flight requests drain until the
	// drain timeout or a hard stop cancels it.
	reqCtx, cutoff := context.WithCancel(context.Background())
	defer cutoff()
	go func() {
		select {
		case <-ctx.Done():
			cutoff()
		case <-reqCtx.Done():
		}
	}()

	if cfg.Started != nil {
		cfg.Started(r.start)
	}
	aggDone := make(chan struct{})
	go func() {
		r.aggregate(res.Summary)
		close(aggDone)
	}()

	if cfg.Schedule != nil {
		res.Stopped = r.openLoop(ctx, reqCtx, stop)
	} else {
		res.Stopped = r.closedLoop(ctx, reqCtx, stop)
	}
	res.Dispatch = time.Since(r.start)
	r.drain(ctx, cutoff)
	r.wg.Wait()
	close(r.done)
	<-aggDone
	res.Sent = r.sent.Load()
	res.HeldBack = r.heldBack
	return res
}

type run struct {
	cfg      Config
	start    time.Time
	done     chan *metrics.Record
	wg       sync.WaitGroup
	sent     atomic.Int64
	inflight atomic.Int64
	heldBack int64 // dispatcher only
}

// body returns the request builder for request i.
func (r *run) body(i int64) client.Body {
	return func(usage bool) []byte { return r.cfg.Builder.Body(nil, i, usage) }
}

// launch sends request rec in its own goroutine.
func (r *run) launch(reqCtx context.Context, rec *metrics.Record, release func()) {
	rec.ClientPrompt = r.cfg.Builder.PromptTokens()
	r.sent.Add(1)
	r.inflight.Add(1)
	r.wg.Go(func() {
		r.cfg.Client.Do(reqCtx, rec, r.body(rec.ID))
		r.inflight.Add(-1)
		release()
		r.done <- rec
	})
}

// openLoop sends each request when the schedule says, whatever earlier
// ones are doing, with at most Clients in flight.
func (r *run) openLoop(ctx, reqCtx context.Context, stop <-chan struct{}) string {
	slots := make(chan struct{}, r.cfg.Clients)
	release := func() { <-slots }
	if r.cfg.Sleep == nil {
		r.cfg.Sleep = PreciseSleep
	}
	warned := false
	for i := int64(0); ; i++ {
		if r.cfg.Requests > 0 && i >= r.cfg.Requests {
			return "requests"
		}
		due := r.cfg.Schedule.Next()
		if r.cfg.Duration > 0 && due >= r.cfg.Duration {
			// Wait out the duration so that a slow schedule still runs
			// for as long as asked.
			if !r.sleepUntil(ctx, stop, r.cfg.Duration) {
				return "signal"
			}
			return "duration"
		}
		if !r.sleepUntil(ctx, stop, due) {
			return "signal"
		}
		sched := r.start.Add(due)
		select {
		case slots <- struct{}{}:
		default:
			// The cap holds this due request back: the wait shows as
			// schedule lag, never as a skipped request.
			r.heldBack++
			if !warned {
				warned = true
				r.cfg.Warn(fmt.Sprintf("warning: --clients %d requests in flight held back request %d; the client cap, not the service, limits this test (raise --clients)", r.cfg.Clients, i))
			}
			select {
			case slots <- struct{}{}:
			case <-stop:
				return "signal"
			case <-ctx.Done():
				return "signal"
			}
		}
		r.launch(reqCtx, metrics.NewRecord(i, sched), release)
		// Let the request's goroutine start on this P now: the next nap
		// blocks the thread, and the goroutine would wait for the runtime
		// to take the P back.
		runtime.Gosched()
	}
}

// sleepUntil waits until offset d from the start; false if stopped first.
func (r *run) sleepUntil(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	return r.cfg.Sleep(ctx, stop, r.start.Add(d))
}

// closedLoop keeps exactly Clients requests in flight: a new request goes
// as soon as one ends. It is the open loop with every request due the
// moment a slot frees, so both share the cap, the drain and the sinks.
func (r *run) closedLoop(ctx context.Context, reqCtx context.Context, stop <-chan struct{}) string {
	slots := make(chan struct{}, r.cfg.Clients)
	release := func() { <-slots }
	var deadline <-chan time.Time
	if r.cfg.Duration > 0 {
		t := time.NewTimer(r.cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	for i := int64(0); ; i++ {
		if r.cfg.Requests > 0 && i >= r.cfg.Requests {
			return "requests"
		}
		select {
		case slots <- struct{}{}:
		case <-deadline:
			return "duration"
		case <-stop:
			return "signal"
		case <-ctx.Done():
			return "signal"
		}
		if r.cfg.Duration > 0 && time.Since(r.start) >= r.cfg.Duration {
			return "duration"
		}
		r.launch(reqCtx, metrics.NewRecord(i, time.Now()), release)
	}
}

// drain waits for in-flight requests, up to the drain timeout, then cuts
// them off.
func (r *run) drain(ctx context.Context, cutoff context.CancelFunc) {
	if r.inflight.Load() == 0 {
		return
	}
	idle := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(idle)
	}()
	var timeout <-chan time.Time
	if r.cfg.DrainTimeout > 0 {
		t := time.NewTimer(r.cfg.DrainTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-idle:
	case <-timeout:
		r.cfg.Warn(fmt.Sprintf("drain timeout: cutting off %d requests still in flight (counted as incomplete)", r.inflight.Load()))
		cutoff()
	case <-ctx.Done():
		cutoff()
	}
}

// aggregate owns the summary and the window: it folds in every finished
// record and emits the live figures once a second.
func (r *run) aggregate(sum *metrics.Summary) {
	win := metrics.NewWindow(r.cfg.Window, r.start)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var completed, failures, throttled int64
	sec := 0
	emit := func(now time.Time) {
		win.MarkSent(now, r.sent.Load())
		if r.cfg.Tick == nil {
			return
		}
		r.cfg.Tick(Tick{
			RunSeconds: sec, Time: now, Window: win.Snapshot(now),
			Processing: r.inflight.Load(), Requests: r.sent.Load(),
			Completed: completed, Failures: failures, Throttled: throttled,
		})
	}
	for {
		select {
		case rec, ok := <-r.done:
			if !ok {
				// A last line with the final figures, so that even a run
				// shorter than a second prints one.
				now := time.Now()
				sec = int(now.Sub(r.start).Round(time.Second) / time.Second)
				emit(now)
				return
			}
			sum.Add(rec)
			win.Add(rec)
			switch rec.Class {
			case metrics.OK:
				completed++
			case metrics.Throttled:
				throttled++
			default:
				failures++
			}
			if r.cfg.Record != nil {
				r.cfg.Record(rec)
			}
		case now := <-tick.C:
			sec = int(now.Sub(r.start).Round(time.Second) / time.Second)
			emit(now)
		}
	}
}
