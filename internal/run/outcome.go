package run

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// The verdicts of a finished run, as functions of the plan, the schedule
// and the summary alone (no goroutine, no clock), so that each is
// table-tested: the window the rates are over, the rate offered, the
// requests due and not sent, why the figures may not be valid, the quota
// and how the rates must be read.

// maxLag is the schedule lag past which the load generator is behind: a
// request that leaves this late does not test the offered rate. At low
// rates a lag is judged against the gap between requests: 11 ms does not
// change a rate of one a second.
const maxLag = 10 * time.Millisecond

// lagLimit is maxLag, or 5% of the mean gap between requests at rate (per
// minute) when that is longer.
func lagLimit(rate float64) time.Duration {
	if !(rate > 0) {
		return maxLag
	}
	return max(maxLag, time.Duration(0.05*60e9/rate))
}

// span is what a finished dispatch was: why it stopped, how long it ran,
// what the plan asked (the duration, the warmup, the request count), and
// whether its unit was the conversation.
type span struct {
	stopped        metrics.StopReason
	dispatch       time.Duration // how long dispatch ran
	length, warmup time.Duration // the plan's (0: no duration)
	requests       int64         // the plan's (or the shard's) count, 0: none
	sessions       bool          // the schedule starts conversations
}

// window is the dispatch window that achieved rates are over
// (docs/metrics.md): for a closed loop (no pacer), first send to last
// end (wall); for an open loop, the configured duration, or, stopped by
// its request count, the time those requests were due over; else the
// time dispatch ran. The warmup is not part of it.
func window(sp span, pacer pace.Pacer, wall time.Duration) time.Duration {
	end := sp.dispatch
	switch {
	case pacer == nil:
		// A closed loop's last round ends after the duration: its rate is
		// what it completed over the time it took.
		if wall > 0 {
			return wall
		}
	case sp.stopped == metrics.StopDuration:
		end = sp.length
	case sp.stopped == metrics.StopRequests && !sp.sessions:
		if d, ok := pacer.Clone().Due(sp.requests); ok {
			end = d
		}
	}
	return max(end-sp.warmup, 0)
}

// offered is the mean offered rate from a to b of one of shards: the rate
// (nil for none), the stages' integral over the span, or what a trace's
// offsets held in it; NaN for a closed loop.
func offered(rate *float64, stages *pace.Stages, pacer pace.Pacer, shards int, a, b time.Duration) float64 {
	if rate != nil {
		return *rate / float64(shards) // a shard's share
	}
	switch {
	case pacer == nil || b <= a:
		return math.NaN()
	case stages != nil:
		return (stages.Integral(b) - stages.Integral(a)) * 60 / (b - a).Seconds() / float64(shards)
	}
	p := pacer.Clone()
	return float64(p.Count(b)-p.Count(a)) * 60 / (b - a).Seconds()
}

// mostNotSent bounds the requests notSent looks at: a run that fell far
// behind at a huge rate must not spend minutes counting what it did not
// send.
const mostNotSent = 1_000_000

// notSent counts the requests that were due before dispatch stopped but
// never left (the clients cap held them back), telling lag the lag each
// had when the run ended.
func notSent(pacer pace.Pacer, sp span, sent int64, lag func(time.Duration)) int64 {
	end := sp.dispatch
	if sp.stopped == metrics.StopDuration {
		end = sp.length
	}
	p := pacer.Clone()
	due := p.Count(end)
	if sp.requests > 0 {
		due = min(due, sp.requests)
	}
	for n := sent; n < due && n < sent+mostNotSent; n++ {
		d, ok := p.Due(n)
		if !ok {
			break
		}
		lag(end - d)
	}
	return max(due-sent, 0)
}

// stageSpan is where one stage of a ramp was: from its begin to its end,
// and the part of it its figures are over (from the warmup's end, to
// where dispatch stopped).
type stageSpan struct {
	begin, end, from, to time.Duration
}

