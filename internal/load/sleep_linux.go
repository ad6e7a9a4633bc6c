package load

import (
	"context"
	"syscall"
	"time"
)

// maxNap bounds one nanosleep, so a stop is noticed within it.
const maxNap = 5 * time.Millisecond

// PreciseSleep waits with tens of microseconds of precision: it sleeps in
// the kernel (nanosleep, whose wake-up is off by the thread's timer slack,
// 50 µs by default) until shortly before due, then spins for the rest. The
// spin is at most a tenth of the wait and 100 µs, so its CPU cost stays
// small at every rate. Go's own timers would wake up to a millisecond late
// when the process is idle. (Locking the thread would let the slack be
// tightened, but then every request goroutine it starts waits for a P
// hand-off, which costs more than it saves.)
func PreciseSleep(ctx context.Context, stop <-chan struct{}, due time.Time) bool {
	spin := min(100*time.Microsecond, time.Until(due)/10)
	for {
		d := time.Until(due) - spin
		if d <= 0 {
			break
		}
		ts := syscall.NsecToTimespec(int64(min(d, maxNap)))
		syscall.Nanosleep(&ts, nil)
		if stopped(ctx, stop) {
			return false
		}
	}
	for time.Now().Before(due) {
	}
	return !stopped(ctx, stop)
}
