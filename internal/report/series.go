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

// timeSeries are a run's figures per interval of run time.
type timeSeries struct {
	rpm, ctxTPM, genTPM, inflight, throttled, failed   []pt
	ttftAvg, ttftP95, tpotAvg, tpotP95, e2eAvg, e2eP95 []pt
	util                                               []pt
}

func (r *Run) series() timeSeries {
	if len(r.Records) > 0 {
		return recordSeries(r.Records)
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

// recordSeries buckets requests by completion time.
func recordSeries(recs []Record) timeSeries {
	end := 0.0
	for _, r := range recs {
		end = math.Max(end, r.End.F())
	}
	width := math.Max(1, math.Ceil(end/maxPoints))
	n := int(end/width) + 1
	type bucket struct {
		ok, thr, fail      int
		ctx, gen           float64
		ttft, tpot, e2e, u []float64
	}
	bs := make([]bucket, n)
	var edges []pt // +1 at send, -1 at end, for requests in flight
	for _, r := range recs {
		e := r.End.F()
		if math.IsNaN(e) {
			continue
		}
		if s := r.Send.F(); !math.IsNaN(s) {
			edges = append(edges, pt{s, 1}, pt{e, -1})
		}
		b := &bs[min(int(e/width), n-1)]
		switch r.Class {
		case "ok":
			b.ok++
			b.ctx += float64(r.PromptTokens)
			b.gen += float64(r.OutputTokens)
			b.ttft = appendOK(b.ttft, r.TTFT.F())
			b.tpot = appendOK(b.tpot, r.TPOT.F())
			b.e2e = appendOK(b.e2e, r.E2E.F())
		case "throttled":
			b.thr++
		default:
			b.fail++
		}
		b.u = appendOK(b.u, r.Util.F())
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
	var ts timeSeries
	ei, level := 0, 0.0
	// RPM and TPM over a trailing minute (or the elapsed time before a
	// minute has passed), as the live line computes them.
	win := max(1, int(math.Round(60/width)))
	var ok, ctx, gen float64
	for i, b := range bs {
		x := float64(i+1) * width
		for ei < len(edges) && edges[ei].x <= x {
			level += edges[ei].y
			ei++
		}
		ok, ctx, gen = ok+float64(b.ok), ctx+b.ctx, gen+b.gen
		if i >= win {
			old := bs[i-win]
			ok, ctx, gen = ok-float64(old.ok), ctx-old.ctx, gen-old.gen
		}
		perMin := 60 / (float64(min(i+1, win)) * width)
		ts.rpm = append(ts.rpm, pt{x, ok * perMin})
		ts.ctxTPM = append(ts.ctxTPM, pt{x, ctx * perMin})
		ts.genTPM = append(ts.genTPM, pt{x, gen * perMin})
		ts.inflight = append(ts.inflight, pt{x, level})
		ts.throttled = append(ts.throttled, pt{x, float64(b.thr)})
		ts.failed = append(ts.failed, pt{x, float64(b.fail)})
		a, p := avgP95(b.ttft)
		ts.ttftAvg, ts.ttftP95 = append(ts.ttftAvg, pt{x, a}), append(ts.ttftP95, pt{x, p})
		a, p = avgP95(b.tpot)
		ts.tpotAvg, ts.tpotP95 = append(ts.tpotAvg, pt{x, a}), append(ts.tpotP95, pt{x, p})
		a, p = avgP95(b.e2e)
		ts.e2eAvg, ts.e2eP95 = append(ts.e2eAvg, pt{x, a}), append(ts.e2eP95, pt{x, p})
		if len(b.u) > 0 {
			a, _ = avgP95(b.u)
			ts.util = append(ts.util, pt{x, a})
		}
	}
	return ts
}

func appendOK(v []float64, x float64) []float64 {
	if math.IsNaN(x) {
		return v
	}
	return append(v, x)
}

// lineSeries reads the live lines (windowed figures, as logged).
func lineSeries(lines []Line) timeSeries {
	var ts timeSeries
	step := max(1, len(lines)/maxPoints)
	prevThr, prevFail := 0.0, 0.0
	for i, l := range lines {
		x := l.RunSeconds.F()
		thr, fail := l.Throttled.F(), l.Failures.F()
		if i%step != 0 && i != len(lines)-1 {
			continue
		}
		ts.rpm = append(ts.rpm, pt{x, l.RPM.F()})
		ts.ctxTPM = append(ts.ctxTPM, pt{x, l.TPM.Context.F()})
		ts.genTPM = append(ts.genTPM, pt{x, l.TPM.Gen.F()})
		ts.inflight = append(ts.inflight, pt{x, l.Processing.F()})
		ts.throttled = append(ts.throttled, pt{x, math.Max(thr-prevThr, 0)})
		ts.failed = append(ts.failed, pt{x, math.Max(fail-prevFail, 0)})
		prevThr, prevFail = thr, fail
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
