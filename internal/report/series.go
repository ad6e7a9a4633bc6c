package report

import (
	"math"
	"slices"
)

// maxPoints bounds the points of one time series: long runs are bucketed
// into wider intervals, not truncated.
const maxPoints = 600

// maxDots bounds the points of a scatter series; the rest is sampled evenly.
const maxDots = 2500

// perBucket is how many requests a latency bucket should hold on average
// for its average and p95 to mean something; a run too slow for five such
// buckets draws each request as a marker instead.
const perBucket = 5

// perRateBucket is how many requests a rate bucket should hold on
// average; a run too short for four such buckets has four buckets.
const perRateBucket = 10

// timeSeries are a run's figures over run time. A record's figures are
// drawn at its send time with the outcome it later had, so that a
// bucket's achieved rate is the requests sent in it that succeeded, per
// minute of bucket: an unthrottled run draws its offered rate from its
// first bucket (docs/metrics.md, Throughput).
type timeSeries struct {
	width  float64 // rate bucket width, seconds
	sparse bool    // too few requests for latency buckets: each request is a marker
	// live says the rates are the live lines' own: a trailing window keyed
	// on completion time (a log has no send times).
	live bool
	end  float64 // the last moment of the run drawn: its last end
	// Rates a minute, as step series (each point a bucket's left edge,
	// the last the dispatch window's end): requests sent that succeeded,
	// their tokens billed and counted by a quota, the first turns of
	// conversations.
	rpm, tpm, quotaTPM, cpm []pt
	inflight                []pt // most requests in flight per fine bucket, a step series
	throttledPct            []pt // throttled share of the requests sent in each bucket, percent
	failed                  []pt // failed (not 429) of the requests sent in each bucket
	// Latency: average and p95 per bucket of send time, or each request
	// (sparse), in milliseconds.
	ttftAvg, ttftP95, tpotAvg, tpotP95, e2eAvg, e2eP95 []pt
	ttftDots, tpotDots, e2eDots                        []pt
	util                                               []pt
	remaining                                          []pt // least x-ratelimit-remaining-tokens per bucket
	limitTokens                                        float64
}

// series are a run's figures over time: from its records, else from its
// live lines.
func (r *Run) series() timeSeries {
	if len(r.Records) > 0 {
		// The dispatch window: the plan's length (warmup included),
		// else the summary's window after the warmup, else the last
		// send.
		dispatch := r.Settings.Duration.F()
		if !(dispatch > 0) && r.Summary != nil {
			dispatch = r.Summary.Window.F() + r.Settings.Warmup
		}
		return recordSeries(r.Records, float64(r.Settings.MaxTokens), dispatch)
	}
	return lineSeries(r.Lines)
}

// avgP95 is the average and the p95 of v (sorted in place); NaN when v is
// empty.
func avgP95(v []float64) (float64, float64) {
	if len(v) == 0 {
		return nan, nan
	}
	slices.Sort(v)
	s := 0.0
	for _, x := range v {
		s += x
	}
	i := int(math.Ceil(0.95*float64(len(v)))) - 1
	return s / float64(len(v)), v[max(i, 0)]
}

// niceWidth rounds a bucket width up to 1, 2, 5, 10, 15, 20, 30 or 60
// seconds, or whole minutes.
func niceWidth(w float64) float64 {
	for _, n := range []float64{1, 2, 5, 10, 15, 20, 30, 60} {
		if w <= n {
			return n
		}
	}
	return math.Ceil(w/60) * 60
}

// recordSeries buckets requests by send time (rates, shares, latencies)
// and draws requests in flight over the whole run. maxTokens is the run's
// max_tokens, for the quota count of records that lack it; dispatch the
// seconds the schedule sent over (NaN or 0: up to the last send), so that
// the last bucket's rate is over the part of it that dispatch covered.
func recordSeries(recs []Record, maxTokens, dispatch float64) timeSeries {
	ts := timeSeries{limitTokens: nan}
	x := extentOf(recs)
	ts.end = x.lastEnd
	if !(dispatch > 0 && dispatch <= maxAbs) || dispatch < x.lastSend {
		dispatch = x.lastSend
	}
	if dispatch <= 0 {
		dispatch = 1
	}
	ts.end = math.Max(ts.end, dispatch)
	if x.n == 0 {
		return ts
	}
	g := gridOf(dispatch, x.n, x.nOK)
	ts.width, ts.sparse = g.width, g.sparse
	bs, ls, edges := ts.fill(recs, g, maxTokens)
	ts.rates(bs, g)
	ts.latencies(ls, g)
	ts.inflight = inFlight(edges, ts.end)
	ts.ttftDots, ts.tpotDots, ts.e2eDots = sample(ts.ttftDots), sample(ts.tpotDots), sample(ts.e2eDots)
	return ts
}

