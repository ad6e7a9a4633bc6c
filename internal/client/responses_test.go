package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// respEvent is one Responses API SSE event: its event: line and its data.
func respEvent(typ, fields string) string {
	if fields != "" {
		fields = "," + fields
	}
	return fmt.Sprintf("event: %s\ndata: {\"type\":%q%s}\n\n", typ, typ, fields)
}

// responsesStream is the Responses API's framing: the answer created and
// its message added at once, no output; the first text delta after ttft,
// one every itl; then the done events and response.completed with usage.
// There is no [DONE]: the body ends.
func responsesStream(ttft, itl time.Duration, words []string, reasoning int) []step {
	st := []step{{0, respEvent("response.created", `"response":{"status":"in_progress","output":[],"usage":null}`) +
		respEvent("response.in_progress", `"response":{"status":"in_progress","usage":null}`) +
		respEvent("response.output_item.added", `"item":{"type":"message","content":[]}`) +
		respEvent("response.content_part.added", `"part":{"type":"output_text","text":""}`)}}
	for i, w := range words {
		d := itl
		if i == 0 {
			d = ttft
		}
		st = append(st, step{d, respEvent("response.output_text.delta", fmt.Sprintf(`"item_id":"msg_1","output_index":0,"content_index":0,"delta":%q`, " "+w))})
	}
	text := " " + strings.Join(words, " ")
	return append(st, step{0, respEvent("response.output_text.done", fmt.Sprintf(`"text":%q`, text)) +
		respEvent("response.output_item.done", fmt.Sprintf(`"item":{"type":"message","content":[{"type":"output_text","text":%q}]}`, text)) +
		respEvent("response.completed", fmt.Sprintf(`"response":{"status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":%q}]}],"usage":{"input_tokens":21,"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}}`,
			text, len(words)+reasoning, reasoning, 21+len(words)+reasoning))})
}

// TestResponsesStream: TTFT is the first output_text delta, not the
// events before it; TPOT comes from the deltas; usage and the end come
// from response.completed, with hidden reasoning tokens left out of the
// visible count; a stream that ends before it is cut.
func TestResponsesStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := words(20)
		s := &script{replies: []reply{{status: 200, steps: responsesStream(150*time.Millisecond, 10*time.Millisecond, ws, 64)}}}
		rec := do(newClientOf(t, s, plan.RetryNone, plan.Responses), context.Background())
		if rec.Class != metrics.OK {
			t.Fatalf("%s: %s", rec.Class, rec.Err)
		}
		ttft, _ := rec.TTFT()
		tpot, _ := rec.TPOT()
		if ttft != 150*time.Millisecond || tpot != 10*time.Millisecond {
			t.Errorf("TTFT %v, TPOT %v; want 150ms, 10ms", ttft, tpot)
		}
		if rec.ServerPrompt != 21 || rec.ServerOutput != 84 || rec.ServerReasoning != 64 || rec.VisibleTokens() != 20 || rec.ClientOutput != 20 || rec.Finish != "stop" {
			t.Errorf("usage %d/%d/%d, visible %d, client %d, finish %q", rec.ServerPrompt, rec.ServerOutput, rec.ServerReasoning, rec.VisibleTokens(), rec.ClientOutput, rec.Finish)
		}
		if d, both := rec.TokenMismatch(); !both || d != 0 {
			t.Errorf("token mismatch %d (%v): hidden reasoning is not a mismatch", d, both)
		}

		// Cut before response.completed: the deltas came, the end did not.
		steps := responsesStream(150*time.Millisecond, 10*time.Millisecond, ws, 0)
		s = &script{replies: []reply{{status: 200, steps: steps[:len(steps)-1]}}}
		if rec := do(newClientOf(t, s, plan.RetryNone, plan.Responses), context.Background()); rec.Class != metrics.Stream || !strings.Contains(rec.Err, "before finish_reason") {
			t.Errorf("cut stream: %s %q", rec.Class, rec.Err)
		}
		// response.incomplete (max_output_tokens) ends it as length.
		steps = responsesStream(150*time.Millisecond, 10*time.Millisecond, ws[:3], 0)
		steps[len(steps)-1] = step{0, respEvent("response.incomplete", `"response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":21,"output_tokens":3}}`)}
		s = &script{replies: []reply{{status: 200, steps: steps}}}
		if rec := do(newClientOf(t, s, plan.RetryNone, plan.Responses), context.Background()); rec.Class != metrics.OK || rec.Finish != "length" {
			t.Errorf("incomplete: %s %q finish %q", rec.Class, rec.Err, rec.Finish)
		}
		// response.failed and an error event fail the request.
		for _, ev := range []string{
			respEvent("response.failed", `"response":{"status":"failed","error":{"code":"server_error","message":"model crashed"}}`),
			respEvent("error", `"code":"server_error","message":"model crashed","param":null`),
		} {
			steps = responsesStream(150*time.Millisecond, 10*time.Millisecond, ws[:3], 0)
			steps[len(steps)-1] = step{0, ev}
			s = &script{replies: []reply{{status: 200, steps: steps}}}
			if rec := do(newClientOf(t, s, plan.RetryNone, plan.Responses), context.Background()); rec.Class != metrics.Stream || !strings.Contains(rec.Err, "model crashed") {
				t.Errorf("%s: %s %q", ev, rec.Class, rec.Err)
			}
		}
	})
}

