package client

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/sse"
)

// doneData is the data of the event that ends an OpenAI stream.
const doneData = "[DONE]"

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
	calls calls // choice 0's tool calls
}

// stream reads an SSE body, stamping output-bearing events, and reports
// whether it ended cleanly. Nothing but reading, stamping and parsing
// happens until the stream ends: tokens per event are counted afterwards
// (metrics.Record.Derive), so the tokenizer never delays a read. resp is
// the answer whose body is read.
//
// Each step of an event (event, refused, fileDeltas, fileFinishes) says
// why the stream is broken as a message, "" when it is not: direct calls
// that allocate nothing unless the stream fails.
func (c *Client) stream(ctx, actx context.Context, req Request, w *metrics.Wire, resp *http.Response) bool {
	body := resp.Body
	st, _ := c.states.Get().(*streamState)
	if st == nil {
		st = &streamState{sr: sse.NewReader(body, c.now)}
	} else {
		st.sr.Reset(body)
	}
	defer c.states.Put(st)
	defer c.sealCalls(w)
	st.bytes = st.bytes[:0]
	st.calls.reset()
	want := max(req.Choices, 1)
	w.Grow(want - 1)
	sawDone, events := false, 0
	for {
		ev, err := st.sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			class := c.errClass(ctx, actx, metrics.Stream)
			c.fail(w, class, c.errMessage(class, err))
			return false
		}
		if string(ev.Data) == doneData {
			sawDone = true
			break
		}
		if len(ev.Data) == 0 {
			continue
		}
		events++
		if msg := c.event(w, st, &ev, want); msg != "" {
			c.fail(w, metrics.Stream, msg)
			return false
		}
	}
	if msg := c.ended(w, sawDone, events, resp); msg != "" {
		c.fail(w, metrics.Stream, msg)
		return false
	}
	w.End = c.now()
	w.Class = metrics.OK
	return true
}

// event reads one event and files what it says: its usage, its output
// and its finishes. want is the n asked for.
func (c *Client) event(w *metrics.Wire, st *streamState, ev *sse.Event, want int) string {
	ck := &st.ck
	if err := api.ParseChunk(ev.Data, ck); err != nil {
		return "malformed event: " + string(ev.Data[:min(len(ev.Data), 16<<10)])
	}
	if msg := c.refused(ck, ev.Name); msg != "" {
		return msg
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
	if msg := c.fileDeltas(w, st, ev.At, usage, want); msg != "" {
		return msg
	}
	if len(ck.Calls) > 0 {
		if msg := st.calls.file(w, ck); msg != "" {
			return msg
		}
	}
	return c.fileFinishes(w, ck, want)
}

// refused says why an event ends the stream before anything it carries
// is filed: it is an error, or an event of the other API, which would be
// timed by the wrong events (say so instead of measuring nothing, or the
// wrong thing).
func (c *Client) refused(ck *api.Chunk, name string) string {
	if ck.HasError || name == "error" {
		if ck.ErrMessage != "" {
			return "error event: " + ck.ErrMessage
		}
		return "error event"
	}
	responses := c.cfg.Endpoint.Type == plan.Responses
	switch {
	case responses && ck.Choices:
		return "a chat completions chunk in a Responses API stream (is the URL a chat endpoint?)"
	case !responses && ck.Responses:
		return "a Responses API event in a " + string(c.cfg.Endpoint.Type) + " stream (is the URL a Responses endpoint?)"
	}
	return ""
}

// fileDeltas files an event's output: each choice's text (its first
// MaxText bytes) and one output event per choice, arrived at, with the
// cumulative usage the event reported (-1 if none).
func (c *Client) fileDeltas(w *metrics.Wire, st *streamState, at time.Time, usage int32, want int) string {
	ck := &st.ck
	start, evStart := 0, len(w.Events)
	for _, d := range ck.Deltas {
		if msg := badIndex(d.Index, want); msg != "" {
			return msg
		}
		w.Grow(d.Index)
		if f := w.Finish[d.Index]; f != "" {
			// The choice ended in an earlier event (this event's own
			// finish is filed after): output after it would stretch TPOT
			// past the end the server announced.
			return fmt.Sprintf("output after choice %d's finish_reason %q", d.Index, f)
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
			return "output of one choice passed 2 GB"
		}
		if msg := stamp(w, evStart, at, d, int32(st.bytes[d.Index]), usage); msg != "" {
			return msg
		}
	}
	return ""
}

// stamp files a delta of choice d.Index in the event's output events
// (those from w.Events[from:]): one SSE event is one output event per
// choice, whatever it carries (reasoning ending and the answer starting,
// several tool calls), so that a gap is between two arrivals. end is the
// choice's output bytes so far.
func stamp(w *metrics.Wire, from int, at time.Time, d api.Delta, end, usage int32) string {
	for i := from; i < len(w.Events); i++ {
		if e := &w.Events[i]; e.Choice == int32(d.Index) {
			e.Kinds, e.End = e.Kinds.With(d.Kind), end
			return ""
		}
	}
	if len(w.Events) >= maxEvents {
		return fmt.Sprintf("more than %d output events: no model streams that much", maxEvents)
	}
	w.Events = append(w.Events, metrics.Event{At: at, Choice: int32(d.Index), Kinds: metrics.Kinds(0).With(d.Kind), End: end, Usage: usage})
	return ""
}

// fileFinishes files an event's finish reasons.
func (c *Client) fileFinishes(w *metrics.Wire, ck *api.Chunk, want int) string {
	for _, f := range ck.Finish {
		if msg := badIndex(f.Index, want); msg != "" {
			return msg
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
	return ""
}

// ended judges the stream's end: a clean end is [DONE] (sawDone), or the
// end of the body once every choice has its finish_reason; with [DONE],
// every choice that has one means all of them must (a server that sends
// none at all is let be, with a warning). [DONE] alone is no answer.
// events counts the events that came before the end; resp is the answer,
// whose headers say what came when no event did.
func (c *Client) ended(w *metrics.Wire, sawDone bool, events int, resp *http.Response) string {
	if sawDone && events == 0 {
		return "[DONE] came before any event"
	}
	finished, missing := 0, -1
	for i, f := range w.Finish {
		if f != "" {
			finished++
		} else if missing < 0 {
			missing = i
		}
	}
	if (!sawDone && finished < len(w.Finish)) || (sawDone && finished > 0 && finished < len(w.Finish)) {
		switch {
		case events == 0:
			// Nothing came that reads as an event: say what came instead
			// (a gzip body, an HTML page, a whole JSON answer, nothing).
			return "no event came: the answer was " + c.serverText(bodyKind(resp.Header, resp.ContentLength), 160)
		case len(w.Finish) > 1:
			return fmt.Sprintf("stream ended before choice %d's finish_reason", missing)
		}
		return "stream ended before finish_reason"
	}
	if finished == 0 {
		w.Warnf("no finish_reason came before [DONE]")
	}
	return ""
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
