package load

import (
	"context"
	"time"
)

// A Sleeper waits until due; it returns false if stop is closed or ctx is
// done first.
type Sleeper func(ctx context.Context, stop <-chan struct{}, due time.Time) bool

// TimerSleep waits on a runtime timer. Go's timers can fire up to about a
// millisecond late when the process is idle (the netpoller sleeps with
// millisecond resolution), but they follow virtual time inside
// testing/synctest bubbles.
func TimerSleep(ctx context.Context, stop <-chan struct{}, due time.Time) bool {
	wait := time.Until(due)
	if wait <= 0 {
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// stopped reports, without blocking, whether stop or ctx has fired.
func stopped(ctx context.Context, stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}
