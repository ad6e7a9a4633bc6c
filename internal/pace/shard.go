package pace

import "time"

// Shard is shard i of n of a schedule: its request k is the schedule's
// request k·n+i, so that n shards, each with its own Shard of the same
// schedule, send together exactly what one machine would: a constant
// rate's requests interleaved at 60/rate apart, one Poisson sequence (not
// n independent ones: the union is the single machine's Poisson process),
// a ramp's integral, a trace's offsets.
type Shard struct {
	p    Pacer
	i, n int64
}

// NewShard returns shard i (from 0) of n of p's schedule.
func NewShard(p Pacer, i, n int) *Shard {
	return &Shard{p: p, i: int64(i), n: int64(max(n, 1))}
}

// Due implements Pacer.
func (s *Shard) Due(k int64) (time.Duration, bool) {
	if k < 0 || k > (1<<62)/s.n {
		return 0, false
	}
	return s.p.Due(k*s.n + s.i)
}

// Count implements Pacer: of the schedule's first c requests, those of
// index i, i+n, i+2n...
func (s *Shard) Count(t time.Duration) int64 {
	c := s.p.Count(t)
	if c <= s.i {
		return 0
	}
	return (c - s.i + s.n - 1) / s.n
}

// Clone implements Pacer.
func (s *Shard) Clone() Pacer { return &Shard{p: s.p.Clone(), i: s.i, n: s.n} }

// Global is the schedule's index of the shard's request k.
func (s *Shard) Global(k int64) int64 { return k*s.n + s.i }

// Split divides a count among n shards, the remainder to the first: shard
// i's share of total.
func Split(total int64, i, n int) int64 {
	if n <= 1 {
		return total
	}
	q, r := total/int64(n), total%int64(n)
	if int64(i) < r {
		q++
	}
	return q
}
