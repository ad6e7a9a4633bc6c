package size

import (
	"math"
	"sort"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// Replay is the recorded traffic run through a provisioned deployment's
// leaky bucket, in virtual time, at each PTU count tried.
type Replay struct {
	// PTU is the least deployable count that refuses no more than
	// --max-throttled of the requests.
	PTU            int     `json:"ptu"`
	ThrottledShare float64 `json:"throttled_share"`
	// Steps are the counts tried, in count order.
	Steps []Step `json:"steps"`
}

// Step is the replay at one PTU count.
type Step struct {
	PTU int `json:"ptu"`
	// Throttled are the requests refused (429), ThrottledShare their
	// share of all; Refused their tokens.
	Throttled      int     `json:"throttled"`
	ThrottledShare float64 `json:"throttled_share"`
	Refused        Tokens  `json:"tokens_refused"`
	// Utilization is the bucket's level as each request was answered (its
	// estimate in, when admitted), in percent of a minute's capacity: what
	// Azure's utilization header tells it.
	Utilization Util `json:"utilization"`
	// Spillover is what a standard deployment would take (the refused
	// requests' tokens), with --spillover.
	Spillover *Tokens `json:"spillover,omitempty"`
	// Meets says whether the count refuses no more than --max-throttled.
	Meets bool `json:"meets"`
	// FirstRefusal and LastRefusal are when requests were refused, in
	// seconds from the input's start (absent when none was).
	FirstRefusal *float64 `json:"first_refusal_seconds,omitempty"`
	LastRefusal  *float64 `json:"last_refusal_seconds,omitempty"`
	// WarmPasses are a warm replay's uncounted passes; Unsettled says the
	// bucket had not settled by the last.
	WarmPasses int  `json:"warm_passes,omitempty"`
	Unsettled  bool `json:"unsettled,omitempty"`

	first, last int64 // refusals, ns (-1: none)
}

// Tokens are token counts: the prompt's (cached included), of which
// cached, and the output.
type Tokens struct {
	Prompt int64 `json:"prompt"`
	Cached int64 `json:"cached"`
	Output int64 `json:"output"`
}

// Util is a utilization's distribution, in percent.
type Util struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// search replays the requests at PTU counts, each once, and finds the
// least that meets the limit.
type search struct {
	reqs  []Request
	m     ptu.Model
	least int
	inc   int
	limit int // requests that may be refused
	top   int // index of a count at which nothing can be refused
	done  map[int]*Step
	// warm replays the input once before the counted pass, which starts
	// span after it (0: a cold start, the bucket empty).
	warm time.Duration
}

func newSearch(reqs []Request, m ptu.Model, t ptu.Type, maxThrottled float64, warm time.Duration) *search {
	least, inc := m.Counts(t)
	s := &search{reqs: reqs, m: m, least: least, inc: inc, done: map[int]*Step{}, warm: warm,
		limit: int(math.Floor(maxThrottled*float64(len(reqs)) + 1e-9))}
	// The bucket never holds more than every request's larger count:
	// a capacity above that refuses nothing.
	var sum float64
	for _, r := range reqs {
		est, actual := s.units(r)
		sum += max(est, actual)
	}
	n := m.RoundUp(t, sum/m.InputTPMPerPTU)
	if m.TPM(n) <= sum {
		n += inc
	}
	s.top = s.index(n)
	return s
}

func (s *search) index(n int) int { return (n - s.least) / s.inc }

// at is the index of the first request arriving at t or later.
func (s *search) at(t int64) int {
	return sort.Search(len(s.reqs), func(i int) bool { return s.reqs[i].At >= t })
}
func (s *search) count(k int) int { return s.least + k*s.inc }

// units are a request's admission estimate and its real count: the
// estimate reads max_tokens when known.
func (s *search) units(r Request) (est, actual float64) {
	actual = s.m.Units(int(r.Prompt), int(r.Cached), int(r.Output))
	if r.MaxTokens < 0 {
		return actual, actual
	}
	return s.m.Units(int(r.Prompt), int(r.Cached), int(r.MaxTokens)), actual
}

// probe replays the requests at count index k (once; then from memory).
func (s *search) probe(k int) *Step {
	if st, ok := s.done[k]; ok {
		return st
	}
	st := replay(s.reqs, s.m, s.count(k), s.units, s.warm)
	st.Meets = st.Throttled <= s.limit
	s.done[k] = st
	return st
}

// leastMeeting returns the least count index at or under top whose
// refusals are at most limit, starting from index k0 (the formula's
// answer): a doubling stride away from it until the answer is bracketed,
// then halving. It takes refusals to fall as PTUs grow, which the
// bucket's feedback (a refused request leaves room for the next) can
// break by a few requests between neighbouring counts; the answer's
// neighbour one under it is always replayed and refuses more than limit.
func (s *search) leastMeeting(k0, limit int) int {
	ok := func(k int) bool { return s.probe(k).Throttled <= limit }
	k0 = min(max(k0, 0), s.top)
	lo, hi := -1, s.top // lo fails (or -1), hi meets
	if ok(k0) {
		hi = k0
		for step := 1; hi > 0; step *= 2 {
			k := max(hi-step, 0)
			if !ok(k) {
				lo = k
				break
			}
			hi = k
		}
	} else {
		lo = k0
		for step := 1; ; step *= 2 {
			k := min(lo+step, s.top)
			if ok(k) {
				hi = k
				break
			}
			lo = k
		}
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// answer is the replay's answer, searched from the formula's count.
func (s *search) answer(formulaPTU int) Replay {
	k := s.leastMeeting(s.index(formulaPTU), s.limit)
	st := s.probe(k)
	return Replay{PTU: st.PTU, ThrottledShare: st.ThrottledShare}
}

// steps lists the counts tried, in count order.
func (s *search) steps(spillover bool) []Step {
	var out []Step
	for _, st := range s.done {
		c := *st
		if spillover {
			t := c.Refused
			c.Spillover = &t
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PTU < out[j].PTU })
	return out
}

// warmWork bounds a warm replay's uncounted passes: requests replayed,
// all passes together (at least 3 passes).
const warmWork = 5_000_000

// replay runs the requests (by arrival) through a bucket of n PTUs in
// virtual time: each is admitted or refused at its arrival; an admitted
// request's estimate is corrected to its real count when it completes,
// at its arrival plus its output at the model's latency target. With
// warm (the input's span), the input runs uncounted, pass after pass a
// span apart, until the bucket ends a pass where it ended the one before
// (within 0.01% of its capacity), then once more, counted: traffic that
// repeats as recorded, in its steady state. A load a hair over capacity
// takes many passes to fill the bucket: they are bounded by warmWork.
func replay(reqs []Request, m ptu.Model, n int, units func(Request) (float64, float64), warm time.Duration) *Step {
	epoch := time.Unix(0, 0)
	b := ptu.NewBucket(m.TPM(n), epoch)
	st := &Step{PTU: n, first: -1, last: -1}
	var pend corrections
	var hist utilHist
	perToken := float64(time.Second) / m.LatencyTPS
	pass := func(off int64, counted bool) {
		for _, r := range reqs {
			t := off + r.At
			for len(pend) > 0 && pend[0].at <= t {
				c := pend.pop()
				b.Correct(epoch.Add(time.Duration(c.at)), 0, c.delta)
			}
			now := epoch.Add(time.Duration(t))
			est, actual := units(r)
			ok := b.Admit(now, est).OK
			if counted {
				// What the deployment's utilization header says to it.
				hist.add(b.Utilization(now))
			}
			if !ok {
				if counted {
					st.refuse(r)
				}
				continue
			}
			if actual != est {
				pend.push(correction{at: t + int64(float64(r.Output)*perToken), delta: actual - est})
			}
		}
	}
	var off int64
	if warm > 0 {
		prev := -1.0
		most := max(3, warmWork/len(reqs))
		for st.WarmPasses = 1; ; st.WarmPasses++ {
			pass(off, false)
			off += int64(warm)
			u := b.Utilization(epoch.Add(time.Duration(off)))
			if prev >= 0 && math.Abs(u-prev) < 0.01 {
				break
			}
			if st.WarmPasses == most {
				st.Unsettled = true
				break
			}
			prev = u
		}
	}
	pass(off, true)
	st.ThrottledShare = float64(st.Throttled) / float64(len(reqs))
	st.Utilization = hist.util()
	if st.first >= 0 {
		f, l := time.Duration(st.first).Seconds(), time.Duration(st.last).Seconds()
		st.FirstRefusal, st.LastRefusal = &f, &l
	}
	return st
}

// refuse books a refused request.
func (st *Step) refuse(r Request) {
	st.Throttled++
	st.Refused.Prompt += int64(r.Prompt)
	st.Refused.Cached += int64(r.Cached)
	st.Refused.Output += int64(r.Output)
	if st.first < 0 {
		st.first = r.At
	}
	st.last = r.At
}

// correction is an admitted request's change from estimate to real
// count, due at its completion.
type correction struct {
	at    int64
	delta float64
}

// corrections is a min-heap by time (typed: container/heap's interface
// calls cost a replay of millions of requests).
type corrections []correction

func (h *corrections) push(c correction) {
	*h = append(*h, c)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *corrections) pop() correction {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && a[l].at < a[small].at {
			small = l
		}
		if r := l + 1; r < n && a[r].at < a[small].at {
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

// utilHist counts utilization samples in bins of 0.1 percent up to
// 1,000%, the rest in the last.
type utilHist struct {
	bins [10_001]int32
	n    int
	max  float64
}

func (h *utilHist) add(u float64) {
	i := min(int(u*10), len(h.bins)-1)
	h.bins[max(i, 0)]++
	h.n++
	h.max = max(h.max, u)
}

func (h *utilHist) util() Util {
	q := func(p float64) float64 {
		need := int(math.Ceil(p * float64(h.n)))
		c := 0
		for i, v := range h.bins {
			c += int(v)
			if c >= need && c > 0 {
				return min(float64(i)/10, h.max)
			}
		}
		return h.max
	}
	return Util{P50: round(q(0.5), 1), P99: round(q(0.99), 1), Max: round(h.max, 1)}
}
