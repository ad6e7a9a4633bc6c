package metrics

import (
	"math"
	"time"
)

// Summary accumulates whole-run figures from records. It is not safe for
// concurrent use: one goroutine owns it.
type Summary struct {
	Counts map[Class]int64 // requests by outcome

	TTFT, TTFTSched, Headers, E2E, E2ESched, TPOT, ITL, Gap, Lag *Hist
	Failed                                                       *Hist // time to failure
	TokensPerSec                                                 *Hist

	PromptTokens, OutputTokens int64 // of successful requests
	Attempts, Throttles        int64
	Compared, Mismatched       int64 // requests with both output counts; those that differ
	MismatchAbs                int64 // sum of |server - client|

	Util *Hist // utilization percent x 1000 (rates histogram)

	firstSend, lastEnd time.Time

	slo     SLO
	goodput int64
}

// SLO is a set of service-level objectives; a zero field is not checked.
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
	return &Summary{
		Counts: map[Class]int64{},
		TTFT:   NewDurations(), TTFTSched: NewDurations(), Headers: NewDurations(),
		E2E: NewDurations(), E2ESched: NewDurations(), TPOT: NewDurations(),
		ITL: NewDurations(), Gap: NewDurations(), Lag: NewDurations(),
		Failed: NewDurations(), TokensPerSec: NewRates(), Util: NewRates(),
		slo: slo,
	}
}

// Add folds one finished request into the summary.
func (s *Summary) Add(r *Record) {
	s.Counts[r.Class]++
	s.Attempts += int64(r.Attempts)
	s.Throttles += int64(r.Throttles)
	if !r.Send.IsZero() && (s.firstSend.IsZero() || r.Send.Before(s.firstSend)) {
		s.firstSend = r.Send
	}
	if r.End.After(s.lastEnd) {
		s.lastEnd = r.End
	}
	s.Lag.addOK(r.Lag())
	s.Headers.addOK(r.Headers())
	if !math.IsNaN(r.Util) {
		s.Util.AddValue(r.Util)
	}
	if r.Class != OK {
		s.Failed.addOK(r.E2E()) // time to failure
		return
	}
	s.PromptTokens += int64(r.PromptTokens())
	s.OutputTokens += int64(r.OutputTokens())
	s.TTFT.addOK(r.TTFT())
	s.TTFTSched.addOK(r.TTFTSched())
	s.E2E.addOK(r.E2E())
	s.E2ESched.addOK(r.E2ESched())
	s.TPOT.addOK(r.TPOT())
	if v, ok := r.TokensPerSec(); ok {
		s.TokensPerSec.AddValue(v)
	}
	for _, g := range r.Gaps {
		s.Gap.Add(g.D)
		// A gap before an event carrying k tokens is k per-token samples
		// of gap/k.
		k := max(g.Tokens, 1)
		s.ITL.AddN(g.D/time.Duration(k), int64(k))
	}
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

// Duration is from the first t_send to the last t_end.
func (s *Summary) Duration() time.Duration {
	if s.firstSend.IsZero() || !s.lastEnd.After(s.firstSend) {
		return 0
	}
	return s.lastEnd.Sub(s.firstSend)
}

// perMinute divides n by the run's duration in minutes (NaN if none).
func (s *Summary) perMinute(n int64) float64 {
	d := s.Duration()
	if d <= 0 {
		return nan
	}
	return float64(n) / d.Minutes()
}

// RPM is successful requests per minute over the whole run.
func (s *Summary) RPM() float64 { return s.perMinute(s.Counts[OK]) }

// TPM returns context, generated and total tokens per minute.
func (s *Summary) TPM() (context, gen, total float64) {
	return s.perMinute(s.PromptTokens), s.perMinute(s.OutputTokens), s.perMinute(s.PromptTokens + s.OutputTokens)
}

// Goodput returns successful requests per minute meeting the SLO, and false
// when no SLO was given.
func (s *Summary) Goodput() (float64, bool) {
	if !s.slo.Set() {
		return nan, false
	}
	return s.perMinute(s.goodput), true
}

// MismatchShare is the share of compared requests whose server and client
// output counts differ (NaN if none were compared).
func (s *Summary) MismatchShare() float64 {
	if s.Compared == 0 {
		return nan
	}
	return float64(s.Mismatched) / float64(s.Compared)
}
