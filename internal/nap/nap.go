// Package nap sleeps with the kernel's precision. Go's timers can fire up
// to about a millisecond late when the process is idle (the netpoller waits
// with millisecond resolution). Sleep, a nanosleep system call, wakes
// within the thread's timer slack, 50 µs by default, but blocks its thread
// and P: it is for short waits in a busy process (the simulator's clock,
// the load generator's dispatcher when requests are close together).
// Timer parks the goroutine on a kernel timer instead (the dispatcher when
// requests are farther apart). Outside Linux both fall back to Go's
// timers. Neither follows testing/synctest's virtual time.
package nap
