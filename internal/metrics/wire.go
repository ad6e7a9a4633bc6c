package metrics

import (
	"fmt"
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/tools"
)

// Kind is what an output delta carries.
type Kind uint8

// Output kinds. Reasoning is streamed thinking (reasoning_content);
// ReasoningSummary a summary of reasoning that stays hidden (the Responses API's
// reasoning summaries: its tokens are not the reasoning tokens); the
// others are what a user sees.
const (
	Content Kind = iota
	Reasoning
	Refusal
	Tool
	ReasoningSummary
)

// Kinds is a set of output kinds: one event may carry several (vLLM ends
// its reasoning and starts the answer in the same event).
type Kinds uint8

// Has reports whether k is in the set.
func (ks Kinds) Has(k Kind) bool { return ks&(1<<k) != 0 }

// Visible reports whether the set holds output a user sees.
func (ks Kinds) Visible() bool { return ks&^(1<<Reasoning|1<<ReasoningSummary) != 0 }

// With returns the set with k added.
func (ks Kinds) With(k Kind) Kinds { return ks | 1<<k }

// Usage is a server's usage report; a count it did not send is -1.
type Usage struct {
	Prompt     int // prompt_tokens (Responses: input_tokens)
	Completion int // completion_tokens, hidden reasoning included
	Reasoning  int // completion_tokens_details.reasoning_tokens
	Cached     int // prompt_tokens_details.cached_tokens
}

// NoUsage is a usage with no count.
var NoUsage = Usage{-1, -1, -1, -1}

// Headers are the response headers a capacity test reads, of the last
// attempt. An absent number is -1 (NaN for Util).
type Headers struct {
	RequestID         string  // apim-request-id, else x-request-id
	Util              float64 // azure-openai-deployment-utilization, percent
	RemainingRequests int     // x-ratelimit-remaining-requests
	RemainingTokens   int     // x-ratelimit-remaining-tokens
	LimitRequests     int     // x-ratelimit-limit-requests
	LimitTokens       int     // x-ratelimit-limit-tokens
	// RetryAfter is retry-after-ms or retry-after.
	RetryAfter time.Duration
	Region     string // x-ms-region
	Deployment string // x-ms-deployment-name
	// SpilledFrom is x-ms-spillover-from-deployment: the provisioned
	// deployment the request spilled over from.
	SpilledFrom string
}

// NoHeaders is a Headers with every figure absent.
var NoHeaders = Headers{Util: math.NaN(), RemainingRequests: -1, RemainingTokens: -1, LimitRequests: -1, LimitTokens: -1}

// Event is one SSE event's output for one choice: when its first byte
// arrived, what it carried, and where its text ends in the choice's text.
type Event struct {
	At     time.Time
	Choice int32
	Kinds  Kinds
	End    int32 // bytes of the choice's output up to and including this event
	Usage  int32 // cumulative completion tokens the event reported, -1 if none
}

// MaxName bounds a tool call's id and name as kept: the API allows 64
// characters for a function's name.
const MaxName = 64

// MaxText is how much output text of one choice is kept for the
// tokenizer. Longer output is counted from its first MaxText bytes and
// extrapolated, so that a server streaming megabytes cannot make the
// client spend seconds and gigabytes counting them.
const MaxText = 256 << 10

// Wire is what happened on the wire for one request, as the client saw it:
// timestamps, status, headers and the stream's output events, nothing
// derived. Record.Derive turns it into the request's metrics. A Wire is
// reused: Reset keeps its buffers.
type Wire struct {
	Send, Hdr, End time.Time
	Status         int
	Attempts       int
	Throttles      int // attempts answered 429
	Class          Class
	Err            string
	Proto          string // the last attempt's protocol, e.g. HTTP/1.1
	NewConns       int    // connections the attempts opened (the rest reused one)
	Headers
	Usage  Usage
	Events []Event
	// Text is each choice's output text, its first MaxText bytes.
	Text [][]byte
	// Finish is each choice's finish_reason, "" if none came.
	Finish []string
	// Embeddings is how many embeddings an embeddings answer held.
	Embeddings int
	// Reasoned says a whole answer's text holds its reasoning (as a
	// stream's reasoning deltas do): the server's reasoning tokens are
	// then not hidden.
	Reasoned bool
	// Warn is the first thing the answer did wrong that did not make it
	// fail (a usage count that is not a number, a choice that finished
	// twice); "" when nothing did.
	Warn string
	// Calls are choice 0's tool calls, in the order they began: each
	// call's id and name (the server's text: cut to MaxName bytes and
	// cleared of secrets once the answer is read) and its arguments as
	// received, of all calls at most MaxText bytes (ArgsCut says some
	// were cut).
	Calls   []tools.Call
	ArgsCut bool

	offs    []int         // Derive's scratch: token end offsets,
	choices []choiceState // per choice,
	units   []int         // and per event
	shares  []float64
}

// Reset empties w for the next request, keeping its buffers.
func (w *Wire) Reset() {
	for i := range w.Text {
		w.Text[i] = w.Text[i][:0]
	}
	*w = Wire{Headers: NoHeaders, Usage: NoUsage, Events: w.Events[:0], Text: w.Text[:0], Finish: w.Finish[:0], Calls: w.Calls[:0],
		offs: w.offs, choices: w.choices, units: w.units, shares: w.shares}
}

// ResetAttempt clears what one attempt measures, keeping Send, the
// counters and the buffers.
func (w *Wire) ResetAttempt() {
	for i := range w.Text {
		w.Text[i] = w.Text[i][:0]
	}
	w.Hdr, w.End, w.Status, w.Class, w.Err, w.Proto, w.Warn = time.Time{}, time.Time{}, 0, "", "", "", ""
	w.Headers, w.Usage = NoHeaders, NoUsage
	w.Events, w.Text, w.Finish = w.Events[:0], w.Text[:0], w.Finish[:0]
	w.Calls, w.ArgsCut = w.Calls[:0], false
}

// AddCall appends a call with no id, name or arguments yet, reusing the
// buffer of the call that was there before (Calls is kept between
// requests), and returns it.
func (w *Wire) AddCall() *tools.Call {
	n := len(w.Calls)
	if n < cap(w.Calls) {
		w.Calls = w.Calls[:n+1]
		w.Calls[n] = tools.Call{Args: w.Calls[n].Args[:0]}
	} else {
		w.Calls = append(w.Calls, tools.Call{})
	}
	return &w.Calls[n]
}

// Warnf notes a warning unless one is noted already: the first is kept.
func (w *Wire) Warnf(format string, a ...any) {
	if w.Warn == "" {
		w.Warn = fmt.Sprintf(format, a...)
	}
}

// Grow makes room for choice i in Text and Finish.
func (w *Wire) Grow(i int) {
	for len(w.Text) <= i {
		k := len(w.Text)
		if k < cap(w.Text) {
			w.Text = w.Text[:k+1]
			w.Text[k] = w.Text[k][:0]
		} else {
			w.Text = append(w.Text, nil)
		}
		w.Finish = append(w.Finish, "")
	}
}
