// Package nap sleeps with the kernel's precision. Go's timers can fire up
// to about a millisecond late when the process is idle (the netpoller waits
// with millisecond resolution). Sleep, a nanosleep system call, wakes
// within the thread's timer slack, 50 µs by default, but blocks its thread
// and P: it is for short waits, as the simulator's clock makes them. Timer
// parks the goroutine on a kernel timer instead: for the load generator's
// dispatcher, which waits before every request. Outside Linux both fall
// back to Go's timers. Neither follows testing/synctest's virtual time.
package nap