// extent is how far a run's records go: the requests with a send time,
// the successful ones, the last send and the last end.
type extent struct {
	n, nOK            int
	lastSend, lastEnd float64
}

// extentOf reads how far the records go.
func extentOf(recs []Record) extent {
	var x extent
	for _, r := range recs {
		s, e := r.Send.F(), r.End.F()
		if !(math.Abs(s) <= maxAbs) {
			continue
		}
		x.n++
		if r.Class == "ok" {
			x.nOK++
		}
		x.lastSend = math.Max(x.lastSend, s)
		if math.Abs(e) <= maxAbs {
			x.lastEnd = math.Max(x.lastEnd, e)
		}
	}
	return x
}

// grid is a run's buckets of send time: nb rate buckets of width
// seconds, and nl latency buckets of latWidth; sparse when too few
// requests for latency buckets, each drawn as a marker instead.
type grid struct {
	dispatch        float64
	width, latWidth float64
	nb, nl          int
	sparse          bool
}

// gridOf sizes the buckets of a dispatch window in which n requests were
// sent, nOK of them successful.
func gridOf(dispatch float64, n, nOK int) grid {
	g := grid{dispatch: dispatch}
	// Rate buckets: perRateBucket requests each on average, at least
	// four, at most maxPoints.
	g.width = niceWidth(math.Max(dispatch*perRateBucket/float64(n), dispatch/maxPoints))
	if dispatch/g.width < 4 {
		g.width = niceWidth(dispatch / 4)
	}
	g.nb = buckets(dispatch, g.width)
	if float64(g.nb-1)*g.width >= dispatch {
		g.nb-- // the window ends on a bucket's edge
	}
	g.nb = max(g.nb, 1)
	// Latency buckets: perBucket successful requests each on average;
	// fewer than five such buckets draws each request.
	g.latWidth = niceWidth(math.Max(dispatch*perBucket/float64(max(nOK, 1)), dispatch/maxPoints))
	g.sparse = dispatch/g.latWidth < 5
	g.nl = buckets(dispatch, g.latWidth)
	return g
}

// rateBucket is what the requests sent in one rate bucket came to.
type rateBucket struct {
	ok, thr, fail, all, first int
	tok, quota                float64
	remaining                 float64
}

// latBucket is the latencies of the successful requests sent in one
// latency bucket, and the utilization every request read.
type latBucket struct{ ttft, tpot, e2e, u []float64 }

// fill puts each record with a send time in its buckets (a sparse run's
// latencies in ts's markers) and returns them, with the sends (+1) and
// ends (-1) of requests in flight.
func (ts *timeSeries) fill(recs []Record, g grid, maxTokens float64) (bs []rateBucket, ls []latBucket, edges []pt) {
	bs = make([]rateBucket, g.nb)
	for i := range bs {
		bs[i].remaining = math.Inf(1)
	}
	ls = make([]latBucket, g.nl)
	for _, r := range recs {
		s, e := r.Send.F(), r.End.F()
		if !(math.Abs(s) <= maxAbs) {
			continue
		}
		if math.Abs(e) <= maxAbs {
			edges = append(edges, pt{s, 1}, pt{e, -1})
		}
		b := &bs[bucketOf(s, g.width, g.nb)]
		l := &ls[bucketOf(s, g.latWidth, g.nl)]
		b.add(&r, maxTokens)
		if r.Class == "ok" {
			if ts.sparse {
				ts.ttftDots = appendDot(ts.ttftDots, s, 1e3*r.TTFT.F())
				ts.tpotDots = appendDot(ts.tpotDots, s, 1e3*r.TPOT.F())
				ts.e2eDots = appendDot(ts.e2eDots, s, 1e3*r.E2E.F())
			} else {
				l.ttft = appendOK(l.ttft, 1e3*r.TTFT.F())
				l.tpot = appendOK(l.tpot, 1e3*r.TPOT.F())
				l.e2e = appendOK(l.e2e, 1e3*r.E2E.F())
			}
		}
		l.u = appendOK(l.u, r.Util.F())
		if v := r.LimitTokens.F(); v > 0 && !(v <= ts.limitTokens) {
			ts.limitTokens = v
		}
	}
	return bs, ls, edges
}

