package report

import (
	"fmt"
	"math"
	"strconv"
)

// histograms bins each set of values into the same bins: about 30 of
// them, of a whole, round width, over the range of all the sets. Each
// result is a step series' points (see series.step); a set with no
// values gives none.
func histograms(sets ...[]float64) [][]pt {
	const maxBins = 100
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, vs := range sets {
		for _, v := range vs {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	out := make([][]pt, len(sets))
	if math.IsInf(lo, 0) {
		return out
	}
	width := math.Max(1, math.Ceil(niceStep(hi-lo, 30)))
	lo = math.Floor(lo/width) * width
	// About 30 bins; never more than maxBins, whatever the values.
	bins := buckets(hi-lo, width)
	if bins > maxBins {
		bins = maxBins
		width = (hi - lo) / (maxBins - 1)
	}
	for k, vs := range sets {
		if len(vs) == 0 {
			continue
		}
		counts := make([]float64, bins)
		for _, v := range vs {
			counts[bucketOf(v-lo, width, bins)]++
		}
		p := make([]pt, 0, bins+1)
		for i, c := range counts {
			p = append(p, pt{lo + float64(i)*width, c})
		}
		out[k] = append(p, pt{lo + float64(bins)*width, 0})
	}
	return out
}

// oneValue returns the value every element of every set has, and false
// when they differ or there are none.
func oneValue(sets ...[]float64) (float64, bool) {
	v, some := 0.0, false
	for _, vs := range sets {
		for _, x := range vs {
			if some && x != v {
				return 0, false
			}
			v, some = x, true
		}
	}
	return v, some
}

// trafficCharts are what the runs sent and what the endpoint made of it:
// prompt and output lengths as sent and as served, TTFT against prompt
// length with cache hits told apart, and TTFT by turn for conversations.
// A length that never varied is a note, not a chart of one bar.
func trafficCharts(runs []*Run) (charts, notes []string) {
	var prompts, outputs, turns []series
	var sentP, servedP, asked, served [][]float64
	for i, r := range runs {
		l := lengthsOf(r)
		sentP, servedP, asked, served = append(sentP, l.sent), append(servedP, l.served), append(asked, l.asked), append(served, l.output)
		h := histograms(l.sent, l.served)
		prompts = append(prompts, series{name: r.Name + " as sent (client count)", color: colorOf(i), dashed: true, step: true, pts: h[0]},
			series{name: r.Name + " as served (server count)", color: colorOf(i), step: true, pts: h[1]})
		h = histograms(l.asked, l.output)
		outputs = append(outputs, series{name: r.Name + " asked (max_tokens)", color: colorOf(i), dashed: true, step: true, pts: h[0]},
			series{name: r.Name + " served", color: colorOf(i), step: true, pts: h[1]})
		turns = append(turns, turnSeries(r, i)...)
	}
	if v, ok := oneValue(append(sentP, servedP...)...); ok {
		notes = append(notes, fmt.Sprintf("Every prompt was %s tokens, as sent and as served.", strconv.FormatFloat(v, 'f', -1, 64)))
	} else {
		charts = append(charts, countChart("Prompt tokens per request", "prompt tokens", "requests", prompts))
	}
	out := false // embeddings have no output: no chart of zeros
	for _, vs := range served {
		for _, v := range vs {
			out = out || v > 0
		}
	}
	if v, ok := oneValue(append(asked, served...)...); ok && out {
		note := fmt.Sprintf("Every answer was %s tokens", strconv.FormatFloat(v, 'f', -1, 64))
		if _, any := oneValue(asked...); any {
			note += ", as many as max_tokens asked"
		}
		notes = append(notes, note+".")
	} else if out {
		charts = append(charts, countChart("Output tokens per request", "output tokens", "requests", outputs))
	}
	for i, r := range runs {
		if c := ttftByPrompt(r, i); c != "" {
			charts = append(charts, c)
		}
	}
	charts = append(charts, countChart("TTFT by turn of the conversation", "turn", "ms", turns))
	return charts, notes
}

// lengths are a run's request lengths, in tokens, the warmup's left out:
// prompts as sent (the client's count) and as served (the server's, of
// successful requests), the output asked (max_tokens) and served.
type lengths struct {
	sent, served, asked, output []float64
}

// lengthsOf reads a run's request lengths from its records.
func lengthsOf(r *Run) lengths {
	var l lengths
	for _, rec := range r.Records {
		if rec.Warmup {
			continue // left out of the figures
		}
		if v := rec.ClientPrompt.F(); v >= 0 {
			l.sent = append(l.sent, v)
		}
		if v := rec.MaxTokens.F(); v > 0 {
			l.asked = append(l.asked, v)
		}
		if rec.Class != "ok" {
			continue
		}
		if v := rec.ServerPrompt.F(); v >= 0 {
			l.served = append(l.served, v)
		}
		l.output = append(l.output, float64(rec.OutputTokens))
	}
	return l
}

// turnSeries are run i's TTFT p50 and p95 by turn of its conversations;
// none for a run without turns.
func turnSeries(r *Run, i int) []series {
	s := r.Summary
	if s == nil || len(s.Turns) == 0 {
		return nil
	}
	var p50, p95 []pt
	for _, t := range s.Turns {
		l := t.Results.Latency["ttft"]
		p50 = append(p50, pt{float64(t.Turn), 1e3 * l.P50.F()})
		p95 = append(p95, pt{float64(t.Turn), 1e3 * l.P95.F()})
	}
	return []series{{name: r.Name + " p50", color: colorOf(i), pts: p50},
		{name: r.Name + " p95", color: colorOf(i), dashed: true, pts: p95}}
}

// ttftByPrompt charts run i's TTFT of each successful request against its
// prompt's length, cache hits told apart when the server reports them;
// "" when every prompt had one length (TTFT over time says it all).
func ttftByPrompt(r *Run, i int) string {
	var hit, miss []pt
	var lengths []float64
	cache := false
	for _, rec := range r.Records {
		if rec.Class != "ok" || rec.Warmup || math.IsNaN(rec.TTFT.F()) {
			continue
		}
		p := pt{float64(rec.PromptTokens), 1e3 * rec.TTFT.F()}
		lengths = append(lengths, p.x)
		cache = cache || !math.IsNaN(rec.Cached.F())
		if rec.Cached.F() > 0 {
			hit = append(hit, p)
		} else {
			miss = append(miss, p)
		}
	}
	if _, one := oneValue(lengths); one {
		return ""
	}
	ss := []series{{name: "each request", color: colorOf(i), dots: true, pts: sample(miss)}}
	if cache {
		share := ""
		if s := r.Summary; s != nil && !math.IsNaN(s.CachedShare()) {
			share = " (" + strconv.FormatFloat(100*s.CachedShare(), 'f', 1, 64) + "% of all prompt tokens cached)"
		}
		ss = []series{{name: "no cache hit", color: colorOf(i), dots: true, pts: sample(miss)},
			{name: "prompt cache hit" + share, color: colorOf(i), cross: true, pts: sample(hit)}}
	}
	return draw(spec{title: "TTFT by prompt tokens", note: r.Name, xlab: "prompt tokens", ylab: "ms", ss: ss, wholeX: true})
}
