// Package pace decides when each request of an open-loop run is due.
//
// A Pacer is pure: it maps a request's index to an offset from the start
// of the run, with no clock of its own, so it is table-tested exactly and
// only the dispatcher deals with real time. Every float that becomes an
// offset is checked: a request that would be due past MaxOffset (or at a
// rate that is not a finite positive number) is never due, so the
// schedule ends instead of overflowing into the past.
package pace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// MaxOffset is the latest offset a request may be due at: a century, far
// past any run and far from time.Duration's limit of 292 years.
const MaxOffset = 100 * 365 * 24 * time.Hour

// Pacer says when the requests of an open-loop run are due. A Pacer is
// used by one goroutine; Clone gives another its own.
type Pacer interface {
	// Due returns the offset from the start at which request n (from 0)
	// is due, and false when the schedule has no request n. Offsets never
	// decrease with n.
	Due(n int64) (time.Duration, bool)
	// Count returns how many requests are due strictly before offset t.
	Count(t time.Duration) int64
	// Clone returns a pacer of the same schedule with its own state.
	Clone() Pacer
}

// Pace returns how long after elapsed request hits is due (zero or less:
// it is due now or late), and stop when the schedule has no more: the
// form of vegeta's pacers.
func Pace(p Pacer, elapsed time.Duration, hits int64) (wait time.Duration, stop bool) {
	due, ok := p.Due(hits)
	if !ok {
		return 0, true
	}
	return due - elapsed, false
}

// offset turns nanoseconds into a Duration, or false past MaxOffset (or
// not a number).
func offset(ns float64) (time.Duration, bool) {
	if !(ns >= 0) || ns > float64(MaxOffset) {
		return 0, false
	}
	return time.Duration(math.Round(ns)), true
}

// checkRate refuses a rate that is not a finite positive number.
func checkRate(rpm float64) error {
	if !(rpm > 0) || math.IsInf(rpm, 0) {
		return fmt.Errorf("rate must be a positive number of requests per minute, got %v", rpm)
	}
	return nil
}

// Constant sends requests at a fixed rate: request n is due at n*60/rpm
// seconds, so the first is due at once and there is no burst.
type Constant struct{ rpm float64 }

// NewConstant returns a constant schedule of rpm requests per minute.
func NewConstant(rpm float64) (*Constant, error) {
	if err := checkRate(rpm); err != nil {
		return nil, err
	}
	return &Constant{rpm: rpm}, nil
}

// Due implements Pacer. The offset is computed from n, not accumulated,
// so rounding never drifts.
func (c *Constant) Due(n int64) (time.Duration, bool) {
	if n < 0 {
		return 0, false
	}
	return offset(float64(n) * 60e9 / c.rpm)
}

// Count implements Pacer.
func (c *Constant) Count(t time.Duration) int64 {
	if t <= 0 {
		return 0
	}
	f := float64(t) * c.rpm / 60e9
	if f > 1<<62 {
		return 1 << 62
	}
	// The estimate, corrected for Due's rounding.
	n := int64(math.Ceil(f))
	for n > 0 {
		if d, ok := c.Due(n - 1); ok && d < t {
			break
		}
		n--
	}
	for {
		if d, ok := c.Due(n); !ok || d >= t {
			return n
		}
		n++
	}
}

// Clone implements Pacer.
func (c *Constant) Clone() Pacer { return c }

// Poisson sends requests at exponentially distributed gaps whose mean is
// 60/rpm seconds, as independent users would. The first request is due at
// once. The sequence is fixed by the seed; the pacer walks it forward,
// and starts over from the seed only if asked for an earlier request.
type Poisson struct {
	rpm  float64
	seed uint64
	rng  *rand.Rand
	src  *rand.PCG
	n    int64   // the request at t
	t    float64 // nanoseconds
	end  bool    // request n is past MaxOffset
}

// NewPoisson returns a Poisson schedule of mean rate rpm, seeded with seed.
func NewPoisson(rpm float64, seed uint64) (*Poisson, error) {
	if err := checkRate(rpm); err != nil {
		return nil, err
	}
	p := &Poisson{rpm: rpm, seed: seed}
	p.rewind()
	return p, nil
}

func (p *Poisson) rewind() {
	p.src = rand.NewPCG(p.seed, 0x9e3779b97f4a7c15)
	p.rng = rand.New(p.src)
	p.n, p.t, p.end = 0, 0, false
}

// Due implements Pacer.
func (p *Poisson) Due(n int64) (time.Duration, bool) {
	if n < 0 {
		return 0, false
	}
	if n < p.n {
		p.rewind()
	}
	mean := 60e9 / p.rpm
	for p.n < n && !p.end {
		p.t += p.rng.ExpFloat64() * mean
		p.n++
		if !(p.t <= float64(MaxOffset)) {
			p.end = true
		}
	}
	if p.end {
		return 0, false
	}
	return offset(p.t)
}

// Count implements Pacer.
func (p *Poisson) Count(t time.Duration) int64 {
	if t <= 0 {
		return 0
	}
	n := int64(0)
	if d, ok := p.Due(p.n); ok && d < t {
		n = p.n // walk on from where the pacer is
	}
	for {
		if d, ok := p.Due(n); !ok || d >= t {
			return n
		}
		n++
	}
}

// Clone implements Pacer.
func (p *Poisson) Clone() Pacer {
	c, _ := NewPoisson(p.rpm, p.seed)
	return c
}
