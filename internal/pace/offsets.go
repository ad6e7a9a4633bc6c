package pace

import (
	"fmt"
	"sort"
	"time"
)

// Offsets replays recorded arrival times: request n is due at the n-th
// offset. A trace's schedule.
type Offsets struct{ at []time.Duration }

// NewOffsets returns the schedule of the given offsets, which must not
// decrease and must lie within MaxOffset.
func NewOffsets(at []time.Duration) (*Offsets, error) {
	for i, d := range at {
		if d < 0 || d > MaxOffset {
			return nil, fmt.Errorf("offset %d (%v) is out of range", i, d)
		}
		if i > 0 && d < at[i-1] {
			return nil, fmt.Errorf("offset %d (%v) is before the one before it (%v)", i, d, at[i-1])
		}
	}
	return &Offsets{at: at}, nil
}

// Due implements Pacer.
func (o *Offsets) Due(n int64) (time.Duration, bool) {
	if n < 0 || n >= int64(len(o.at)) {
		return 0, false
	}
	return o.at[n], true
}

// Count implements Pacer.
func (o *Offsets) Count(t time.Duration) int64 {
	return int64(sort.Search(len(o.at), func(i int) bool { return o.at[i] >= t }))
}

// Clone implements Pacer: the offsets are never written, so clones share
// them.
func (o *Offsets) Clone() Pacer { return o }

// Len is the number of requests in the schedule.
func (o *Offsets) Len() int { return len(o.at) }
