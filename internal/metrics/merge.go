package metrics

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Part is one shard's results to merge: its summary.json and
// histograms.json.
type Part struct {
	Results *Results
	Hists   *HistFile
}

// Merge combines the results of the shards of one plan into the results
// of the whole: counts and token totals add up, the distributions are the
// shards' HDR histograms merged (exact, not percentiles averaged), and the
// rates are over the union of the shards' dispatch windows. slo is the
// plan's per-request objectives (goodput). It fails when a part has no
// histograms or a start time.
func Merge(parts []Part, slo SLO) (*Results, *Summary, error) {
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("nothing to merge")
	}
	s := NewSummary(slo)
	var start, end time.Time
	offered, offeredOK := 0.0, true
	var sent, heldBack, notSent, goodput, sessions int64
	var invalid []string
	var stopped []StopReason
	var entra *Entra
	for i, p := range parts {
		r := p.Results
		if p.Hists == nil {
			return nil, nil, fmt.Errorf("part %d: no histograms", i)
		}
		t0, err := time.Parse(time.RFC3339Nano, r.Start)
		if err != nil {
			return nil, nil, fmt.Errorf("part %d: start %q: %w", i, r.Start, err)
		}
		win := time.Duration(r.Window.F() * float64(time.Second))
		if start.IsZero() || t0.Before(start) {
			start = t0
		}
		if e := t0.Add(win); e.After(end) {
			end = e
		}
		if err := s.AddHistFile(p.Hists); err != nil {
			return nil, nil, fmt.Errorf("part %d: %w", i, err)
		}
		q := r.Requests
		for c, n := range map[Class]int64{OK: q.OK, Throttled: q.Throttled, HTTPStatus: q.HTTP, Timeout: q.Timeout,
			Connection: q.Connection, Stream: q.Stream, Incomplete: q.Incomplete} {
			s.Counts[c] += n
		}
		s.Attempts += q.Attempts
		if s.Warned += q.Warned; s.FirstWarning == "" {
			s.FirstWarning = q.FirstWarning
		}
		s.Throttles += q.ThrottledAttempts
		sent += q.Sent
		heldBack += q.HeldBack
		notSent += q.NotSent
		tk := r.Tokens
		s.PromptTokens += tk.Prompt
		s.OutputTokens += tk.Output
		s.VisibleTokens += tk.Visible
		s.ReasoningTokens += tk.Reasoning
		s.CachedTokens += tk.Cached
		s.CachedRequests += tk.CachedRequests
		s.CacheReported += tk.CacheReported
		s.Compared += tk.Compared
		s.Mismatched += tk.Mismatched
		// Totals the results keep as rates or means, back to counts: whole
		// numbers, so rounding undoes the division exactly.
		minutes := r.Window.F() / 60
		if v := r.TPM.Quota.F() * minutes; !math.IsNaN(v) {
			s.QuotaTokens += int64(math.Round(v))
		}
		if v := r.RPM.Goodput.F() * minutes; !math.IsNaN(v) {
			goodput += int64(math.Round(v))
		}
		if v := r.Tokens.MismatchMeanAbs.F() * float64(tk.Mismatched); !math.IsNaN(v) {
			s.MismatchAbs += int64(math.Round(v))
		}
		s.NewConns += r.Connections.New
		for proto, n := range r.Connections.Protocols {
			s.Protocols[proto] += n
		}
		if first := t0; s.firstSend.IsZero() || first.Before(s.firstSend) {
			s.firstSend = first
		}
		if last := t0.Add(time.Duration(r.Duration.F() * float64(time.Second))); last.After(s.lastEnd) {
			s.lastEnd = last
		}
		if o := r.RPM.Offered.F(); math.IsNaN(o) {
			offeredOK = false
		} else {
			offered += o
		}
		for _, why := range r.Invalid {
			invalid = append(invalid, fmt.Sprintf("part %d: %s", i, why))
		}
		if !slices.Contains(stopped, r.Stopped) {
			stopped = append(stopped, r.Stopped)
		}
		sessions += r.Sessions
		if e := r.Entra; e != nil {
			if entra == nil {
				entra = &Entra{}
			}
			entra.Refreshes += e.Refreshes
			entra.Failures += e.Failures
		}
	}
	s.goodput = goodput
	if !offeredOK {
		offered = math.NaN()
	}
	stop := StopMixed
	if len(stopped) == 1 {
		stop = stopped[0]
	}
	res := s.Results(Info{Start: start, Window: end.Sub(start), Stopped: stop,
		Offered: offered, Sent: sent, HeldBack: heldBack, NotSent: notSent, Invalid: invalid})
	res.Sessions, res.Entra = sessions, entra
	return res, s, nil
}
