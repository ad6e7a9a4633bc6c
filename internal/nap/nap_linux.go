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
	syscall.Nanosleep(&ts, nil)
}
