package load

import (
	"context"
	"time"

	"github.com/aoaibench/aoaibench/internal/nap"
)

// maxNap bounds one nap, so a stop is noticed within it.
const maxNap = 5 * time.Millisecond

// PreciseSleep waits with tens of microseconds of precision: it naps in the
// kernel (package nap) until shortly before due, then spins for the rest.
// The spin is at most a tenth of the wait and 100 µs, so its CPU cost stays
// small at every rate. (Locking the dispatcher's thread would let its timer
// slack be tightened, but then every request goroutine it starts waits for
// a P hand-off, which costs more than it saves.)
func PreciseSleep(ctx context.Context, stop <-chan struct{}, due time.Time) bool {
	spin := min(100*time.Microsecond, time.Until(due)/10)
	for {
		d := time.Until(due) - spin
		if d <= 0 {
			break
		}
		nap.Sleep(min(d, maxNap))
		if stopped(ctx, stop) {
			return false
		}
	}
	for time.Now().Before(due) {
	}
	return !stopped(ctx, stop)
}
