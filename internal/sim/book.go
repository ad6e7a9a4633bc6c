package sim

import (
	"fmt"
	"time"
)

// A stream's ground truth, booked into its deployment's figures (stats.go)
// and, when they are read, its /metrics.

// book adds the pending write lateness to the deployment's figures, in
// batches to keep its lock off the per-chunk path.
func (st *stream) book() {
	if len(st.lates) == 0 {
		return
	}
	d := st.d
	d.mu.Lock()
	for _, l := range st.lates {
		d.stats.timing.Add(max(l, 0))
	}
	d.mu.Unlock()
	st.lates = st.lates[:0]
}

// done books a completed request: tokens, ground-truth timings, and the
// provisioned bucket's correction from estimate to real tokens.
func (st *stream) done(ttft, queued time.Duration, first, last time.Time) {
	d := st.d
	if st.s.scraped.Load() {
		st.observe(ttft, first) // its observers need no lock
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ptu != nil {
		// The prompt less its cached part, as the admission counted it;
		// the output estimated (max tokens of each choice) becomes the
		// output generated, reasoning included.
		d.ptu.correct(time.Now(), st.prompt-st.cached, st.asked, st.completion())
	}
	x := &d.stats
	x.Completed++
	x.PromptTokens += int64(st.prompt)
	x.CachedTokens += int64(st.cached)
	x.CompletionTokens += int64(st.completion())
	x.Images += int64(st.req.images.images)
	x.ImageTokens += int64(st.req.images.tokens)
	key := fmt.Sprintf("p%d_o%d", st.prompt, st.output)
	kind := ""
	if st.ans != nil {
		kind = st.ans.kind()
		if st.ans.call != nil {
			x.ToolCalls++
		} else {
			x.Structured++
		}
		key += "_" + kind
	}
	c := x.classes[key]
	if c == nil {
		c = newClassStats(st.prompt, st.output)
		c.answer = kind
		x.classes[key] = c
	}
	c.add(st, ttft, queued, first, last)
}

// observe adds a completed request to /metrics.
func (st *stream) observe(ttft time.Duration, first time.Time) {
	p := &st.d.prom
	if !first.IsZero() {
		p.ttft.Observe(ttft.Seconds())
	}
	p.e2e.Observe(time.Since(st.arrived).Seconds())
	p.prompt.Add(float64(st.prompt))
	p.generation.Add(float64(st.completion()))
	p.cacheQueries.Add(float64(st.prompt))
	p.cacheHits.Add(float64(st.cached))
	if st.finish() != "length" {
		p.successStop.Inc()
	} else {
		p.successLimit.Inc()
	}
}
