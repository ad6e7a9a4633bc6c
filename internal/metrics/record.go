// Package metrics turns what happened on the wire into the figures defined
// in docs/metrics.md: per-request records, windowed throughput, whole-run
// distributions kept in HDR histograms, and the results files.
package metrics

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/schema"
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

// Gap is the time between two output-bearing events of one choice and the
// tokens the later event completed: a share of the server's count, so not
// always whole (an event that completes no token passes its gap on to the
// next).
type Gap struct {
	D      time.Duration
	Tokens float64
}

// Choice is one choice's timing: its first and last output events and its
// visible output tokens.
type Choice struct {
	First, Last time.Time
	Tokens      int
}

// Record is everything measured about one request. Times carry Go's
// monotonic clock reading; a zero time means the moment never came.
type Record struct {
	ID    int64
	Sched time.Time // when the schedule intended the request to go
	Send  time.Time // first attempt handed to the transport
	Hdr   time.Time // status line and headers of the last attempt
	First time.Time // first output-bearing event, of any choice
	Last  time.Time // last output-bearing event
	End   time.Time // stream over, or the request failed
	// FirstContent is the first visible output (content, refusal, tool
	// call); FirstReasoning the first streamed reasoning.
	FirstContent, FirstReasoning time.Time

	// Warmup marks a request of the warmup: sent, left out of the figures.
	Warmup bool
	// Session numbers the conversation a request is a turn of (-1: none);
	// Turn is its turn, from 1.
	Session int64
	Turn    int
	// Text is the prompt's and the answer's text, kept only when the
	// run logs content.
	Text *Text

	Status    int // HTTP status of the last attempt, 0 if none
	Attempts  int
	Throttles int // attempts answered 429
	Class     Class
	Err       string // short reason for a failure
	Warn      string // what the answer did wrong without failing (Wire.Warn)
	Proto     string // protocol of the last attempt
	NewConns  int    // connections opened (0: a kept-alive one was reused)

	ServerPrompt    int // usage.prompt_tokens, -1 if not reported
	ServerOutput    int // usage.completion_tokens (hidden reasoning included), -1 if not reported
	ServerReasoning int // completion_tokens_details.reasoning_tokens, -1 if not reported
	ServerCached    int // prompt_tokens_details.cached_tokens, -1 if not reported
	ClientPrompt    int // the tokenizer's count of the prompt
	ClientOutput    int // the tokenizer's count of the output text, -1 if none was counted
	// ClientEstimated says ClientOutput was extrapolated from the first
	// MaxText bytes of a longer output.
	ClientEstimated bool
	// Visible is the output tokens that were streamed: the server's count
	// less hidden reasoning, else the client's; -1 until derived.
	Visible int
	Events  int // output-bearing events
	// MaxTokens is the output the request asked for at most, over all its
	// choices (max_tokens x n); 0 when it set no limit.
	MaxTokens int
	Choices   []Choice
	Gaps      []Gap           // of every choice, for ITL
	Chunks    []time.Duration // every raw gap between a choice's events
	Finish    string          // choice 0's finish_reason

	// Answer is what choice 0 of a successful request answered: text, a
	// tool call, or a structured answer (JSON asked by response_format);
	// "" for a request that failed. ToolNames are its calls' names (the
	// server's text: cut and cleared of secrets) and ToolArgs the verdict
	// on each call's arguments; Structured the verdict on a structured
	// answer's text. None is a failure: an answer that does not parse
	// succeeded, with its verdict.
	Answer     AnswerKind
	ToolNames  []string
	ToolArgs   []schema.Verdict
	Structured schema.Verdict
	// Images is how many images the request carried, ImageBytes the
	// upload bytes of their data URLs, ImageTokens the client's count of
	// their prompt tokens (-1: not known).
	Images, ImageBytes, ImageTokens int

	Headers
}

// NewRecord returns a record with every optional figure marked absent.
func NewRecord(id int64, sched time.Time) *Record {
	return &Record{
		ID: id, Sched: sched, Headers: NoHeaders, Session: -1,
		ServerPrompt: -1, ServerOutput: -1, ServerReasoning: -1, ServerCached: -1, ClientOutput: -1, Visible: -1,
	}
}

// PromptTokens is the server's count when reported, else the client's
// (0 when neither counted it).
func (r *Record) PromptTokens() int {
	if r.ServerPrompt >= 0 {
		return r.ServerPrompt
	}
	return max(r.ClientPrompt, 0)
}

// Text is what a request said and heard.
type Text struct {
	Prompt string // the last user message's text
	Answer string // choice 0's text, its first MaxText bytes
}

