package run

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/traffic"
)

// dispatcher sends requests on the schedule. Its fields are the dispatch
// goroutine's alone.
type dispatcher struct {
	x        *execution
	pacer    pace.Pacer // this execution's own clone; nil for a closed loop
	sleep    Sleeper    // waits for each due time
	heldBack int64      // due requests the clients cap delayed
}

// run waits for t=0 and dispatches until the schedule, the count, the
// duration or a halt stops it, and says which.
func (d *dispatcher) run(reqCtx context.Context) metrics.StopReason {
	x, r := d.x, d.x.r
	var stopped metrics.StopReason
	switch {
	case !d.sleep(x.halt, x.start):
		stopped = metrics.StopSignal
	case d.pacer != nil:
		stopped = d.openLoop(reqCtx)
	default:
		stopped = d.closedLoop(reqCtx)
	}
	if r.convs != nil && (stopped == metrics.StopRequests || stopped == metrics.StopSchedule) {
		stopped = x.finishSessions(stopped)
	}
	return stopped
}

// openLoop sends each request when the schedule says, whatever earlier
// ones are doing, with at most Clients in flight, until the duration, the
// request count or the schedule's end, or a halt.
func (d *dispatcher) openLoop(reqCtx context.Context) metrics.StopReason {
	x, r := d.x, d.x.r
	slots := make(chan struct{}, r.clients)
	release := func() { <-slots }
	deadline, stop := x.deadline()
	defer stop()
	warned := false
	for n := int64(0); ; n++ {
		if r.requests > 0 && n >= r.requests {
			return metrics.StopRequests
		}
		due, ok := d.pacer.Due(n)
		if x.length > 0 && (!ok || due >= x.length) {
			// Wait out the duration, so that a slow schedule still runs
			// for as long as asked.
			if !d.sleep(x.halt, x.start.Add(x.length)) {
				return metrics.StopSignal
			}
			return metrics.StopDuration
		}
		if !ok {
			return metrics.StopSchedule
		}
		if !d.sleep(x.halt, x.start.Add(due)) {
			return metrics.StopSignal
		}
		select {
		case slots <- struct{}{}:
		default:
			// The cap holds this due request back: the wait shows as
			// schedule lag, never as a skipped request; if the duration
			// ends first, it was due and not sent.
			if due >= x.warmup {
				d.heldBack++
			}
			if !warned {
				warned = true
				x.warn(fmt.Sprintf("warning: --clients %d requests in flight held back request %d; the client cap, not the service, limits this test (raise --clients)", r.clients, n))
			}
			select {
			case slots <- struct{}{}:
			case <-deadline:
				return metrics.StopDuration
			case <-x.halt:
				return metrics.StopSignal
			}
		}
		if x.halted() {
			// A fatal first answer (or a halt) came while this request
			// waited for its slot: it never leaves.
			release()
			return metrics.StopSignal
		}
		if !d.launch(reqCtx, n, x.start.Add(due), release) {
			return x.inputStop()
		}
	}
}

// closedLoop keeps exactly Clients requests in flight (or, with stages
// of clients, the number the ramp says at each moment): a new request goes
// as soon as one ends.
func (d *dispatcher) closedLoop(reqCtx context.Context) metrics.StopReason {
	x, r := d.x, d.x.r
	var active atomic.Int64
	freed := make(chan struct{}, 1)
	release := func() {
		active.Add(-1)
		select {
		case freed <- struct{}{}:
		default:
		}
	}
	target := func(at time.Duration) int64 {
		if r.stages == nil {
			return int64(r.clients)
		}
		i, n := r.shardOf()
		return pace.Split(int64(math.Round(r.stages.Rate(at))), i, n)
	}
	deadline, stop := x.deadline()
	defer stop()
	// A ramp's target grows between completions: look again every 10 ms.
	var poll <-chan time.Time
	if r.stages != nil {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		poll = tk.C
	}
	for n := int64(0); ; n++ {
		if r.requests > 0 && n >= r.requests {
			return metrics.StopRequests
		}
		for active.Load() >= target(time.Since(x.start)) {
			select {
			case <-freed:
			case <-poll:
			case <-deadline:
				return metrics.StopDuration
			case <-x.halt:
				return metrics.StopSignal
			}
		}
		if x.length > 0 && time.Since(x.start) >= x.length {
			return metrics.StopDuration
		}
		if x.halted() {
			return metrics.StopSignal
		}
		active.Add(1)
		if !d.launch(reqCtx, n, time.Now(), release) {
			return x.inputStop()
		}
	}
}

// launch sends the request (or starts the session) of schedule slot n,
// due at sched, in its own goroutine. release frees the slot. It reports
// false when the input has no request n: dispatch stops.
func (d *dispatcher) launch(reqCtx context.Context, n int64, sched time.Time, release func()) bool {
	x, r := d.x, d.x.r
	if r.convs != nil {
		return x.conversation(reqCtx, n, sched, release, d.pacer == nil)
	}
	it, err := r.source.Next(n, x.halt)
	if err != nil {
		x.stopInput(err)
		release()
		return false
	}
	x.dispatched.Add(1)
	closed := d.pacer == nil
	x.pool.Go(func() {
		var hold time.Duration
		rec := x.request(reqCtx, r.global(n), sched, it, nil, func(w *metrics.Wire) {
			if closed {
				hold = throttleHold(w.Class, w.RetryAfter)
			}
			if hold == 0 {
				// The request is over: its slot is free while its tokens
				// are counted.
				release()
			}
		})
		x.done <- rec
		if hold > 0 {
			x.pause(hold)
			release()
		}
	})
	return true
}

// throttleHold is how long a closed loop's slot waits after a request
// that ended as class: a throttled one waits the server's retry-after (a
// second when it gives none, a minute at most) before the slot sends
// again. Without it, 429s come back as fast as the loop can send them,
// hundreds of thousands a minute at a real deployment.
func throttleHold(class metrics.Class, retryAfter time.Duration) time.Duration {
	if class != metrics.Throttled {
		return 0
	}
	if hold := min(max(retryAfter, 0), time.Minute); hold > 0 {
		return hold
	}
	return time.Second
}

// inputStop is why dispatch stopped when the source gave no request: a
// bad row, or a halt that ended the wait for one.
func (x *execution) inputStop() metrics.StopReason {
	if x.inputErr != nil {
		return metrics.StopInput
	}
	return metrics.StopSignal
}

// stopInput stops dispatch at a row of the input that cannot be read:
// the results so far are kept, and the run ends as bad input.
func (x *execution) stopInput(err error) {
	if err == traffic.ErrStopped {
		return // the run is stopping anyway
	}
	x.inputOnce.Do(func() {
		flag := "--dataset"
		if x.r.plan.Load.Trace != nil {
			flag = "--trace"
		}
		x.inputErr = plan.Errorf("%s: %v", flag, err)
		close(x.badInput)
	})
}
