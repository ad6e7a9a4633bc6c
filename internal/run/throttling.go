package run

import (
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// throttling gathers what a run learns of a quota: when the first 429
// came, what the admitted requests of the minute before it counted against
// a standard quota (prompt + max_tokens), and the x-ratelimit-* headers
// seen. The aggregator alone uses it.
type throttling struct {
	admitted   []admission // requests the endpoint admitted, kept near the first 429
	first      time.Duration
	seen       bool // a 429 came
	latest     time.Duration
	limitTok   int
	limitReq   int
	remainMin  int
	retryAfter []time.Duration
}

type admission struct {
	at    time.Duration // t_send, from the start
	quota int32
}

// most admissions kept: far more than a minute of the highest rate a
// machine sends, so that memory stays flat.
const mostAdmissions = 1 << 18

func (t *throttling) add(r *metrics.Record, start time.Time) {
	if r.Send.IsZero() {
		return
	}
	at := r.Send.Sub(start)
	t.latest = max(t.latest, at)
	t.limitTok, t.limitReq = max(t.limitTok, r.LimitTokens), max(t.limitReq, r.LimitRequests)
	if r.RemainingTokens >= 0 && (!t.seen || at < t.first) && (t.remainMin == 0 || r.RemainingTokens < t.remainMin) {
		t.remainMin = r.RemainingTokens
	}
	switch {
	case r.Throttles > 0:
		if !t.seen || at < t.first {
			t.first, t.seen = at, true
		}
		if len(t.retryAfter) < 1000 && r.RetryAfter > 0 {
			t.retryAfter = append(t.retryAfter, r.RetryAfter)
		}
	case r.Status >= 200 && r.Status < 300:
		t.admitted = append(t.admitted, admission{at, int32(min(r.QuotaTokens(), math.MaxInt32))})
	}
	if len(t.admitted) > mostAdmissions {
		// Keep what the reading can still need: the minute before the
		// first 429, or, before one came, the last two minutes.
		lo, hi := t.latest-2*time.Minute, time.Duration(math.MaxInt64)
		if t.seen {
			lo, hi = t.first-time.Minute, t.first
		}
		k := 0
		for _, a := range t.admitted {
			if a.at >= lo && a.at <= hi {
				t.admitted[k] = a
				k++
			}
		}
		t.admitted = t.admitted[:k]
	}
}

// reading returns what the run learned, nil when nothing was throttled.
func (t *throttling) reading() *metrics.Throttling {
	if !t.seen {
		return nil
	}
	var tokens, reqs int64
	for _, a := range t.admitted {
		if a.at >= t.first-time.Minute && a.at < t.first {
			tokens += int64(a.quota)
			reqs++
		}
	}
	// The minute before the first 429, or the time since the start when
	// it came sooner.
	span := min(t.first, time.Minute)
	out := &metrics.Throttling{FirstAt: metrics.Num(t.first.Seconds()), QuotaTPM: metrics.Num(math.NaN()), RPMBefore: metrics.Num(math.NaN()),
		Span:        metrics.Num(span.Seconds()),
		LimitTokens: t.limitTok, LimitRequests: t.limitReq, RemainingTokensMin: t.remainMin, RetryAfterP50: metrics.Num(math.NaN())}
	// A quota is a sliding minute: what it admitted in the minute before
	// the first refusal is its size, whether the minute had passed or not.
	out.QuotaTPM, out.RPMBefore = metrics.Num(tokens), metrics.Num(reqs)
	if n := len(t.retryAfter); n > 0 {
		h := metrics.NewDurations()
		for _, d := range t.retryAfter {
			h.Add(d)
		}
		out.RetryAfterP50 = h.Stats().P50
	}
	return out
}