// OutputTokens is the server's count (hidden reasoning included, as
// quotas and bills count it) when reported, else the client's count of
// the output text.
func (r *Record) OutputTokens() int {
	if r.ServerOutput >= 0 {
		return r.ServerOutput
	}
	return max(r.ClientOutput, 0)
}

// QuotaTokens is what Azure counts against a standard deployment's quota
// when it admits the request: prompt plus max_tokens of every choice (the
// output when no limit was set).
func (r *Record) QuotaTokens() int {
	if r.MaxTokens > 0 {
		return r.PromptTokens() + r.MaxTokens
	}
	return r.PromptTokens() + r.OutputTokens()
}

// VisibleTokens is the output tokens that were streamed, which TPOT and
// tokens per second are computed over.
func (r *Record) VisibleTokens() int {
	if r.Visible >= 0 {
		return r.Visible
	}
	return r.OutputTokens()
}

// TTFT is t_first - t_send.
func (r *Record) TTFT() (time.Duration, bool) { return since(r.First, r.Send) }

// TTFTSched is t_first - t_sched.
func (r *Record) TTFTSched() (time.Duration, bool) { return since(r.First, r.Sched) }

// TTFTContent is the time to the first visible output, t_send based.
func (r *Record) TTFTContent() (time.Duration, bool) { return since(r.FirstContent, r.Send) }

// TTFTReasoning is the time to the first streamed reasoning.
func (r *Record) TTFTReasoning() (time.Duration, bool) { return since(r.FirstReasoning, r.Send) }

// HeadersTime is t_hdr - t_send.
func (r *Record) HeadersTime() (time.Duration, bool) { return since(r.Hdr, r.Send) }

// E2E is t_end - t_send.
func (r *Record) E2E() (time.Duration, bool) { return since(r.End, r.Send) }

// E2ESched is t_end - t_sched.
func (r *Record) E2ESched() (time.Duration, bool) { return since(r.End, r.Sched) }

// Lag is the schedule lag t_send - t_sched.
//
// Only a request the schedule sent has one: a conversation's later turns
// go when the turn before them ends, so they have none.
func (r *Record) Lag() (time.Duration, bool) {
	if r.Turn > 1 {
		return 0, false
	}
	return since(r.Send, r.Sched)
}

// choices returns the per-choice timings; a record made by hand, without
// Derive, is one choice.
func (r *Record) choices() []Choice {
	if len(r.Choices) > 0 {
		return r.Choices
	}
	return []Choice{{r.First, r.Last, r.VisibleTokens()}}
}

// TPOT is (t_last - t_first) / (tokens - 1) of each choice with two or
// more tokens in two or more events, pooled: the sum of the choices' spans
// over the sum of their gaps. One choice gives the definition's figure.
func (r *Record) TPOT() (time.Duration, bool) {
	span, n := r.pooled()
	if n == 0 {
		return 0, false
	}
	return span / time.Duration(n), true
}

// pooled sums the timed choices' spans (t_last - t_first) and their
// tokens less one, which TPOT and tokens per second divide.
func (r *Record) pooled() (span time.Duration, n int) {
	for _, c := range r.choices() {
		if c.timed() {
			span += c.Last.Sub(c.First)
			n += c.Tokens - 1
		}
	}
	return span, n
}

// timed reports whether a choice's tokens came in two or more events at
// least two tokens apart: a choice whose every token arrived in one event
// says nothing of the time per token.
func (c Choice) timed() bool {
	return c.Tokens >= 2 && !c.First.IsZero() && c.Last.After(c.First)
}

// ChoiceTPOTs calls f with the TPOT of each choice that has one.
func (r *Record) ChoiceTPOTs(f func(time.Duration)) {
	for _, c := range r.choices() {
		if c.timed() {
			f(c.Last.Sub(c.First) / time.Duration(c.Tokens-1))
		}
	}
}

// TokensPerSec is (tokens - 1) / (t_last - t_first), pooled over choices
// as TPOT is.
func (r *Record) TokensPerSec() (float64, bool) {
	span, n := r.pooled()
	if n == 0 {
		return 0, false
	}
	return float64(n) / span.Seconds(), true
}

// TokenMismatch reports whether the server's and the client's counts of
// the streamed output both exist and differ, and by how much. Hidden
// reasoning tokens are not a mismatch, nor is an extrapolated count.
func (r *Record) TokenMismatch() (diff int, both bool) {
	if r.ServerOutput < 0 || r.ClientOutput < 0 || r.ClientEstimated {
		return 0, false
	}
	return r.VisibleTokens() - r.ClientOutput, true
}

func since(a, b time.Time) (time.Duration, bool) {
	if a.IsZero() || b.IsZero() {
		return 0, false
	}
	return a.Sub(b), true
}
