package run

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// conversation runs session n in its own goroutine: each turn after the
// answer to the one before and the think time, until its turns are done,
// a turn fails (there is no answer to carry on from), or dispatch stops.
// The session holds its slot throughout; in a closed loop (closed), a
// throttled turn holds it for the throttle too.
func (x *execution) conversation(reqCtx context.Context, n int64, sched time.Time, release func(), closed bool) bool {
	r := x.r
	sess, err := r.convs.Session(n, r.plan.Workload.Turns, x.halt)
	if err != nil {
		x.stopInput(err)
		release()
		return false
	}
	x.dispatched.Add(1)
	x.sessions.Add(1)
	x.sessWG.Add(1)
	x.wg.Go(func() {
		defer x.sessWG.Done()
		defer release()
		// Think times draw from a stream of their own, apart from the
		// session's lengths.
		rng := rand.New(rand.NewPCG(r.plan.Workload.Seed^0x7417, uint64(n)))
		var answer reply
		for turn := 1; ; turn++ {
			it := sess.Next()
			if it == nil {
				return
			}
			if turn > 1 {
				select {
				case <-x.over:
					return
				default:
				}
			}
			rec := x.request(reqCtx, x.ids.Add(1)-1, sched, it, &answer, nil)
			ok := rec.Class == metrics.OK
			if ok && len(answer.text) >= metrics.MaxText {
				x.warnOnce(&x.longAnswer, fmt.Sprintf("warning: an answer of over %d KB was cut to that in the conversation's history", metrics.MaxText>>10))
			}
			x.done <- rec
			if !ok {
				if closed {
					// As a closed loop's single requests do: wait out
					// the throttle before the slot starts another
					// conversation.
					if hold := throttleHold(rec.Class, rec.RetryAfter); hold > 0 {
						x.pause(hold)
					}
				}
				return
			}
			sess.Answer(answer.text, answer.calls)
			if d := r.think.Sample(rng); d > 0 && !x.pause(d) {
				return
			}
			sched = time.Now()
		}
	})
	return true
}

// finishSessions lets the conversations started before dispatch stopped
// at its request count (or the schedule's end) send their remaining
// turns: the count is of conversations. The duration or a halt still
// stops them.
func (x *execution) finishSessions(stopped metrics.StopReason) metrics.StopReason {
	idle := make(chan struct{})
	go func() {
		x.sessWG.Wait()
		close(idle)
	}()
	deadline, stop := x.deadline()
	defer stop()
	select {
	case <-idle:
		return stopped
	case <-deadline:
		return metrics.StopDuration
	case <-x.halt:
		return metrics.StopSignal
	}
}
