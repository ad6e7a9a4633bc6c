package nap

import (
	"syscall"
	"time"
)

// Sleep blocks the calling thread for d.
func Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	// A signal (the runtime preempts goroutines with one) ends the nap
	// early; sleep the rest.
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
