package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/sse"
)

var done = []byte("[DONE]")

// maxChoices is the most choices a stream may carry (the API's limit on
// n): an index past it is a broken stream, not a reason to allocate.
const maxChoices = 128

// maxEvents bounds the output events one request keeps (each is a stamp
// kept to the end, and more once derived): a model streams at most a
// token an event, and no model writes a million tokens to one request,
// while a server writing tiny events as fast as loopback goes reached 20
// million events and 3.7 GB of heap in 10 s.
const maxEvents = 1 << 20

// streamState is the per-stream scratch space, pooled with the reader.
type streamState struct {
	sr    *sse.Reader
	ck    api.Chunk
	bytes []int // output bytes of each choice, kept or not
}

// stream reads an SSE body, stamping output-bearing events, and reports
// whether it ended cleanly. Nothing but reading, stamping and parsing
// happens until the stream ends: tokens per event are counted afterwards
// (metrics.Record.Derive), so the tokenizer never delays a read. kind
// names the body's Content-Type and encoding, for the message when no
// event came.
func (c *Client) stream(ctx, actx context.Context, req Request, w *metrics.Wire, body io.Reader, kind string) bool {
	st, _ := c.states.Get().(*streamState)
	if st == nil {
		st = &streamState{sr: sse.NewReader(body, c.now)}
	} else {
		st.sr.Reset(body)
	}
	defer c.states.Put(st)
	st.bytes = st.bytes[:0]
	ck := &st.ck
	want := max(req.Choices, 1)
	w.Grow(want - 1)
	sawDone, events := false, 0
	responses := c.cfg.Endpoint.Type == api.Responses
	for !sawDone {
		ev, err := st.sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			class := c.errClass(ctx, actx, metrics.Stream)
			c.fail(w, class, c.errMessage(class, err))
			return false
		}
		if bytes.Equal(ev.Data, done) {
			sawDone = true
			break
		}
		if len(ev.Data) == 0 {
			continue
		}
		events++
		if err := api.ParseChunk(ev.Data, ck); err != nil {
			c.fail(w, metrics.Stream, "malformed event: "+string(ev.Data[:min(len(ev.Data), 16<<10)]))
			return false
		}
		if ck.HasError || ev.Name == "error" {
			msg := "error event"
			if ck.ErrMessage != "" {
				msg = "error event: " + ck.ErrMessage
			}
			c.fail(w, metrics.Stream, msg)
			return false
		}
		// An endpoint of the other API would be timed by the wrong
		// events: say so instead of measuring nothing, or the wrong
		// thing.
		switch {
		case responses && ck.Choices:
			c.fail(w, metrics.Stream, "a chat completions chunk in a Responses API stream (is the URL a chat endpoint?)")
			return false
		case !responses && ck.Responses:
			c.fail(w, metrics.Stream, "a Responses API event in a "+string(c.cfg.Endpoint.Type)+" stream (is the URL a Responses endpoint?)")
			return false
		}
		if ck.BadUsage != "" {
			w.Warnf("usage %s: ignored", ck.BadUsage)
		}
		usage := int32(-1)
		if ck.HasUsage {
			mergeUsage(&w.Usage, ck.Usage)
			if ck.Usage.Completion >= 0 {
				usage = int32(ck.Usage.Completion)
			}
		}
		start, evStart := 0, len(w.Events)
		for _, d := range ck.Deltas {
			if msg := badIndex(d.Index, want); msg != "" {
				c.fail(w, metrics.Stream, msg)
				return false
			}
			w.Grow(d.Index)
			if f := w.Finish[d.Index]; f != "" {
				// The choice ended in an earlier event (this event's own
				// finish is filed below): output after it would stretch
				// TPOT past the end the server announced.
				c.fail(w, metrics.Stream, fmt.Sprintf("output after choice %d's finish_reason %q", d.Index, f))
				return false
			}
			for len(st.bytes) <= d.Index {
				st.bytes = append(st.bytes, 0)
			}
			text := ck.Text[start:d.End]
			start = d.End
			if d.Kind == metrics.ReasoningSummary {
				// A summary of hidden reasoning: timed, not counted (its
				// tokens are not the reasoning tokens the usage reports).
				text = nil
			}
			if room := metrics.MaxText - len(w.Text[d.Index]); room > 0 {
				w.Text[d.Index] = append(w.Text[d.Index], text[:min(len(text), room)]...)
			}
			st.bytes[d.Index] += len(text)
			if st.bytes[d.Index] > math.MaxInt32 {
				c.fail(w, metrics.Stream, "output of one choice passed 2 GB")
				return false
			}
			// One SSE event is one output event per choice, whatever it
			// carries (reasoning ending and the answer starting, several
			// tool calls): a gap is between two arrivals.
			merged := false
			for i := evStart; i < len(w.Events); i++ {
				if e := &w.Events[i]; e.Choice == int32(d.Index) {
					e.Kinds, e.End, merged = e.Kinds.With(d.Kind), int32(st.bytes[d.Index]), true
					break
				}
			}
			if !merged {
				if len(w.Events) >= maxEvents {
					c.fail(w, metrics.Stream, fmt.Sprintf("more than %d output events: no model streams that much", maxEvents))
					return false
				}
				w.Events = append(w.Events, metrics.Event{At: ev.At, Choice: int32(d.Index), Kinds: metrics.Kinds(0).With(d.Kind), End: int32(st.bytes[d.Index]), Usage: usage})
			}
		}
		for _, f := range ck.Finish {
			if msg := badIndex(f.Index, want); msg != "" {
				c.fail(w, metrics.Stream, msg)
				return false
			}
			w.Grow(f.Index)
			if w.Finish[f.Index] != "" {
				// Kept as the first said: a repeat is the server's slip,
				// not a reason to throw the answer away.
				w.Warnf("choice %d's finish_reason came twice (%s, then %s)", f.Index, w.Finish[f.Index], c.serverText(f.Reason, 40))
				continue
			}
			w.Finish[f.Index] = c.finishReason(f.Reason)
		}
	}
	// A clean end: [DONE], or the end of the body once every choice has
	// its finish_reason; with [DONE], every choice that has one means all
	// of them must (a server that sends none at all is let be, with a
	// warning). [DONE] alone is no answer.
	if sawDone && events == 0 {
		c.fail(w, metrics.Stream, "[DONE] came before any event")
		return false
	}
	finished := 0
	for _, f := range w.Finish {
		if f != "" {
			finished++
		}
	}
	if (!sawDone && finished < len(w.Finish)) || (sawDone && finished > 0 && finished < len(w.Finish)) {
		missing := 0
		for i, f := range w.Finish {
			if f == "" {
				missing = i
				break
			}
		}
		msg := "stream ended before finish_reason"
		if len(w.Finish) > 1 {
			msg = fmt.Sprintf("stream ended before choice %d's finish_reason", missing)
		}
		if events == 0 {
			// Nothing came that reads as an event: say what came instead
			// (a gzip body, an HTML page, a whole JSON answer, nothing).
			msg = "no event came: the answer was " + kind
		}
		c.fail(w, metrics.Stream, msg)
		return false
	}
	if finished == 0 {
		w.Warnf("no finish_reason came before [DONE]")
	}
	w.End = c.now()
	w.Class = metrics.OK
	return true
}

