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

// timeSeries are a run's figures over run time.
type timeSeries struct {
	width  float64 // bucket width, seconds
	sparse bool    // too few requests for buckets: latencies are per request
	// Trailing-minute rates.
	rpm, tpm, quotaTPM []pt
	inflight           []pt
	throttledPct       []pt // throttled share of the requests ending in each bucket, percent
	failed             []pt
	// Latency: average and p95 per bucket, or each request (sparse).
	ttftAvg, ttftP95, tpotAvg, tpotP95, e2eAvg, e2eP95 []pt
	ttftDots, tpotDots, e2eDots                        []pt
	util                                               []pt
	remaining                                          []pt // least x-ratelimit-remaining-tokens per bucket
	limitTokens                                        float64
}

func (r *Run) series() timeSeries {
	if len(r.Records) > 0 {
		window := 60.0
		if len(r.Settings.StageEnds) > 0 {
			// A ramp changes faster than a minute shows.
			window = 10
		}
		return recordSeries(r.Records, float64(r.Settings.MaxTokens), window)
	}
	return lineSeries(r.Lines)
}

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

// recordSeries buckets requests by completion time, buckets wide enough to
// hold perBucket requests on average (and maxPoints at most).
// maxTokens is the run's max_tokens, for the quota count of records that
// lack it.
// Rates are over a trailing window of window seconds.
func recordSeries(recs []Record, maxTokens, window float64) timeSeries {
	end := 0.0
	for _, r := range recs {
		if e := r.End.F(); e > end && e <= maxAbs {
			end = e
		}
	}
	ts := timeSeries{limitTokens: nan}
	ts.width = niceWidth(math.Max(end*perBucket/float64(max(len(recs), 1)), end/maxPoints))
	if end/ts.width < 5 {
		// Fewer than 5 buckets would show a few points: draw each
		// request, and rates in narrower buckets.
		ts.sparse = true
		ts.width = niceWidth(math.Max(end/60, end/maxPoints))
	}
	width := ts.width
	// The throttled share needs several requests in a bucket, even when
	// the rest is drawn finer: its own buckets, at least 4 of them.
	shareWidth := math.Max(width, math.Min(niceWidth(end*perBucket/float64(max(len(recs), 1))), end/4))
	// The counts of buckets are bounded whatever end is: a width that
	// overflowed is a single bucket, never a loop of a year of seconds.
	shares := make([]struct{ thr, all int }, buckets(end, shareWidth))
	n := buckets(end, width)
	type bucket struct {
		ok, thr, fail      int
		tok, quota         float64
		ttft, tpot, e2e, u []float64
		remaining          float64
	}
	bs := make([]bucket, n)
	for i := range bs {
		bs[i].remaining = math.Inf(1)
	}
	var edges []pt // +1 at send, -1 at end, for requests in flight
	for _, r := range recs {
		e := r.End.F()
		if !(math.Abs(e) <= maxAbs) {
			continue
		}
		if s := r.Send.F(); !math.IsNaN(s) {
			edges = append(edges, pt{s, 1}, pt{e, -1})
		}
		b := &bs[bucketOf(e, width, n)]
		sh := &shares[bucketOf(e, shareWidth, len(shares))]
		sh.all++
		if r.Class == "throttled" {
			sh.thr++
		}
		switch r.Class {
		case "ok":
			b.ok++
			b.tok += float64(r.PromptTokens + r.OutputTokens)
			if q := r.QuotaTokens.F(); !math.IsNaN(q) {
				b.quota += q
			} else if maxTokens > 0 {
				b.quota += float64(r.PromptTokens) + maxTokens
			} else {
				b.quota += float64(r.PromptTokens + r.OutputTokens)
			}
			if ts.sparse {
				ts.ttftDots = appendDot(ts.ttftDots, e, r.TTFT.F())
				ts.tpotDots = appendDot(ts.tpotDots, e, r.TPOT.F())
				ts.e2eDots = appendDot(ts.e2eDots, e, r.E2E.F())
			} else {
				b.ttft = appendOK(b.ttft, r.TTFT.F())
				b.tpot = appendOK(b.tpot, r.TPOT.F())
				b.e2e = appendOK(b.e2e, r.E2E.F())
			}
		case "throttled":
			b.thr++
		default:
			b.fail++
		}
		b.u = appendOK(b.u, r.Util.F())
		if v := r.RemainingTokens.F(); v >= 0 {
			b.remaining = math.Min(b.remaining, v)
		}
		if v := r.LimitTokens.F(); v > 0 && !(v <= ts.limitTokens) {
			ts.limitTokens = v
		}
	}
	slices.SortFunc(edges, func(a, b pt) int {
		if a.x != b.x {
			if a.x < b.x {
				return -1
			}
			return 1
		}
		return int(b.y - a.y)
	})
	ei, level := 0, 0.0
	// RPM and TPM over a trailing window (or the elapsed time before a
	// window has passed), as the live line computes them.
	win := max(1, int(math.Round(window/width)))
	var ok, tok, quota float64
	for i, b := range bs {
		x := float64(i+1) * width
		for ei < len(edges) && edges[ei].x <= x {
			level += edges[ei].y
			ei++
		}
		ok, tok, quota = ok+float64(b.ok), tok+b.tok, quota+b.quota
		if i >= win {
			old := bs[i-win]
			ok, tok, quota = ok-float64(old.ok), tok-old.tok, quota-old.quota
		}
		perMin := 60 / (float64(min(i+1, win)) * width)
		ts.rpm = append(ts.rpm, pt{x, ok * perMin})
		ts.tpm = append(ts.tpm, pt{x, tok * perMin})
		ts.quotaTPM = append(ts.quotaTPM, pt{x, quota * perMin})
		ts.inflight = append(ts.inflight, pt{x, level})
		ts.failed = append(ts.failed, pt{x, float64(b.fail)})
		if !ts.sparse {
			a, p := avgP95(b.ttft)
			ts.ttftAvg, ts.ttftP95 = append(ts.ttftAvg, pt{x, a}), append(ts.ttftP95, pt{x, p})
			a, p = avgP95(b.tpot)
			ts.tpotAvg, ts.tpotP95 = append(ts.tpotAvg, pt{x, a}), append(ts.tpotP95, pt{x, p})
			a, p = avgP95(b.e2e)
			ts.e2eAvg, ts.e2eP95 = append(ts.e2eAvg, pt{x, a}), append(ts.e2eP95, pt{x, p})
		}
		if len(b.u) > 0 {
			a, _ := avgP95(b.u)
			ts.util = append(ts.util, pt{x, a})
		}
		if !math.IsInf(b.remaining, 1) {
			ts.remaining = append(ts.remaining, pt{x, b.remaining})
		}
	}
	for i, sh := range shares {
		if sh.all > 0 {
			ts.throttledPct = append(ts.throttledPct, pt{(float64(i) + 1) * shareWidth, 100 * float64(sh.thr) / float64(sh.all)})
		}
	}
	ts.ttftDots, ts.tpotDots, ts.e2eDots = sample(ts.ttftDots), sample(ts.tpotDots), sample(ts.e2eDots)
	return ts
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

func appendOK(v []float64, x float64) []float64 {
	if math.IsNaN(x) {
		return v
	}
	return append(v, x)
}

func appendDot(v []pt, x, y float64) []pt {
	if math.IsNaN(y) {
		return v
	}
	return append(v, pt{x, y})
}

// lineSeries reads the live lines (windowed figures, as logged).
func lineSeries(lines []Line) timeSeries {
	ts := timeSeries{width: 1, limitTokens: nan}
	step := max(1, len(lines)/maxPoints)
	prevThr, prevFail, prevReq := 0.0, 0.0, 0.0
	for i, l := range lines {
		x := l.RunSeconds.F()
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
		ts.ttftAvg, ts.ttftP95 = append(ts.ttftAvg, pt{x, l.TTFT.Avg.F()}), append(ts.ttftP95, pt{x, l.TTFT.P95.F()})
		ts.tpotAvg, ts.tpotP95 = append(ts.tpotAvg, pt{x, l.TBT.Avg.F()}), append(ts.tpotP95, pt{x, l.TBT.P95.F()})
		ts.e2eAvg, ts.e2eP95 = append(ts.e2eAvg, pt{x, l.E2E.Avg.F()}), append(ts.e2eP95, pt{x, l.E2E.P95.F()})
		if u := l.Util.Avg.F(); !math.IsNaN(u) {
			ts.util = append(ts.util, pt{x, u})
		}
	}
	return ts
}

// cdf returns the cumulative distribution of v, thinned to maxPoints.
func cdf(v []float64) []pt {
	if len(v) == 0 {
		return nil
	}
	slices.Sort(v)
	step := max(1, len(v)/maxPoints)
	var out []pt
	for i := 0; i < len(v); i += step {
		out = append(out, pt{v[i], float64(i+1) / float64(len(v))})
	}
	return append(out, pt{v[len(v)-1], 1})
}

// scatter returns E2E against send time, split into successful, throttled
// and failed requests, each sampled down to maxDots.
func scatter(recs []Record) (ok, thr, fail []pt) {
	for _, r := range recs {
		p := pt{r.Send.F(), r.End.F() - r.Send.F()}
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
