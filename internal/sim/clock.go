package sim

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/nap"
)

// clock acts at due times for every stream of the simulator: it wakes
// sleeping goroutines, and it writes the next chunk of streams whose
// connection it can write to directly (see stream.tick). One goroutine and
// one timer serve every stream: entries sit in a heap ordered by due time,
// and each wake-up handles, as one batch, every entry due by then.
// Thousands of streams with a token every few milliseconds would otherwise
// keep thousands of runtime timers churning, and each token would take two
// hops through the scheduler (the clock's thread waking, then the stream's
// goroutine), each of which can be late by milliseconds on a busy machine.
type clock struct {
	mu      sync.Mutex
	h       waiters
	kick    chan struct{} // a waiter earlier than the current earliest arrived
	done    chan struct{}
	closed  bool
	precise bool    // nap in the kernel for the last 2 ms of a wait
	batch   waiters // entries due now; loop's alone
	// load is the chunks per second of the streams this clock writes,
	// which picks a clock for a new stream (Server.writer).
	load atomic.Int64
}

// waiter is one entry of the clock: at due, either wake the goroutine
// waiting on ch, or write st's next chunk.
type waiter struct {
	due time.Time
	ch  chan struct{}
	st  *stream
}

// waiters is a min-heap on due time. It is typed rather than built on
// container/heap, whose interface boxing would allocate twice per token.
type waiters []waiter

func (h *waiters) push(w waiter) {
	*h = append(*h, w)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].due.Before(a[p].due) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *waiters) pop() waiter {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && a[l].due.Before(a[small].due) {
			small = l
		}
		if r := l + 1; r < n && a[r].due.Before(a[small].due) {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
	return top
}

// precise waits end with kernel naps (package nap): Go's timers can be a
// millisecond late. Tests in synctest bubbles need timers, which follow
// virtual time.
func newClock(precise bool) *clock {
	c := &clock{kick: make(chan struct{}, 1), done: make(chan struct{}), precise: precise}
	go c.loop()
	return c
}

// sleepUntil blocks until due, or until abort is closed (false).
func (c *clock) sleepUntil(due time.Time, ch chan struct{}, abort <-chan struct{}) bool {
	if !time.Now().Before(due) {
		return true
	}
	if !c.add(waiter{due: due, ch: ch}) {
		return false
	}
	select {
	case <-ch:
		return true
	case <-abort:
		// Our entry stays in the heap; loop's wake-up will find the
		// buffered channel's slot free and move on.
		return false
	}
}

// write queues st's next chunk, due at st.due; false if the clock is
// closed.
func (c *clock) write(st *stream) bool {
	c.load.Add(st.rate)
	if !c.add(waiter{due: st.due, st: st}) {
		c.load.Add(-st.rate)
		return false
	}
	return true
}

// add queues w; false if the clock is closed.
func (c *clock) add(w waiter) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.h.push(w)
	first := c.h[0] == w
	c.mu.Unlock()
	if first {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// loop is the clock's goroutine: it takes the entries due, acts on them,
// queues again the streams that have a next chunk, and waits for the
// next due time, until the clock is closed.
func (c *clock) loop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now, batch := c.due()
		woke := c.act(batch)
		wait := c.requeue(batch)
		if !c.pause(t, now, woke, wait) {
			return
		}
	}
}

// due takes every entry due by now off the heap, in due order, into the
// loop's batch.
func (c *clock) due() (time.Time, waiters) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	batch := c.batch[:0]
	for len(c.h) > 0 && !c.h[0].due.After(now) {
		batch = append(batch, c.h.pop())
	}
	return now, batch
}

// act acts on every entry of batch, in due order, outside the lock:
// writes take microseconds each and must not hold up new streams. It
// wakes sleepers, writes streams' next chunks and notes the next due time
// of each stream that has one (the others leave the batch: st nil). It
// reports whether it woke a goroutine.
func (c *clock) act(batch waiters) (woke bool) {
	for i := range batch {
		w := &batch[i]
		if w.st == nil {
			select {
			case w.ch <- struct{}{}:
			default:
			}
			woke = true
			continue
		}
		next, more := w.st.tick()
		if !more {
			c.load.Add(-w.st.rate)
			w.st = nil
			continue
		}
		w.due = next
	}
	return woke
}

// requeue puts the batch's streams back in the heap at their next due
// time, and returns the wait until the earliest entry.
func (c *clock) requeue(batch waiters) time.Duration {
	c.mu.Lock()
	for _, w := range batch {
		if w.st != nil {
			c.h.push(w)
		}
	}
	wait := time.Hour
	if len(c.h) > 0 {
		wait = c.h[0].due.Sub(time.Now())
	}
	c.mu.Unlock()
	clear(batch) // drop the streams for the collector
	c.batch = batch[:0]
	return wait
}

// pause waits before the loop's next round: wait (the time to the
// earliest entry), or less, as the clock's precision asks. It returns
// false when the clock is closed. start is when the round began; woke
// tells whether it woke goroutines.
func (c *clock) pause(t *time.Timer, start time.Time, woke bool, wait time.Duration) bool {
	if c.precise && (woke || time.Since(start) > 100*time.Microsecond) {
		// The woken goroutines sit in this P's run queue, and so may
		// request handlers that became ready while the clock wrote
		// (its writes are raw system calls, which keep the P): let
		// them run before a nap blocks the thread, or they would wait
		// for the runtime to take the P back (up to 10 ms).
		runtime.Gosched()
		return true
	}
	if wait <= 0 {
		return true
	}
	if c.precise && wait <= 2*time.Millisecond {
		// Short naps, so that a new earlier waiter is seen within
		// 200 µs without a kick.
		nap.Sleep(min(wait, 200*time.Microsecond))
		select {
		case <-c.done:
			return false
		default:
			return true
		}
	}
	if c.precise {
		// Go's timers can be a millisecond late: wake 2 ms early and
		// nap the rest.
		wait -= 2 * time.Millisecond
	}
	return c.sleep(t, wait)
}

// sleep waits on timer t for wait, or until a kick (an entry earlier than
// the earliest arrived); false when the clock is closed.
func (c *clock) sleep(t *time.Timer, wait time.Duration) bool {
	t.Reset(wait)
	select {
	case <-t.C:
	case <-c.kick:
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	case <-c.done:
		return false
	}
	return true
}

func (c *clock) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
}
