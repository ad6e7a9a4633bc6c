package metrics

import (
	"math"
	"time"
)

// Summary accumulates whole-run figures from records. It is not safe for
// concurrent use: one goroutine owns it.
type Summary struct {
	Counts map[Class]int64 // requests by outcome

	// Hists are the latency distributions, by the names of Dists.
	Hists        map[string]*Hist
	TokensPerSec *Hist
	Util         *Hist // utilization percent

	PromptTokens, OutputTokens int64 // of successful requests
	VisibleTokens              int64
	ReasoningTokens            int64
	CachedTokens               int64
	CachedRequests             int64 // with a cache hit
	CacheReported              int64 // that said how much was cached
	QuotaTokens                int64 // prompt + max_tokens x n: Azure's admission count
	Attempts, Throttles        int64
	// Warned counts answers that broke the API's rules without failing
	// (Record.Warn); FirstWarning is the first such rule.
	Warned               int64
	FirstWarning         string
	Compared, Mismatched int64 // requests with both output counts; those that differ
	MismatchAbs          int64 // sum of |server - client|
	NewConns             int64
	Protocols            map[string]int64

	// Served splits successful requests by serving deployment: the
	// first maxServed names, then OtherDeployments.
	Served map[string]*served

	firstSend, lastEnd time.Time

	answers answers

	slo     SLO
	goodput int64
}

// maxServed is how many serving deployments a summary tells apart: a
// provisioned deployment and its spillover are two. The name is the
// server's x-ms-deployment-name, so a server that sends a new one with
// each answer would otherwise cost two histograms (about 380 KB) a
// request, and a line of the summary each.
const maxServed = 8

// OtherDeployments is the serving deployment the requests of every
// deployment past the first maxServed are counted under. Azure's
// deployment names cannot hold its parentheses.
const OtherDeployments = "(others)"

// served accumulates one serving deployment's figures.
type served struct {
	requests, spilled int64
	from              string
	ttft, e2e         *Hist
}

// SLO is a set of per-request objectives that goodput counts; a zero field
// is not checked.
type SLO struct {
	TTFT, TPOT, E2E time.Duration
}

// Met reports whether a successful record meets every objective.
func (s SLO) Met(r *Record) bool {
	if s.TTFT > 0 {
		if d, ok := r.TTFT(); !ok || d > s.TTFT {
			return false
		}
	}
	if s.TPOT > 0 {
		if d, ok := r.TPOT(); ok && d > s.TPOT {
			return false
		}
	}
	if s.E2E > 0 {
		if d, ok := r.E2E(); !ok || d > s.E2E {
			return false
		}
	}
	return true
}

// Set reports whether any objective is given.
func (s SLO) Set() bool { return s.TTFT > 0 || s.TPOT > 0 || s.E2E > 0 }

// NewSummary returns an empty summary that counts goodput against slo.
func NewSummary(slo SLO) *Summary {
	s := &Summary{
		Counts: map[Class]int64{}, Hists: map[string]*Hist{}, Protocols: map[string]int64{},
		TokensPerSec: NewRates(), Util: NewRates(), slo: slo,
	}
	for _, name := range Dists {
		s.Hists[name] = NewDurations()
	}
	return s
}

// Hist returns the named latency distribution.
func (s *Summary) Hist(name string) *Hist { return s.Hists[name] }

// Add folds one finished request into the summary.
func (s *Summary) Add(r *Record) {
	s.addAttempts(r)
	h := s.Hists
	h["lag"].addOK(r.Lag())
	h["headers"].addOK(r.HeadersTime())
	if !math.IsNaN(r.Util) {
		s.Util.AddValue(r.Util)
	}
	if r.Class != OK {
		h["failed"].addOK(r.E2E()) // time to failure
		return
	}
	s.addTokens(r)
	s.answers.add(r)
	if r.Deployment != "" {
		s.addServed(r)
	}
	s.addLatencies(r)
	if diff, both := r.TokenMismatch(); both {
		s.Compared++
		if diff != 0 {
			s.Mismatched++
			s.MismatchAbs += int64(abs(diff))
		}
	}
	if s.slo.Set() && s.slo.Met(r) {
		s.goodput++
	}
}

