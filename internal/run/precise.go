package run

import (
	"runtime"
	"time"

	"github.com/aoaibench/aoaibench/internal/nap"
)

// timerSlack is how much earlier than due a precise wait stops trusting
// Go's timers, which can fire up to a millisecond late.
const timerSlack = 2 * time.Millisecond

// parkGap is the schedule's gap from which a precise wait parks on a
// kernel timer rather than blocking its thread in a nap. Blocking a
// thread holds its P: between requests far apart (6,000 RPM, 10 ms) that
// kept the runtime's monitor thread polling every 20 µs, a third more
// context switches than a client that parks; with requests close together
// (30,000 RPM, 2 ms) the process is busy anyway, and the thread that naps
// costs a fifth less CPU than waking a parked goroutine through the
// network poller for each request.
const parkGap = 5 * time.Millisecond

// parkMax is the longest wait the kernel timer does alone, a halt
// unnoticed until it ends (the request due then is not sent): a longer
// one starts on a Go timer, which a halt ends at once. Waking once, not
// twice, for each request: at 6,000 RPM, 10 ms apart, each wait is one.
const parkMax = 20 * time.Millisecond

// The spin before due, at most a tenth of the wait: the kernel timer
// wakes a parked goroutine some 45 µs late, a thread's nap some 100 µs
// (its timer slack, 50 µs, and the wake-up), on an idle machine. Each
// microsecond spun is CPU spent on every request.
const (
	parkSpin = 25 * time.Microsecond
	napSpin  = 100 * time.Microsecond
)

// precise waits with tens of microseconds of precision, for the
// dispatcher. With requests parkGap or more apart it parks on a kernel
// timer (nap.Timer: its thread and P stay free), for the whole wait up to
// parkMax, else on a Go timer (cheap, and a halt ends it at once) until
// timerSlack before due and then on the kernel timer. With requests closer
// together it waits on the Go timer, then naps its thread. Last, a short
// spin. One goroutine uses it at a time. (Outside Linux the "kernel
// timer" is Go's, and a nap is too: the same steps, less precise.)
type precise struct {
	timer *nap.Timer // nil when none could be made (no file descriptor left): naps only
	last  time.Time  // the previous wait's due time
}

// newPrecise makes a precise waiter; close frees it.
func newPrecise() *precise {
	t, err := nap.NewTimer()
	if err != nil {
		// Out of file descriptors: the thread's nap does the same job
		// at a higher CPU cost.
		return &precise{}
	}
	return &precise{timer: t}
}

// sleep waits until due; it returns false if stop is closed first.
func (p *precise) sleep(stop <-chan struct{}, due time.Time) bool {
	gap := due.Sub(p.last)
	p.last = due
	wait := time.Until(due)
	park := p.timer != nil && gap >= parkGap
	if wait > timerSlack && !(park && wait <= parkMax) && !TimerSleep(stop, due.Add(-timerSlack)) {
		return false
	}
	if park {
		p.timer.Sleep(time.Until(due) - min(parkSpin, wait/10))
	} else {
		// Let the request just launched start on this P first: the nap
		// blocks the thread, and the request would wait for the
		// runtime to take the P back.
		runtime.Gosched()
		nap.Sleep(time.Until(due) - min(napSpin, wait/10))
	}
	for time.Now().Before(due) {
	}
	return !stopped(stop)
}

// close frees the kernel timer.
func (p *precise) close() {
	if p.timer != nil {
		p.timer.Close()
	}
}
