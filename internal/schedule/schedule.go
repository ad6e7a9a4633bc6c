// Package schedule decides when each request of an open-loop test is due.
//
// A Schedule is pure: it maps the request index to an offset from the start
// of the run, with no clock of its own, so it can be tested exactly and the
// dispatcher alone deals with real time.
package schedule

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Schedule yields the due offsets of successive requests.
type Schedule interface {
	// Next returns the offset from the start of the run at which the next
	// request is due. Offsets never decrease.
	Next() time.Duration
}

// Constant sends requests at a fixed rate: request i is due at i*60/rpm
// seconds, so the first is due at once and there is no burst.
type Constant struct {
	rpm float64
	i   int64
}

// NewConstant returns a constant-rate schedule of rpm requests per minute.
func NewConstant(rpm float64) (*Constant, error) {
	if err := check(rpm); err != nil {
		return nil, err
	}
	return &Constant{rpm: rpm}, nil
}

// Due returns the offset at which request i (from 0) is due. It is computed
// from i, not accumulated, so rounding never drifts.
func (c *Constant) Due(i int64) time.Duration {
	return time.Duration(math.Round(float64(i) * 60e9 / c.rpm))
}

// Next implements Schedule.
func (c *Constant) Next() time.Duration {
	d := c.Due(c.i)
	c.i++
	return d
}

// Poisson sends requests at exponentially distributed gaps whose mean is
// 60/rpm seconds, as independent users would. The first request is due at
// once. The sequence is fixed by the seed.
type Poisson struct {
	mean float64 // nanoseconds
	rng  *rand.Rand
	t    float64
	i    int64
}

// NewPoisson returns a Poisson schedule of mean rate rpm, seeded with seed.
func NewPoisson(rpm float64, seed uint64) (*Poisson, error) {
	if err := check(rpm); err != nil {
		return nil, err
	}
	return &Poisson{mean: 60e9 / rpm, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}, nil
}

// Next implements Schedule.
func (p *Poisson) Next() time.Duration {
	if p.i > 0 {
		p.t += p.rng.ExpFloat64() * p.mean
	}
	p.i++
	return time.Duration(math.Round(p.t))
}

func check(rpm float64) error {
	if !(rpm > 0) || math.IsInf(rpm, 0) {
		return fmt.Errorf("rate must be a positive number of requests per minute, got %v", rpm)
	}
	return nil
}
