package run

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/traffic"
)

// reply is choice 0's answer as a conversation carries it on: its text
// and its tool calls, copied (the wire they came on is reused), their
// buffers kept from turn to turn.
type reply struct {
	text  []byte
	calls []tools.Call
}

// keep copies choice 0's text and tool calls from w. The wire's text of
// choice 0 holds the calls' arguments too (they are output, counted as
// tokens), after any content; the conversation's assistant message
// carries them in its tool_calls only, its content being the text before
// them (none, usually: content null).
func (a *reply) keep(w *metrics.Wire) {
	a.text = a.text[:0]
	if len(w.Text) > 0 {
		a.text = append(a.text, contentOf(w.Text[0], w.Calls, w.ArgsCut)...)
	}
	n := len(w.Calls)
	if cap(a.calls) < n {
		a.calls = append(a.calls[:cap(a.calls)], make([]tools.Call, n-cap(a.calls))...)
	}
	a.calls = a.calls[:n]
	for i, c := range w.Calls {
		a.calls[i] = tools.Call{ID: c.ID, Name: c.Name, Args: append(a.calls[i].Args[:0], c.Args...)}
	}
}

// contentOf is choice 0's text without its tool calls' arguments: the
// text before them when they are its end, in order; none when they are
// not (arguments interleaved with text, or cut).
func contentOf(text []byte, calls []tools.Call, cut bool) []byte {
	if len(calls) == 0 {
		return text
	}
	end := len(text)
	for i := len(calls) - 1; i >= 0; i-- {
		if cut || !bytes.HasSuffix(text[:end], calls[i].Args) {
			return nil
		}
		end -= len(calls[i].Args)
	}
	return text[:end]
}

// request sends one request and returns its record. answer, if not nil,
// receives choice 0's text and tool calls; ended is called with the wire
// before the record is derived (the request is over then).
func (x *execution) request(reqCtx context.Context, id int64, sched time.Time, it *traffic.Item, answer *reply, ended func(*metrics.Wire)) *metrics.Record {
	r := x.r
	x.sent.Add(1)
	x.inflight.Add(1)
	rec := x.newRecord(id, sched, it)
	w, _ := r.wires.Get().(*metrics.Wire)
	if w == nil {
		w = &metrics.Wire{}
	}
	// Only the run's first request checks the endpoint.
	check := !r.plan.Load.NoCheck && x.checked.CompareAndSwap(false, true)
	r.client.Do(reqCtx, client.Request{
		Body:    func(usage bool) []byte { return r.params.Body(nil, it, usage) },
		Whole:   !r.plan.Workload.Streams(),
		Choices: r.plan.Workload.Completions, NoRetry: check,
		Answered: x.answer, Stop: x.halt,
	}, w)
	if check {
		if err := client.Fatal(w, r.ep.Target()); err != nil {
			x.fail(err)
		}
	}
	if b := max(r.params.Batch, 1); r.params.Endpoint == plan.Embeddings && w.Class == metrics.OK && w.Embeddings != b {
		w.Class, w.Err = metrics.Stream, fmt.Sprintf("answer held %d embeddings for %d inputs", w.Embeddings, b)
	}
	x.inflight.Add(-1)
	if ended != nil {
		ended(w)
	}
	if answer != nil {
		answer.keep(w)
	}
	if r.plan.Workload.LogContent {
		// A server may echo the key in its answer: the text is redacted
		// like every other output.
		rec.Text = &metrics.Text{Prompt: r.redact.Redact(it.LastUser())}
		if len(w.Text) > 0 {
			rec.Text.Answer = r.redact.Redact(string(w.Text[0]))
		}
	}
	// Counting tokens takes time; a run being cut off counts fast.
	rec.Derive(w, r.tok, reqCtx.Err() != nil)
	// What the answer was, and whether it is what the request asked: its
	// tool calls' arguments, a structured answer's JSON.
	rec.Judge(w, it.Expect)
	r.wires.Put(w)
	return rec
}

// newRecord is the record of request id before it is sent: its schedule,
// its warmup, the prompt the client counted and the output it allows.
func (x *execution) newRecord(id int64, sched time.Time, it *traffic.Item) *metrics.Record {
	r := x.r
	rec := metrics.NewRecord(id, sched)
	rec.Warmup = sched.Sub(x.start) < x.warmup
	rec.ClientPrompt = it.Prompt
	rec.MaxTokens = it.MaxTokens * max(r.plan.Workload.Completions, 1)
	switch r.params.Endpoint {
	case plan.Responses, plan.Completions:
		// The prompt is not the chat messages counted exactly: the
		// server's usage says.
		rec.ClientPrompt = -1
		if r.params.Endpoint == plan.Responses && it.MaxTokens > 0 {
			rec.MaxTokens = max(it.MaxTokens, traffic.MinResponsesTokens)
		}
	case plan.Embeddings:
		rec.ClientPrompt, rec.MaxTokens = -1, 0
	}
	rec.Session, rec.Turn = it.Session, it.Turn
	rec.Images, rec.ImageBytes, rec.ImageTokens = it.Images, it.ImageBytes, it.ImageTokens
	return rec
}

// answer notes that the endpoint answered a request.
func (x *execution) answer() {
	if !x.answered.Load() {
		x.answered.Store(true)
	}
}

// fail stops the run after the first request showed the endpoint is
// wrong.
func (x *execution) fail(err error) {
	x.fatalOnce.Do(func() {
		x.fatalErr = err
		close(x.fatal)
	})
}
