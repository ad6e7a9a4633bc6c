package ptu

import (
	"math"
	"time"
)

// Bucket is a provisioned deployment's leaky bucket, in utilization units
// (Model.Units): admission adds a request's estimate, completion corrects
// it to the real count, and the bucket drains continuously at the
// deployment's capacity a minute. Utilization is the level as a share of
// a minute's capacity; a request arriving at 100% or more is refused at
// once, and one arriving under it is admitted whatever its size (so the
// level can pass 100%). It keeps no clock of its own: every call says
// when it happens, so that the same code runs in real time (the
// simulator) and in virtual time (a replay). Not safe for concurrent use.
type Bucket struct {
	capacity float64 // units a minute
	level    float64
	at       time.Time // when level was last drained
}

// NewBucket returns an empty bucket that drains perMinute units a minute,
// as of now.
func NewBucket(perMinute float64, now time.Time) *Bucket {
	return &Bucket{capacity: perMinute, at: now}
}

// Verdict is an admission decision: OK, or refused with the time until
// the bucket is back under 100% (retry-after).
type Verdict struct {
	OK         bool
	RetryAfter time.Duration
}

// drain empties the bucket by what flowed out since the last call. A
// call earlier than the last (a caller's clock that stepped back) drains
// nothing.
func (b *Bucket) drain(now time.Time) {
	if dt := now.Sub(b.at); dt > 0 {
		b.level = max(b.level-b.capacity*dt.Minutes(), 0)
		b.at = now
	}
}

// Utilization is the bucket's level at now, in percent of a minute's
// capacity.
func (b *Bucket) Utilization(now time.Time) float64 {
	b.drain(now)
	if b.capacity <= 0 {
		return math.Inf(1)
	}
	return 100 * b.level / b.capacity
}

// Admit decides on a request estimated at est units arriving at now, and
// adds the estimate when it is admitted.
func (b *Bucket) Admit(now time.Time, est float64) Verdict {
	b.drain(now)
	if b.level >= b.capacity {
		if b.capacity <= 0 {
			return Verdict{RetryAfter: time.Minute}
		}
		over := b.level - b.capacity
		return Verdict{RetryAfter: time.Duration(over/b.capacity*float64(time.Minute)) + time.Millisecond}
	}
	b.level += est
	return Verdict{OK: true}
}

// Correct replaces an admitted request's estimate by its real count,
// when it completes at now.
func (b *Bucket) Correct(now time.Time, est, actual float64) {
	b.drain(now)
	b.level = max(b.level+actual-est, 0)
}
