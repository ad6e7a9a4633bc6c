// Package nap sleeps with the kernel's precision. Go's timers can fire up
// to about a millisecond late when the process is idle (the netpoller waits
// with millisecond resolution); a nanosleep system call wakes within the
// thread's timer slack, 50 µs by default. It blocks its thread, so it is for
// short waits in the few goroutines whose timing is the product: the load
// generator's dispatcher and the simulator's clock. Outside Linux it falls
// back to time.Sleep. It does not follow testing/synctest's virtual time.
package nap