// addAttempts counts what every request has, failed or not: its outcome,
// attempts, warning, connections, and the span of the run it falls in.
func (s *Summary) addAttempts(r *Record) {
	s.Counts[r.Class]++
	s.Attempts += int64(r.Attempts)
	if r.Warn != "" {
		if s.Warned++; s.FirstWarning == "" {
			s.FirstWarning = r.Warn
		}
	}
	s.Throttles += int64(r.Throttles)
	s.NewConns += int64(r.NewConns)
	if r.Proto != "" {
		s.Protocols[r.Proto]++
	}
	if !r.Send.IsZero() && (s.firstSend.IsZero() || r.Send.Before(s.firstSend)) {
		s.firstSend = r.Send
	}
	if r.End.After(s.lastEnd) {
		s.lastEnd = r.End
	}
}

// addTokens adds a successful request's token counts, and its TTFT to
// the distribution of cached or uncached prompts.
func (s *Summary) addTokens(r *Record) {
	s.PromptTokens += int64(r.PromptTokens())
	s.OutputTokens += int64(r.OutputTokens())
	s.VisibleTokens += int64(r.VisibleTokens())
	s.ReasoningTokens += int64(max(r.ServerReasoning, 0))
	s.CachedTokens += int64(max(r.ServerCached, 0))
	if r.ServerCached >= 0 {
		s.CacheReported++
	}
	if r.ServerCached > 0 {
		s.CachedRequests++
		s.Hists["ttft_cached"].addOK(r.TTFT())
	} else {
		s.Hists["ttft_uncached"].addOK(r.TTFT())
	}
	s.QuotaTokens += int64(r.QuotaTokens())
}

// addServed counts a successful request under the deployment that served
// it (past maxServed names, under OtherDeployments).
func (s *Summary) addServed(r *Record) {
	name := r.Deployment
	if _, seen := s.Served[name]; !seen && len(s.Served) >= maxServed {
		name = OtherDeployments
	}
	sv := s.Served[name]
	if sv == nil {
		if s.Served == nil {
			s.Served = map[string]*served{}
		}
		sv = &served{ttft: NewDurations(), e2e: NewDurations()}
		s.Served[name] = sv
	}
	sv.requests++
	if r.SpilledFrom != "" {
		sv.spilled++
		sv.from = r.SpilledFrom
	}
	sv.ttft.addOK(r.TTFT())
	sv.e2e.addOK(r.E2E())
}

// addLatencies adds a successful request's times to the distributions:
// TTFT, end to end, TPOT and tokens per second, chunk gaps and ITL.
func (s *Summary) addLatencies(r *Record) {
	h := s.Hists
	h["ttft"].addOK(r.TTFT())
	h["ttft_sched"].addOK(r.TTFTSched())
	if !r.FirstReasoning.IsZero() {
		// Only a stream that reasons has two first moments to tell apart.
		h["ttft_content"].addOK(r.TTFTContent())
		h["ttft_reasoning"].addOK(r.TTFTReasoning())
	}
	h["e2e"].addOK(r.E2E())
	h["e2e_sched"].addOK(r.E2ESched())
	// Each choice is its own token stream: one TPOT sample each.
	r.ChoiceTPOTs(func(d time.Duration) {
		h["tpot"].Add(d)
		if d > 0 {
			s.TokensPerSec.AddValue(float64(time.Second) / float64(d))
		}
	})
	for _, d := range r.Chunks {
		h["chunk_gap"].Add(d)
	}
	// A gap before an event completing k tokens is k per-token samples of
	// gap/k. Shares of the server's count need not be whole: the samples
	// are counted by the running total, rounded, so that a record gives as
	// many samples as tokens, spread evenly.
	acc, given := 0.0, int64(0)
	for _, g := range r.Gaps {
		acc += g.Tokens
		n := int64(math.Round(acc)) - given
		given += n
		if n > 0 {
			h["itl"].AddN(time.Duration(float64(g.D)/g.Tokens), n)
		}
	}
}

