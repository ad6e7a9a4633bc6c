package run

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/traffic"
)

// A shard runs its share of the plan: the schedule's requests i, i+N,
// i+2N... (pace.Shard), the request count and the clients divided with
// the remainder to the first shards, and the input's rows of the same
// indexes, so that N shards send together exactly what one machine
// would, prompt for prompt. Records carry the schedule's index, so that
// merged shards number their requests as a single run does.

// shardOf returns the plan's shard as (i, n): (0, 1) for an undivided run.
func (r *Run) shardOf() (int, int) {
	if s := r.plan.Load.Shard; s != nil {
		return s.Index, s.Count
	}
	return 0, 1
}

// global is the schedule's index of the shard's request k.
func (r *Run) global(k int64) int64 {
	i, n := r.shardOf()
	return k*int64(n) + int64(i)
}

// shardSource gives the shard's requests of a source: request k is the
// source's request k·n+i. A source read in order (a dataset, random
// draws) is read through, and the other shards' requests dropped, so that
// every shard draws the same sequence a single machine would.
type shardSource struct {
	src  traffic.Source
	i, n int64
	next int64 // the source's next index
}

func (s *shardSource) Next(k int64, stop <-chan struct{}) (*traffic.Item, error) {
	want := k*s.n + s.i
	if b, ok := s.src.(*traffic.Builder); ok {
		return b.Next(want, stop) // any index, at once
	}
	for {
		it, err := s.src.Next(s.next, stop)
		s.next++
		if err != nil || s.next-1 == want {
			return it, err
		}
	}
}

// shard divides the run: the pacer, the source, the request count and
// the clients.
func (r *Run) shard() {
	i, n := r.shardOf()
	r.requests, r.clients = r.plan.Load.Requests, r.plan.Load.Clients
	if n == 1 {
		return
	}
	if r.pacer != nil {
		r.pacer = pace.NewShard(r.pacer, i, n)
	}
	r.source = &shardSource{src: r.source, i: int64(i), n: int64(n)}
	if r.requests > 0 {
		// Of the requests 0..R-1, those of index i mod n.
		r.requests = max((r.requests-int64(i)+int64(n)-1)/int64(n), 0)
	}
	r.clients = max(int(pace.Split(int64(r.clients), i, n)), 1)
}

// startTime is t=0: --start-at when it is still ahead, else lead from
// now; skew is how late t=0 is past --start-at (0 without it).
func (r *Run) startTime(now time.Time) (start time.Time, skew time.Duration) {
	start = now.Add(lead)
	if r.plan.Load.StartAt == "" {
		return start, 0
	}
	at, _ := time.Parse(time.RFC3339Nano, r.plan.Load.StartAt) // checked by Validate
	if at.After(start) {
		return at, 0
	}
	return start, start.Sub(at)
}
