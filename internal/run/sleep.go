package run

import (
	"time"
)

// A Sleeper waits until due; it returns false if stop is closed first.
type Sleeper func(stop <-chan struct{}, due time.Time) bool

// TimerSleep waits on a runtime timer. Go's timers can fire up to about a
// millisecond late when the process is idle (the netpoller sleeps with
// millisecond resolution), but they follow virtual time inside
// testing/synctest bubbles.
func TimerSleep(stop <-chan struct{}, due time.Time) bool {
	wait := time.Until(due)
	if wait <= 0 {
		return !stopped(stop)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// stopped reports, without blocking, whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