// NotSent records a due request that never left, with the lag it had
// when the run ended.
func (s *Summary) NotSent(lag time.Duration) { s.Hists["not_sent_lag"].Add(lag) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Total returns the number of requests added.
func (s *Summary) Total() int64 {
	var n int64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Failures returns the requests that did not succeed.
func (s *Summary) Failures() int64 { return s.Total() - s.Counts[OK] }

// Wall is from the first t_send to the last t_end.
func (s *Summary) Wall() time.Duration {
	if s.firstSend.IsZero() || !s.lastEnd.After(s.firstSend) {
		return 0
	}
	return s.lastEnd.Sub(s.firstSend)
}

// Info is what a run knows of itself that its records do not say.
type Info struct {
	Start    time.Time
	Window   time.Duration // the dispatch window rates are over
	Stopped  StopReason
	Offered  float64 // requests per minute; NaN for a closed loop
	Sent     int64
	HeldBack int64
	NotSent  int64
	Invalid  []string // why the figures do not describe the offered rate
}

// Results returns summary.json's figures.
func (s *Summary) Results(in Info) *Results {
	perMin := func(n int64) Num {
		if in.Window <= 0 {
			return Num(math.NaN())
		}
		return Num(float64(n) / in.Window.Minutes())
	}
	r := &Results{
		Schema: Schema, Start: in.Start.UTC().Format(time.RFC3339Nano),
		Duration: seconds(s.Wall()), Window: seconds(in.Window), Stopped: in.Stopped,
		Valid: len(in.Invalid) == 0, Invalid: in.Invalid,
		Requests: Requests{
			Sent: in.Sent, OK: s.Counts[OK], HeldBack: in.HeldBack, NotSent: in.NotSent,
			Attempts: s.Attempts, ThrottledAttempts: s.Throttles, Warned: s.Warned, FirstWarning: s.FirstWarning,
			Throttled: s.Counts[Throttled], HTTP: s.Counts[HTTPStatus], Timeout: s.Counts[Timeout],
			Connection: s.Counts[Connection], Stream: s.Counts[Stream], Incomplete: s.Counts[Incomplete],
		},
		RPM: Rates{Offered: Num(in.Offered), Sent: perMin(in.Sent), Achieved: perMin(s.Counts[OK]), Goodput: Num(math.NaN())},
		TPM: TPM{Context: perMin(s.PromptTokens), Gen: perMin(s.OutputTokens), Total: perMin(s.PromptTokens + s.OutputTokens), Quota: perMin(s.QuotaTokens)},
		Tokens: Tokens{
			Prompt: s.PromptTokens, Output: s.OutputTokens, Visible: s.VisibleTokens, Reasoning: s.ReasoningTokens,
			Cached: s.CachedTokens, CachedRequests: s.CachedRequests, CacheReported: s.CacheReported, Compared: s.Compared, Mismatched: s.Mismatched,
			MismatchShare: Num(math.NaN()), MismatchMeanAbs: Num(math.NaN()),
		},
		Latency:     map[string]Dist{},
		TokensPerS:  s.TokensPerSec.Dist(200),
		Util:        s.Util.Dist(0),
		Connections: Connections{New: s.NewConns, Protocols: s.Protocols},
	}
	if in.Offered == 0 {
		r.RPM.Offered = Num(math.NaN())
	}
	if s.slo.Set() {
		r.RPM.Goodput = perMin(s.goodput)
	}
	if s.Compared > 0 {
		r.Tokens.MismatchShare = Num(float64(s.Mismatched) / float64(s.Compared))
	}
	if s.Mismatched > 0 {
		r.Tokens.MismatchMeanAbs = Num(float64(s.MismatchAbs) / float64(s.Mismatched))
	}
	for _, name := range Dists {
		r.Latency[name] = s.Hists[name].Dist(200)
	}
	spilled := false
	for _, sv := range s.Served {
		spilled = spilled || sv.spilled > 0
	}
	r.Answers = s.answers.results(s.Counts[OK])
	if len(s.Served) > 1 || spilled {
		r.Deployments = map[string]*Served{}
		for name, sv := range s.Served {
			r.Deployments[name] = &Served{Requests: sv.requests, Spilled: sv.spilled, From: sv.from, TTFT: sv.ttft.Dist(200), E2E: sv.e2e.Dist(200)}
		}
	}
	return r
}
