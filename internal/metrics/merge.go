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
	m := merger{s: NewSummary(slo), offeredOK: true}
	for i, p := range parts {
		if err := m.add(i, p); err != nil {
			return nil, nil, fmt.Errorf("part %d: %w", i, err)
		}
	}
	return m.results(), m.s, nil
}

// merger is Merge's sum of the parts so far: the summary, and what the
// results keep outside it.
type merger struct {
	s                                          *Summary
	start, end                                 time.Time // the union of the dispatch windows
	offered                                    float64
	offeredOK                                  bool // every part knew its offered rate
	sent, heldBack, notSent, goodput, sessions int64
	invalid                                    []string
	stopped                                    []StopReason
	entra                                      *Entra
}

// add adds part i.
func (m *merger) add(i int, p Part) error {
	r, s := p.Results, m.s
	if p.Hists == nil {
		return fmt.Errorf("no histograms")
	}
	t0, err := time.Parse(time.RFC3339Nano, r.Start)
	if err != nil {
		return fmt.Errorf("start %q: %w", r.Start, err)
	}
	win := time.Duration(r.Window.F() * float64(time.Second))
	if m.start.IsZero() || t0.Before(m.start) {
		m.start = t0
	}
	if e := t0.Add(win); e.After(m.end) {
		m.end = e
	}
	if err := s.AddHistFile(p.Hists); err != nil {
		return err
	}
	m.addRequests(r.Requests)
	m.addTokens(r)
	s.answers.merge(r.Answers)
	if r.Answers == nil {
		if err := s.answers.textPart(r.Requests.OK, r.Tokens.Output, p.Hists.Latency); err != nil {
			return err
		}
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
		m.offeredOK = false
	} else {
		m.offered += o
	}
	for _, why := range r.Invalid {
		m.invalid = append(m.invalid, fmt.Sprintf("part %d: %s", i, why))
	}
	if !slices.Contains(m.stopped, r.Stopped) {
		m.stopped = append(m.stopped, r.Stopped)
	}
	m.sessions += r.Sessions
	if e := r.Entra; e != nil {
		if m.entra == nil {
			m.entra = &Entra{}
		}
		m.entra.Refreshes += e.Refreshes
		m.entra.Failures += e.Failures
	}
	return nil
}

// addRequests adds a part's request counts.
func (m *merger) addRequests(q Requests) {
	s := m.s
	for c, n := range map[Class]int64{OK: q.OK, Throttled: q.Throttled, HTTPStatus: q.HTTP, Timeout: q.Timeout,
		Connection: q.Connection, Stream: q.Stream, Incomplete: q.Incomplete} {
		s.Counts[c] += n
	}
	s.Attempts += q.Attempts
	if s.Warned += q.Warned; s.FirstWarning == "" {
		s.FirstWarning = q.FirstWarning
	}
	s.Throttles += q.ThrottledAttempts
	m.sent += q.Sent
	m.heldBack += q.HeldBack
	m.notSent += q.NotSent
}

// addTokens adds a part's token totals, and the totals its results keep
// as rates or means, back to counts: whole numbers, so rounding undoes
// the division exactly.
func (m *merger) addTokens(r *Results) {
	s, tk := m.s, r.Tokens
	s.PromptTokens += tk.Prompt
	s.OutputTokens += tk.Output
	s.VisibleTokens += tk.Visible
	s.ReasoningTokens += tk.Reasoning
	s.CachedTokens += tk.Cached
	s.CachedRequests += tk.CachedRequests
	s.CacheReported += tk.CacheReported
	s.Compared += tk.Compared
	s.Mismatched += tk.Mismatched
	minutes := r.Window.F() / 60
	if v := r.TPM.Quota.F() * minutes; !math.IsNaN(v) {
		s.QuotaTokens += int64(math.Round(v))
	}
	if v := r.RPM.Goodput.F() * minutes; !math.IsNaN(v) {
		m.goodput += int64(math.Round(v))
	}
	if v := r.Tokens.MismatchMeanAbs.F() * float64(tk.Mismatched); !math.IsNaN(v) {
		s.MismatchAbs += int64(math.Round(v))
	}
}

// results are the merged results.
func (m *merger) results() *Results {
	m.s.goodput = m.goodput
	offered := m.offered
	if !m.offeredOK {
		offered = math.NaN()
	}
	stop := StopMixed
	if len(m.stopped) == 1 {
		stop = m.stopped[0]
	}
	res := m.s.Results(Info{Start: m.start, Window: m.end.Sub(m.start), Stopped: stop,
		Offered: offered, Sent: m.sent, HeldBack: m.heldBack, NotSent: m.notSent, Invalid: m.invalid})
	res.Sessions, res.Entra = m.sessions, m.entra
	return res
}
