package nap

import (
	"syscall"
	"time"
	"unsafe"
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

// Hold is Sleep for waits of at most a few hundred microseconds by a
// goroutine that must resume at once: its processor is not handed to other
// goroutines meanwhile (a raw system call), which spares the runtime's
// monitor waking up to take it at every nap.
func Hold(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	p := uintptr(unsafe.Pointer(&ts))
	for {
		if _, _, e := syscall.RawSyscall(syscall.SYS_NANOSLEEP, p, p, 0); e != syscall.EINTR {
			return
		}
	}
}
