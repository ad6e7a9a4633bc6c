package run

import (
	"sync"
	"sync/atomic"
)

// workers runs each request on a goroutine kept from an earlier request
// when one is idle, and on a new one when none is. A new goroutine starts
// with a small stack that a request's call chain (client, net/http,
// httptrace) grows several times over, copying it each time: at 6,000
// RPM that copying was a sixth of the load generator's CPU. A kept
// goroutine's stack has grown already. There are never more workers than
// requests were once in flight at the same time.
type workers struct {
	jobs    chan func() // unbuffered: a send succeeds only to an idle worker
	wg      *sync.WaitGroup
	started atomic.Int64 // workers started, for tests
}

func newWorkers(wg *sync.WaitGroup) *workers {
	return &workers{jobs: make(chan func()), wg: wg}
}

// Go runs f on an idle worker, or a new one. wg counts f until it returns.
func (p *workers) Go(f func()) {
	p.wg.Add(1)
	select {
	case p.jobs <- f:
	default:
		p.started.Add(1)
		go p.work(f)
	}
}

// work runs job, then every job handed to it, until close.
func (p *workers) work(job func()) {
	for ok := true; ok; job, ok = <-p.jobs {
		job()
		p.wg.Done()
		// An idle worker holds nothing of its last request (its item, an
		// image's data URL): memory falls back after a burst.
		job = nil
	}
}

// close ends the idle workers. Call it once no more Go can come.
func (p *workers) close() { close(p.jobs) }
