package run

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestWorkers: a request goes to an idle worker when there is one, to a
// new one when every worker is busy; the wait group counts each request
// until it returns; close ends the idle workers.
func TestWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		p := newWorkers(&wg)
		var ran atomic.Int64
		for range 5 {
			p.Go(func() { ran.Add(1) })
			synctest.Wait() // the worker is idle again
		}
		if got := p.started.Load(); got != 1 {
			t.Errorf("5 requests one after another started %d workers, want 1", got)
		}
		// Three at once: the idle worker takes one, two more start.
		block := make(chan struct{})
		for range 3 {
			p.Go(func() { <-block; ran.Add(1) })
		}
		synctest.Wait()
		if got := p.started.Load(); got != 3 {
			t.Errorf("3 requests at once: %d workers, want 3", got)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("the wait group ended with requests running")
		default:
		}
		close(block)
		<-done
		if ran.Load() != 8 {
			t.Errorf("%d requests ran, want 8", ran.Load())
		}
		p.close() // the bubble ends only once every worker has returned
	})
}