// add counts a request sent in the bucket: its outcome, the tokens it was
// billed and counted by a quota (prompt and max_tokens, where the record
// does not say), and the quota it saw left.
func (b *rateBucket) add(r *Record, maxTokens float64) {
	b.all++
	switch r.Class {
	case "ok":
		b.ok++
		if r.Turn.F() == 1 {
			b.first++
		}
		b.tok += float64(r.PromptTokens + r.OutputTokens)
		if q := r.QuotaTokens.F(); !math.IsNaN(q) {
			b.quota += q
		} else if maxTokens > 0 {
			b.quota += float64(r.PromptTokens) + maxTokens
		} else {
			b.quota += float64(r.PromptTokens + r.OutputTokens)
		}
	case "throttled":
		b.thr++
	default:
		b.fail++
	}
	if v := r.RemainingTokens.F(); v >= 0 {
		b.remaining = math.Min(b.remaining, v)
	}
}

// rates makes the step series of the rate buckets: rates a minute, the
// failed and the throttled share, and the quota left.
func (ts *timeSeries) rates(bs []rateBucket, g grid) {
	conversations := false
	for i, b := range bs {
		x := float64(i) * g.width
		// A minute of bucket, never a minute that has not happened: the
		// last bucket is as long as the part of it dispatch covered.
		span := math.Min(x+g.width, g.dispatch) - x
		if span <= 0 {
			span = g.width
		}
		perMin := 60 / span
		ts.rpm = append(ts.rpm, pt{x, float64(b.ok) * perMin})
		ts.tpm = append(ts.tpm, pt{x, b.tok * perMin})
		ts.quotaTPM = append(ts.quotaTPM, pt{x, b.quota * perMin})
		ts.cpm = append(ts.cpm, pt{x, float64(b.first) * perMin})
		conversations = conversations || b.first > 0
		ts.failed = append(ts.failed, pt{x, float64(b.fail)})
		share := nan
		if b.all > 0 {
			share = 100 * float64(b.thr) / float64(b.all)
		}
		ts.throttledPct = append(ts.throttledPct, pt{x, share})
		if !math.IsInf(b.remaining, 1) {
			ts.remaining = append(ts.remaining, pt{x + g.width/2, b.remaining})
		}
	}
	// Step series end at the dispatch window's end.
	end := math.Min(float64(g.nb)*g.width, g.dispatch)
	for _, p := range []*[]pt{&ts.rpm, &ts.tpm, &ts.quotaTPM, &ts.cpm, &ts.failed, &ts.throttledPct} {
		*p = append(*p, pt{end, 0})
	}
	if !conversations {
		ts.cpm = nil
	}
}

// latencies makes the latency buckets' average and p95 (none for a sparse
// run, drawn as markers), and their average utilization.
func (ts *timeSeries) latencies(ls []latBucket, g grid) {
	for i, l := range ls {
		x := (float64(i) + 0.5) * g.latWidth
		if !ts.sparse {
			a, p := avgP95(l.ttft)
			ts.ttftAvg, ts.ttftP95 = append(ts.ttftAvg, pt{x, a}), append(ts.ttftP95, pt{x, p})
			a, p = avgP95(l.tpot)
			ts.tpotAvg, ts.tpotP95 = append(ts.tpotAvg, pt{x, a}), append(ts.tpotP95, pt{x, p})
			a, p = avgP95(l.e2e)
			ts.e2eAvg, ts.e2eP95 = append(ts.e2eAvg, pt{x, a}), append(ts.e2eP95, pt{x, p})
		}
		if len(l.u) > 0 {
			a, _ := avgP95(l.u)
			ts.util = append(ts.util, pt{x, a})
		}
	}
}

// inFlight returns the most requests in flight in each of some hundreds
// of fine buckets from 0 to end, as a step series, from the sends (+1)
// and ends (-1) in edges.
func inFlight(edges []pt, end float64) []pt {
	slices.SortFunc(edges, func(a, b pt) int {
		if a.x != b.x {
			if a.x < b.x {
				return -1
			}
			return 1
		}
		return int(b.y - a.y) // a send before an end at the same moment
	})
	width := niceWidth(end / 300)
	nb := buckets(end, width)
	most := make([]float64, nb)
	level := 0.0
	ei := 0
	for i := range most {
		most[i] = level
		hi := float64(i+1) * width
		for ei < len(edges) && (edges[ei].x < hi || i == nb-1) {
			level += edges[ei].y
			most[i] = math.Max(most[i], level)
			ei++
		}
	}
	out := make([]pt, 0, nb+1)
	for i, m := range most {
		out = append(out, pt{float64(i) * width, m})
	}
	// The last bucket ends with the run, not past it.
	return append(out, pt{math.Max(end, float64(nb-1)*width), 0})
}

