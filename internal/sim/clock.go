package sim

import (
	"runtime"
	"sync"
	"time"

	"github.com/aoaibench/aoaibench/internal/nap"
)

// clock wakes sleeping streams at their due times. One goroutine and one
// timer serve every stream: waiters sit in a heap ordered by due time, and
// each wake-up releases, as one batch, every waiter due by then. Thousands
// of streams with a token every few milliseconds would otherwise keep
// thousands of runtime timers churning.
type clock struct {
	mu      sync.Mutex
	h       waiters
	kick    chan struct{} // a waiter earlier than the current earliest arrived
	done    chan struct{}
	closed  bool
	precise bool // nap in the kernel for the last 2 ms of a wait
}

type waiter struct {
	due time.Time
	ch  chan struct{}
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
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.h.push(waiter{due, ch})
	first := c.h[0].ch == ch
	c.mu.Unlock()
	if first {
		select {
		case c.kick <- struct{}{}:
		default:
		}
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

func (c *clock) loop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		c.mu.Lock()
		now := time.Now()
		// Release every waiter due now, as one batch.
		released := 0
		for len(c.h) > 0 && !c.h[0].due.After(now) {
			w := c.h.pop()
			select {
			case w.ch <- struct{}{}:
			default:
			}
			released++
		}
		wait := time.Hour
		if len(c.h) > 0 {
			wait = c.h[0].due.Sub(now)
		}
		c.mu.Unlock()
		if released > 0 && c.precise {
			// The woken streams sit in this P's run queue: let them run
			// before a nap blocks the thread, or they would wait for the
			// runtime to take the P back (up to 10 ms).
			runtime.Gosched()
			continue
		}
		if c.precise && wait <= 2*time.Millisecond {
			// Short naps, so that a new earlier waiter is seen within
			// 200 µs without a kick.
			nap.Sleep(min(wait, 200*time.Microsecond))
			select {
			case <-c.done:
				return
			default:
				continue
			}
		}
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
			return
		}
	}
}

func (c *clock) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
}