// TestResponsesOverTCP: over real loopback TCP, each event's event: line
// and data line in writes of their own, the body ended by the server, not
// by [DONE]: the answer is read whole and the connection is kept.
func TestResponsesOverTCP(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, st := range responsesStream(0, 0, []string{"Hi", "there"}, 0) {
			for _, part := range strings.SplitAfter(st.data, "\n") {
				io.WriteString(w, part)
				f.Flush()
			}
		}
	}, false)
	ep, err := api.Resolve(srv.URL, api.OpenAI, plan.Responses, "", "gpt-4o", "")
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Endpoint: ep})
	defer c.Close()
	for range 3 {
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body}, &w)
		if w.Class != metrics.OK || string(w.Text[0]) != " Hi there" || w.Usage.Prompt != 21 || len(w.Events) != 2 {
			t.Fatalf("%s %q: text %q, usage %+v, %d events", w.Class, w.Err, w.Text, w.Usage, len(w.Events))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 sequential requests, want 1", n)
	}
}

// TestWholeAnswer: an answer that is not streamed has no TTFT and no TPOT
// (none is made up from its one arrival), an E2E, the server's usage and
// the client's count of its text; an embeddings answer counts its
// vectors.
func TestWholeAnswer(t *testing.T) {
	answers := map[string]string{
		"/chat":       `{"choices":[{"index":0,"message":{"role":"assistant","content":"a whole answer"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3}}`,
		"/responses":  `{"object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"a whole answer"}]}],"usage":{"input_tokens":9,"output_tokens":3}}`,
		"/embeddings": `{"object":"list","data":[{"embedding":[0.1]},{"embedding":[0.2]}],"usage":{"prompt_tokens":9,"total_tokens":9}}`,
	}
	var accept string
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answers[r.URL.Path])
	}, false)
	tok, _ := tokenizer.Get(tokenizer.O200k)
	for path := range answers {
		c := New(Config{Endpoint: api.Endpoint{URL: srv.URL + path}})
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body, Whole: true}, &w)
		c.Close()
		rec := metrics.NewRecord(0, w.Send)
		rec.Derive(&w, tok, false)
		_, hasTTFT := rec.TTFT()
		_, hasTPOT := rec.TPOT()
		_, hasE2E := rec.E2E()
		if rec.Class != metrics.OK || hasTTFT || hasTPOT || !hasE2E || rec.ServerPrompt != 9 || accept != "application/json" {
			t.Errorf("%s: %s %q, TTFT %v, TPOT %v, E2E %v, prompt %d, Accept %q", path, rec.Class, rec.Err, hasTTFT, hasTPOT, hasE2E, rec.ServerPrompt, accept)
		}
		want := 3
		if path == "/embeddings" {
			want = 0
			if w.Embeddings != 2 {
				t.Errorf("embeddings %d, want 2", w.Embeddings)
			}
		}
		if rec.VisibleTokens() != want || rec.ClientOutput != want {
			t.Errorf("%s: visible %d, client %d; want %d", path, rec.VisibleTokens(), rec.ClientOutput, want)
		}
	}
}
