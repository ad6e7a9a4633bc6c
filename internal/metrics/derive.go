package metrics

import (
	"math"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

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
	r.copyWire(w)
	r.Choices, r.Gaps, r.Chunks = r.Choices[:0], r.Gaps[:0], r.Chunks[:0]
	r.ClientOutput, r.ClientEstimated = -1, false
	if tok != nil {
		r.ClientOutput = 0
	}
	r.First, r.Last, r.FirstContent, r.FirstReasoning = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	streamedReasoning, continuous := r.firsts(w)
	visible := r.serverVisible(streamedReasoning)
	if len(w.Events) == 0 {
		r.deriveWhole(w, tok, visible)
		return
	}
	r.First, r.Last = w.Events[0].At, w.Events[len(w.Events)-1].At
	cs := w.choiceScratch(len(w.Text))
	units := r.countUnits(w, cs, tok, quick && visible >= 0)
	if visible < 0 {
		visible = units // the client's count (or events) is all there is
	}
	r.Visible = visible
	w.eventUnits(cs)
	if continuous {
		w.continuousShares(visible)
	} else {
		w.share(visible)
	}
	r.timeChoices(w, cs)
	w.wholeTokens(r.Choices, cs, visible)
}

// copyWire copies the wire's facts, which need no deriving.
func (r *Record) copyWire(w *Wire) {
	r.Send, r.Hdr, r.End = w.Send, w.Hdr, w.End
	r.Status, r.Attempts, r.Throttles, r.Class, r.Err, r.Warn = w.Status, w.Attempts, w.Throttles, w.Class, w.Err, w.Warn
	r.Proto, r.NewConns, r.Headers = w.Proto, w.NewConns, w.Headers
	r.ServerPrompt, r.ServerOutput, r.ServerReasoning, r.ServerCached = w.Usage.Prompt, w.Usage.Completion, w.Usage.Reasoning, w.Usage.Cached
	r.Events = len(w.Events)
	r.Finish = ""
	if len(w.Finish) > 0 {
		r.Finish = w.Finish[0]
	}
}

// firsts stamps the first reasoning and the first visible output, and
// reports whether reasoning was streamed (or a whole answer's text held
// it) and whether usage is continuous: a count on every event of a
// single choice.
func (r *Record) firsts(w *Wire) (streamedReasoning, continuous bool) {
	streamedReasoning = w.Reasoned
	continuous = len(w.Text) == 1 && len(w.Events) > 0
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
	return streamedReasoning, continuous
}

// serverVisible is the streamed (visible) total when the server says:
// its count less the reasoning it did not stream; -1 when it does not.
func (r *Record) serverVisible(streamedReasoning bool) int {
	if r.ServerOutput < 0 {
		return -1
	}
	hidden := 0
	if r.ServerReasoning > 0 && !streamedReasoning {
		hidden = r.ServerReasoning
	}
	return max(r.ServerOutput-hidden, 0)
}

// deriveWhole derives an answer with no output event: a whole answer
// (--no-stream), an embedding, or no output at all. Its text is counted;
// no time is stamped.
func (r *Record) deriveWhole(w *Wire, tok *tokenizer.Tokenizer, visible int) {
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
}

// countUnits divides each choice's output in units: tokens by the
// tokenizer, or bytes (quick, a run cut off with the server's count at
// hand, and a choice's output longer than 4 KB: every choice alike), or
// events (no tokenizer). It files the client's count in r and returns
// the units of all choices.
func (r *Record) countUnits(w *Wire, cs []choiceState, tok *tokenizer.Tokenizer, quick bool) int {
	for _, e := range w.Events {
		c := &cs[e.Choice]
		c.events++
		c.bytes = int(e.End)
	}
	byBytes := false
	if quick {
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
	return units
}

// eventUnits files the units each event completed of its choice in
// w.units.
func (w *Wire) eventUnits(cs []choiceState) {
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
}

// continuousShares gives each event the tokens its usage count added, as
// the server counted them (continuous usage).
func (w *Wire) continuousShares(visible int) {
	w.shares = w.shares[:0]
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
}

// timeChoices stamps each choice's first and last events and files the
// gaps between its events: every raw gap in r.Chunks, and in r.Gaps each
// gap with the tokens its later event completed, an event that completed
// none passing its time on to the next.
func (r *Record) timeChoices(w *Wire, cs []choiceState) {
	r.Choices = append(r.Choices, make([]Choice, len(cs))...)
	for i, e := range w.Events {
		c := &cs[e.Choice]
		k := w.shares[i]
		c.tokens += k
		ch := &r.Choices[e.Choice]
		if ch.First.IsZero() && k == 0 && e.Kinds == toolOnly {
			// A tool call's first delta (its id and name) is output, and
			// the record's TTFT; but no argument token came with it: the
			// choice's token stream (TPOT, ITL) starts at its first
			// argument token, as a text answer's does at its first.
			continue
		}
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
}

// toolOnly is the kinds of an event that carries only tool-call deltas.
const toolOnly = Kinds(1 << Tool)

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
	w.shares = w.shares[:0]
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
