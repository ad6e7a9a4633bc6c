package run

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/nap"
)

// timerSlack is how much earlier than due PreciseSleep stops trusting Go's
// timers, which can fire up to a millisecond late.
const timerSlack = 2 * time.Millisecond

// PreciseSleep waits with tens of microseconds of precision. A long wait
// runs on a Go timer (cheap, and a stop ends it at once) until timerSlack
// before due; then one kernel nap (package nap) until shortly before due;
// then a spin of at most 100 µs and a tenth of the wait, so its CPU cost
// stays small at every rate. (Locking the dispatcher's thread would let its
// timer slack be tightened, but then every request goroutine it starts
// waits for a P hand-off, which costs more than it saves.)
func PreciseSleep(stop <-chan struct{}, due time.Time) bool {
	wait := time.Until(due)
	if wait > timerSlack && !TimerSleep(stop, due.Add(-timerSlack)) {
		return false
	}
	spin := min(100*time.Microsecond, wait/10)
	if d := time.Until(due) - spin; d > 0 {
		nap.Sleep(d)
	}
	for time.Now().Before(due) {
	}
	return !stopped(stop)
}
