// Package metrics turns per-request records into the figures defined in
// shared/spec/metrics.md: per-request latencies, windowed throughput, and
// whole-run distributions kept in HDR histograms.
package metrics

import (
	"time"
)

// Class says how a request ended.
type Class string

// Request outcomes. OK is the only success.
const (
	OK         Class = "ok"
	Throttled  Class = "throttled"  // HTTP 429
	HTTPStatus Class = "http"       // any other non-2xx status
	Timeout    Class = "timeout"    // --request-timeout passed
	Connection Class = "connection" // dial, TLS, reset before the response
	Stream     Class = "stream"     // broken stream: error event, bad JSON, EOF before finish
	Incomplete Class = "incomplete" // cut off when the run ended
)

// Classes lists every failure class in report order.
var Classes = []Class{Throttled, HTTPStatus, Timeout, Connection, Stream, Incomplete}

// Gap is the time between two output-bearing events and the tokens the
// later event carried.
type Gap struct {
	D      time.Duration
	Tokens int
}

// Record is everything measured about one request. Times carry Go's
// monotonic clock reading; a zero time means the moment never came.
type Record struct {
	ID    int64
	Sched time.Time // when the schedule intended the request to go
	Send  time.Time // first attempt handed to the transport
	Hdr   time.Time // status line and headers of the last attempt
	First time.Time // first output-bearing event
	Last  time.Time // last output-bearing event
	End   time.Time // stream over, or the request failed

	Status    int // HTTP status of the last attempt, 0 if none
	Attempts  int
	Throttles int // attempts answered 429
	Class     Class
	Err       string // short reason for a failure

	ServerPrompt int // usage.prompt_tokens, -1 if not reported
	ServerOutput int // usage.completion_tokens, -1 if not reported
	ClientPrompt int // the tokenizer's count of the prompt
	ClientOutput int // the tokenizer's count of the output text, -1 if no text was counted
	Events       int // output-bearing events
	Gaps         []Gap
	Finish       string // finish_reason

	RequestID         string  // apim-request-id (or x-request-id)
	Util              float64 // azure-openai-deployment-utilization, percent; NaN if absent
	RemainingRequests int     // x-ratelimit-remaining-requests, -1 if absent
	RemainingTokens   int     // x-ratelimit-remaining-tokens, -1 if absent
	// RetryAfter is the last attempt's retry-after-ms or retry-after.
	RetryAfter time.Duration
}

// NewRecord returns a record with every optional figure marked absent.
func NewRecord(id int64, sched time.Time) *Record {
	return &Record{
		ID: id, Sched: sched,
		ServerPrompt: -1, ServerOutput: -1, ClientOutput: -1,
		Util: nan, RemainingRequests: -1, RemainingTokens: -1,
	}
}

// PromptTokens is the server's count when reported, else the client's.
func (r *Record) PromptTokens() int {
	if r.ServerPrompt >= 0 {
		return r.ServerPrompt
	}
	return r.ClientPrompt
}

// OutputTokens is the server's count when reported, else the client's count
// of the output text.
func (r *Record) OutputTokens() int {
	if r.ServerOutput >= 0 {
		return r.ServerOutput
	}
	return max(r.ClientOutput, 0)
}

// TTFT is t_first - t_send.
func (r *Record) TTFT() (time.Duration, bool) { return since(r.First, r.Send) }

// TTFTSched is t_first - t_sched.
func (r *Record) TTFTSched() (time.Duration, bool) { return since(r.First, r.Sched) }

// Headers is t_hdr - t_send.
func (r *Record) Headers() (time.Duration, bool) { return since(r.Hdr, r.Send) }

// E2E is t_end - t_send.
func (r *Record) E2E() (time.Duration, bool) { return since(r.End, r.Send) }

// E2ESched is t_end - t_sched.
func (r *Record) E2ESched() (time.Duration, bool) { return since(r.End, r.Sched) }

// Lag is the schedule lag t_send - t_sched.
func (r *Record) Lag() (time.Duration, bool) { return since(r.Send, r.Sched) }

// TPOT is (t_last - t_first) / (output_tokens - 1), for two or more tokens.
func (r *Record) TPOT() (time.Duration, bool) {
	n := r.OutputTokens()
	if n < 2 || r.First.IsZero() || r.Last.IsZero() {
		return 0, false
	}
	return r.Last.Sub(r.First) / time.Duration(n-1), true
}

// TokensPerSec is (output_tokens - 1) / (t_last - t_first).
func (r *Record) TokensPerSec() (float64, bool) {
	n := r.OutputTokens()
	if n < 2 || r.First.IsZero() || !r.Last.After(r.First) {
		return 0, false
	}
	return float64(n-1) / r.Last.Sub(r.First).Seconds(), true
}

// TokenMismatch reports whether server and client output counts both exist
// and differ, and by how much.
func (r *Record) TokenMismatch() (diff int, both bool) {
	if r.ServerOutput < 0 || r.ClientOutput < 0 {
		return 0, false
	}
	return r.ServerOutput - r.ClientOutput, true
}

func since(a, b time.Time) (time.Duration, bool) {
	if a.IsZero() || b.IsZero() {
		return 0, false
	}
	return a.Sub(b), true
}
