// Package metrics turns what happened on the wire into the figures defined
// in docs/metrics.md: per-request records, windowed throughput, whole-run
// distributions kept in HDR histograms, and the results files.
package metrics

import (
	"math"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
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
	var span time.Duration
	var n int
	for _, c := range r.choices() {
		if c.timed() {
			span += c.Last.Sub(c.First)
			n += c.Tokens - 1
		}
	}
	if n == 0 {
		return 0, false
	}
	return span / time.Duration(n), true
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
	var span time.Duration
	var n int
	for _, c := range r.choices() {
		if c.timed() {
			span += c.Last.Sub(c.First)
			n += c.Tokens - 1
		}
	}
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

// Derive fills r from what happened on the wire, per docs/metrics.md.
//
// Tokens per event come from the tokenization of each choice's whole
// output: an event completes the tokens that end within its text (token
// boundaries by byte offset), so a server that streams one token per event
// gets one token per event, however the tokenizer would count each
// event's text alone. When the server reports usage, each event's share is
// scaled so that the shares sum to the server's count: a tokenizer that
// counts 1,000 tokens for a server's 900 gives each event 0.9 of a token,
// spread evenly, never piling the difference on a few events. Continuous
// usage (a count on every event of a single choice) is used as it is. An
// event that completes no token (half a word) passes its gap on to the
// next. tok may be nil: each event is then one unit. With quick set (a run
// being cut off), output longer than 4 KB is not tokenized when the server
// reported usage: it is divided by bytes.
func (r *Record) Derive(w *Wire, tok *tokenizer.Tokenizer, quick bool) {
	r.Send, r.Hdr, r.End = w.Send, w.Hdr, w.End
	r.Status, r.Attempts, r.Throttles, r.Class, r.Err, r.Warn = w.Status, w.Attempts, w.Throttles, w.Class, w.Err, w.Warn
	r.Proto, r.NewConns, r.Headers = w.Proto, w.NewConns, w.Headers
	r.ServerPrompt, r.ServerOutput, r.ServerReasoning, r.ServerCached = w.Usage.Prompt, w.Usage.Completion, w.Usage.Reasoning, w.Usage.Cached
	r.Events = len(w.Events)
	r.Finish = ""
	if len(w.Finish) > 0 {
		r.Finish = w.Finish[0]
	}
	r.Choices, r.Gaps, r.Chunks = r.Choices[:0], r.Gaps[:0], r.Chunks[:0]
	r.ClientOutput, r.ClientEstimated = -1, false
	if tok != nil {
		r.ClientOutput = 0
	}
	r.First, r.Last, r.FirstContent, r.FirstReasoning = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	streamedReasoning := w.Reasoned
	continuous := len(w.Text) == 1 && len(w.Events) > 0
	for _, e := range w.Events {
		if e.Kinds.Has(Reasoning) {
			streamedReasoning = true
		}
		if (e.Kinds.Has(Reasoning) || e.Kinds.Has(ReasoningSummary)) && r.FirstReasoning.IsZero() {
			r.FirstReasoning = e.At
		}
		if e.Kinds.Visible() && r.FirstContent.IsZero() {
			r.FirstContent = e.At
		}
		if e.Usage < 0 {
			continuous = false
		}
	}
	// The streamed (visible) total, when the server says: its count less
	// the reasoning it did not stream.
	visible := -1
	if r.ServerOutput >= 0 {
		hidden := 0
		if r.ServerReasoning > 0 && !streamedReasoning {
			hidden = r.ServerReasoning
		}
		visible = max(r.ServerOutput-hidden, 0)
	}
	if len(w.Events) == 0 {
		// Nothing streamed: a whole answer (--no-stream), an embedding,
		// or no output at all. Its text is counted; no time is stamped.
		if tok != nil {
			r.ClientOutput = 0
			for _, t := range w.Text {
				n := tok.Count(validPrefix(t))
				if len(t) >= MaxText {
					r.ClientEstimated = true
				}
				r.ClientOutput += n
			}
		}
		if visible < 0 {
			visible = max(r.ClientOutput, 0)
		}
		r.Visible = visible
		return
	}
	r.First, r.Last = w.Events[0].At, w.Events[len(w.Events)-1].At

	// Each choice's units: tokens by the tokenizer, or bytes (not
	// tokenized), or events (no tokenizer); and the units completed by
	// each of its events.
	n := len(w.Text)
	cs := w.choiceScratch(n)
	for _, e := range w.Events {
		c := &cs[e.Choice]
		c.events++
		c.bytes = int(e.End)
	}
	// Cut off: a long output is divided by bytes, for every choice alike.
	byBytes := false
	if quick && visible >= 0 {
		for _, t := range w.Text {
			byBytes = byBytes || len(t) > 4096
		}
	}
	w.offs = w.offs[:0]
	units, client := 0, 0
	for i := range cs {
		c := &cs[i]
		text := w.Text[i]
		switch {
		case tok == nil:
			c.mode, c.units = byEvents, c.events
		case byBytes:
			c.mode, c.units = byBytesMode, c.bytes
			r.ClientOutput = -1
		default:
			c.mode, c.from = byTokens, len(w.offs)
			w.offs = tok.Offsets(w.offs, validPrefix(text))
			c.to, c.kept = len(w.offs), len(text)
			c.units = c.to - c.from
			if c.bytes > c.kept {
				c.units = c.extrapolate(c.units, c.bytes)
				r.ClientEstimated = true
			}
			client += c.units
		}
		units += c.units
	}
	if r.ClientOutput >= 0 {
		r.ClientOutput = client
	}
	if visible < 0 {
		visible = units // the client's count (or events) is all there is
	}
	r.Visible = visible
	// Each event's units, then its share of the visible tokens.
	w.units = w.units[:0]
	for _, e := range w.Events {
		c := &cs[e.Choice]
		var done int // units of the choice completed by this event
		switch c.mode {
		case byEvents:
			c.walked++
			done = c.walked
		case byBytesMode:
			done = int(e.End)
		default:
			done = c.completed(w.offs, int(e.End))
		}
		w.units = append(w.units, max(done-c.done, 0))
		c.done = max(done, c.done)
	}
	w.shares = w.shares[:0]
	if continuous {
		prev, rest := 0, 0
		for i, e := range w.Events {
			u := max(int(e.Usage)-prev, 0)
			prev = max(int(e.Usage), prev)
			if i > 0 {
				rest += u
			}
			w.shares = append(w.shares, float64(u))
		}
		// The first event's count may include hidden reasoning; it times
		// no gap, and the choice's tokens are the visible ones.
		w.shares[0] = float64(max(visible-rest, 0))
	} else {
		w.share(visible)
	}

	r.Choices = append(r.Choices, make([]Choice, n)...)
	for i, e := range w.Events {
		c := &cs[e.Choice]
		k := w.shares[i]
		c.tokens += k
		ch := &r.Choices[e.Choice]
		if ch.First.IsZero() {
			ch.First = e.At
		} else {
			raw := e.At.Sub(ch.Last)
			r.Chunks = append(r.Chunks, raw)
			if d := raw + c.pending; k > 0 {
				r.Gaps = append(r.Gaps, Gap{D: d, Tokens: k})
				c.lastGap, c.pending = len(r.Gaps)-1, 0
			} else {
				c.pending = d
			}
		}
		ch.Last = e.At
	}
	for i := range cs {
		if c := &cs[i]; c.pending > 0 && c.lastGap >= 0 {
			// The last events completed no token of their own: their time
			// belongs to the last token's gap.
			r.Gaps[c.lastGap].D += c.pending
		}
	}
	w.wholeTokens(r.Choices, cs, visible)
}

// wholeTokens gives each choice a whole number of tokens, its share
// rounded by largest remainders so that the choices sum to total.
func (w *Wire) wholeTokens(chs []Choice, cs []choiceState, total int) {
	given := 0
	for i := range chs {
		chs[i].Tokens = int(math.Floor(cs[i].tokens + 1e-9))
		given += chs[i].Tokens
	}
	for given < total {
		best, bestFrac := -1, -1.0
		for i := range chs {
			if f := cs[i].tokens - float64(chs[i].Tokens); f > bestFrac {
				best, bestFrac = i, f
			}
		}
		if best < 0 || bestFrac <= 1e-9 {
			return
		}
		chs[best].Tokens++
		given++
	}
}

// share turns the units of each event (w.units) into its share of total
// tokens (w.shares). When the counts differ by a token or so (a trailing
// space the server counts with its word), each event gets a whole number:
// the floor of its proportional share, and the tokens left to the largest
// remainders, so that a one-token event keeps its one token. When they
// differ more (a tokenizer that is not the model's), each event gets its
// exact proportional share, so that the difference is spread evenly over
// the stream instead of piling on a few events.
func (w *Wire) share(total int) {
	units := 0
	for _, u := range w.units {
		units += u
	}
	if units == 0 {
		// No text to weigh by (tool calls without arguments): each event
		// weighs the same.
		for i := range w.units {
			w.units[i] = 1
		}
		units = len(w.units)
	}
	f := float64(total) / float64(units)
	diff := total - units
	if diff < 0 {
		diff = -diff
	}
	if diff > max(1, units/100) {
		for _, u := range w.units {
			w.shares = append(w.shares, float64(u)*f)
		}
		return
	}
	given := 0
	for _, u := range w.units {
		fl := math.Floor(float64(u) * f)
		w.shares = append(w.shares, fl)
		given += int(fl)
	}
	for given < total {
		best, bestFrac := -1, -1.0
		for i, u := range w.units {
			if fr := float64(u)*f - w.shares[i]; fr > bestFrac+1e-12 {
				best, bestFrac = i, fr
			}
		}
		if best < 0 {
			break
		}
		w.shares[best]++
		given++
	}
}

// Units a choice's output is divided in.
const (
	byTokens = iota
	byBytesMode
	byEvents
)

// choiceState is Derive's per-choice scratch.
type choiceState struct {
	mode           int
	events, bytes  int // output events, and bytes of output (kept or not)
	from, to, kept int // token ends in Wire.offs[from:to], over the first kept bytes
	units          int
	// The walk over the events.
	walked, done int
	tokens       float64
	pending      time.Duration
	lastGap      int
}

// choiceScratch returns n zeroed choice states.
func (w *Wire) choiceScratch(n int) []choiceState {
	if cap(w.choices) < n {
		w.choices = make([]choiceState, n)
	}
	cs := w.choices[:n]
	for i := range cs {
		cs[i] = choiceState{lastGap: -1}
	}
	return cs
}

// extrapolate scales the tokens of the kept text to the whole output.
func (c *choiceState) extrapolate(tokens, bytes int) int {
	if c.kept == 0 {
		return 0
	}
	return int(math.Round(float64(tokens) * float64(bytes) / float64(c.kept)))
}

// completed returns the tokens of the choice that end within its first
// end bytes.
func (c *choiceState) completed(offs []int, end int) int {
	own := offs[c.from:c.to]
	if end <= c.kept {
		return sort.SearchInts(own, end+1)
	}
	return c.extrapolate(len(own), end)
}

// validPrefix returns the kept text cut after its last whole rune:
// MaxText may have cut one in two.
func validPrefix(b []byte) string {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return string(b)
			}
			return string(b[:i])
		}
	}
	return string(b)
}