// buckets is how many buckets of width cover 0..end: from 1 to
// maxPoints+1, whatever the two are.
func buckets(end, width float64) int {
	n := end / width
	if !(n >= 0) {
		return 1
	}
	return int(math.Min(n, maxPoints)) + 1
}

// bucketOf is the index of the bucket of width that holds t, of n buckets:
// times before the first or past the last fall in it.
func bucketOf(t, width float64, n int) int {
	i := t / width
	if !(i >= 0) {
		return 0
	}
	return int(math.Min(i, float64(n-1)))
}

// appendOK appends x to v unless it is NaN (no figure).
func appendOK(v []float64, x float64) []float64 {
	if math.IsNaN(x) {
		return v
	}
	return append(v, x)
}

// appendDot appends the point (x, y) to v unless y is NaN (no figure).
func appendDot(v []pt, x, y float64) []pt {
	if math.IsNaN(y) {
		return v
	}
	return append(v, pt{x, y})
}

// lineSeries reads the live lines (windowed figures, as logged: rates
// over a trailing window keyed on completion time).
func lineSeries(lines []Line) timeSeries {
	ts := timeSeries{width: 1, limitTokens: nan, live: true}
	step := max(1, len(lines)/maxPoints)
	prevThr, prevFail, prevReq := 0.0, 0.0, 0.0
	for i, l := range lines {
		x := l.RunSeconds.F()
		if math.Abs(x) <= maxAbs {
			ts.end = math.Max(ts.end, x)
		}
		thr, fail, req := l.Throttled.F(), l.Failures.F(), l.Requests.F()
		if i%step != 0 && i != len(lines)-1 {
			continue
		}
		ts.rpm = append(ts.rpm, pt{x, l.RPM.F()})
		ts.tpm = append(ts.tpm, pt{x, l.TPM.Total.F()})
		ts.inflight = append(ts.inflight, pt{x, l.Processing.F()})
		share := nan
		if d := req - prevReq; d > 0 {
			share = math.Min(100, 100*math.Max(thr-prevThr, 0)/d)
		}
		ts.throttledPct = append(ts.throttledPct, pt{x, share})
		ts.failed = append(ts.failed, pt{x, math.Max(fail-prevFail, 0)})
		prevThr, prevFail, prevReq = thr, fail, req
		ts.ttftAvg, ts.ttftP95 = append(ts.ttftAvg, pt{x, 1e3 * l.TTFT.Avg.F()}), append(ts.ttftP95, pt{x, 1e3 * l.TTFT.P95.F()})
		ts.tpotAvg, ts.tpotP95 = append(ts.tpotAvg, pt{x, 1e3 * l.TBT.Avg.F()}), append(ts.tpotP95, pt{x, 1e3 * l.TBT.P95.F()})
		ts.e2eAvg, ts.e2eP95 = append(ts.e2eAvg, pt{x, 1e3 * l.E2E.Avg.F()}), append(ts.e2eP95, pt{x, 1e3 * l.E2E.P95.F()})
		if u := l.Util.Avg.F(); !math.IsNaN(u) {
			ts.util = append(ts.util, pt{x, u})
		}
	}
	return ts
}

// scatter returns E2E (ms) against send time, split into successful,
// throttled and failed requests, each sampled down to maxDots.
func scatter(recs []Record) (ok, thr, fail []pt) {
	for _, r := range recs {
		p := pt{r.Send.F(), 1e3 * (r.End.F() - r.Send.F())}
		switch r.Class {
		case "ok":
			ok = append(ok, p)
		case "throttled":
			thr = append(thr, p)
		default:
			fail = append(fail, p)
		}
	}
	return sample(ok), sample(thr), sample(fail)
}

// sample thins p evenly to maxDots points.
func sample(p []pt) []pt {
	if len(p) <= maxDots {
		return p
	}
	out := make([]pt, 0, maxDots)
	step := float64(len(p)) / maxDots
	for i := range maxDots {
		out = append(out, p[int(float64(i)*step)])
	}
	return out
}