// badIndex says why a choice index read from the wire is refused: past
// the API's 128 choices, not a count at all, or a choice the request did
// not ask for (want is its n): another request's answer, whose tokens
// would be counted as this one's; "" when it is fine.
func badIndex(i, want int) string {
	switch {
	case i == api.BadIndex:
		return "a choice's index is not a count"
	case i >= maxChoices:
		return fmt.Sprintf("choice index %d out of range", i)
	case i >= want:
		return fmt.Sprintf("output for choice %d, which was not asked for (n=%d)", i, want)
	}
	return ""
}

// finishReason is a finish_reason as kept: the API's words as they are,
// any other text cut short and cleared of secrets (it is the server's).
func (c *Client) finishReason(s string) string {
	switch s {
	case "stop", "length", "tool_calls", "content_filter", "function_call", "incomplete":
		return s
	}
	return c.serverText(s, 40)
}

// mergeUsage keeps every count a usage report gives.
func mergeUsage(u *metrics.Usage, v metrics.Usage) {
	for _, f := range []struct {
		dst *int
		src int
	}{{&u.Prompt, v.Prompt}, {&u.Completion, v.Completion}, {&u.Reasoning, v.Reasoning}, {&u.Cached, v.Cached}} {
		if f.src >= 0 {
			*f.dst = f.src
		}
	}
}