// stageSpans are the spans of a ramp's stages in a finished dispatch.
func stageSpans(stages []plan.Stage, sp span) []stageSpan {
	var out []stageSpan
	begin := time.Duration(0)
	for _, st := range stages {
		end := begin + st.Duration.D()
		s := stageSpan{begin: begin, end: end, from: max(begin, sp.warmup), to: end}
		if sp.stopped != metrics.StopDuration {
			s.to = min(s.to, sp.dispatch)
		}
		out = append(out, s)
		begin = end
	}
	return out
}

// invalid says why an open-loop run's figures do not describe its offered
// rate: the schedule lag, the send rate, the clients cap. lag is the
// run's schedule lag; clients its cap; sessions that its schedule's unit
// is the conversation.
func invalid(res *metrics.Results, lag metrics.Dist, clients int, sessions bool) []string {
	var why []string
	if limit := lagLimit(res.RPM.Offered.F()); lag.Count > 0 && lag.P99.F() > limit.Seconds() {
		why = append(why, fmt.Sprintf("schedule lag p99 %.1f ms: requests left late (past %v)", lag.P99.F()*1e3, limit))
	}
	sent, unit := res.Requests.Sent, "requests"
	if sessions {
		sent, unit = res.Sessions, "conversations"
	}
	due := float64(sent + res.Requests.NotSent)
	if due > 0 && float64(sent) < 0.99*due {
		why = append(why, fmt.Sprintf("sent %d of %d due %s (%.1f%%)", sent, int64(due), unit, 100*float64(sent)/due))
	}
	if res.Requests.HeldBack > 0 {
		why = append(why, fmt.Sprintf("the --clients cap of %d held back %d due requests", clients, res.Requests.HeldBack))
	}
	return why
}

// retracted says why the live line's warnings that the run was behind
// (when, and why) did not make its figures not valid: over the whole
// run, its lag p99 (seconds) is within limit.
func retracted(when []string, lagP99 float64, limit time.Duration) string {
	return fmt.Sprintf("the live line warned the load generator was behind %s; over the whole run, schedule lag p99 %.1f ms is within %v and every due request left: valid",
		strings.Join(when, ", "), lagP99*1e3, limit)
}

// quota is the deployment's per-minute limit as far as the run knows it:
// the built-in simulator's own (builtIn), else the largest
// x-ratelimit-limit-* headers the endpoint sent; nil when neither.
func quota(p *plan.Plan, builtIn bool, limitTok, limitReq int) *metrics.Quota {
	if builtIn && p.Target.URL == "" {
		if tpm, rpm := p.Target.Sim[0].Quota(); tpm > 0 {
			return &metrics.Quota{TPM: int64(tpm), RPM: int64(rpm), Source: "simulator"}
		}
		return nil
	}
	if limitTok > 0 || limitReq > 0 {
		return &metrics.Quota{TPM: int64(limitTok), RPM: int64(limitReq), Source: "x-ratelimit-limit"}
	}
	return nil
}

// perMinute reports whether the deployment's limits are counted per
// minute: a standard Azure deployment (the simulator's, one that
// announced its limits, or any endpoint spoken to as Azure).
func perMinute(p *plan.Plan, dialect api.API, announced bool) bool {
	if p.Target.URL == "" {
		return p.Target.Sim[0].Type != "provisioned"
	}
	return announced || dialect == api.Azure || dialect == api.AzureV1
}

// caveats say how a run's rates must be read: scaled to a minute from a
// dispatch window shorter than the quota's minute, or above what the
// quota allows in a whole minute (possible only in less than one).
func caveats(res *metrics.Results, perMinute bool) []string {
	var out []string
	w := res.Window.F()
	if perMinute && w > 0 && w < 60 {
		out = append(out, fmt.Sprintf("rates are per minute, scaled from %.1f s of dispatch: a standard deployment's quota counts a sliding minute, which this run did not fill", w))
	}
	return append(out, res.OverQuota()...)
}
