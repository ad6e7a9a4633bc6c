package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// callHead is a tool call's first chunk as Azure streams it: its id and
// name, no arguments yet.
func callHead(index int, id, name string) string {
	return fmt.Sprintf(`data: {"choices":[{"content_filter_results":{},"delta":{"role":"assistant","content":null,"tool_calls":[{"index":%d,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}]},"finish_reason":null,"index":0}],"id":"x","object":"chat.completion.chunk"}`+"\n\n", index, id, name)
}

// callArgs is one fragment of a tool call's arguments.
func callArgs(index int, frag string) string {
	return fmt.Sprintf(`data: {"choices":[{"content_filter_results":{},"delta":{"tool_calls":[{"index":%d,"function":{"arguments":%q}}]},"finish_reason":null,"index":0}],"id":"x","object":"chat.completion.chunk"}`+"\n\n", index, frag)
}

const callFinish = `data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"tool_calls","index":0}],"id":"x","object":"chat.completion.chunk"}` + "\n\n"

// toolArgs is a call's arguments and their fragments, one token each
// by the tokenizer, as the simulator streams them.
func toolArgs(t testing.TB) (string, []string) {
	t.Helper()
	tok, err := tokenizer.Get(tokenizer.O200k)
	if err != nil {
		t.Fatal(err)
	}
	args := `{"city":"Paris","unit":"celsius","days":3}`
	offs := tok.Offsets(nil, args)
	var frags []string
	start := 0
	for _, end := range offs {
		frags = append(frags, args[start:end])
		start = end
	}
	return args, frags
}

// callStream is a tool call streamed as Azure does: the prompt filter at
// once, the call's id and name at ttft, one argument fragment every itl,
// the finish tool_calls, usage (the arguments' tokens), [DONE].
func callStream(ttft, itl time.Duration, frags []string) []step {
	st := []step{{0, promptFilter}, {ttft, callHead(0, "call_abc123", "get_weather")}}
	for _, f := range frags {
		st = append(st, step{itl, callArgs(0, f)})
	}
	return append(st, step{0, callFinish}, step{0, usage(42, len(frags))}, step{0, doneFrame})
}

// TestToolCallStream: a streamed tool call's TTFT is at its first delta
// (the id and name, no argument yet), its TPOT and ITL are over its
// argument tokens, its output tokens are the arguments' (the name is not
// output text), finish_reason tool_calls is a clean end, and the call is
// assembled: id, name, the arguments whole.
func TestToolCallStream(t *testing.T) {
	args, frags := toolArgs(t)
	synctest.Test(t, func(t *testing.T) {
		const ttft, itl = 300 * time.Millisecond, 20 * time.Millisecond
		s := &script{replies: []reply{{status: 200, steps: callStream(ttft, itl, frags)}}}
		c := newClient(t, s, plan.RetryNone)
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body}, &w)
		if w.Class != metrics.OK || w.Finish[0] != "tool_calls" {
			t.Fatalf("%s %q, finish %v", w.Class, w.Err, w.Finish)
		}
		if len(w.Calls) != 1 || w.Calls[0].ID != "call_abc123" || w.Calls[0].Name != "get_weather" || string(w.Calls[0].Args) != args {
			t.Fatalf("calls %+v", w.Calls)
		}
		if string(w.Text[0]) != args {
			t.Errorf("output text %q, want the arguments only", w.Text[0])
		}
		tok, _ := tokenizer.Get(tokenizer.O200k)
		rec := metrics.NewRecord(0, w.Send)
		rec.Derive(&w, tok, false)
		if d, ok := rec.TTFT(); !ok || d != ttft {
			t.Errorf("TTFT %v, want %v (the id and name chunk)", d, ttft)
		}
		if rec.ClientOutput != len(frags) || rec.ServerOutput != len(frags) {
			t.Errorf("output tokens: client %d, server %d, want %d", rec.ClientOutput, rec.ServerOutput, len(frags))
		}
		if d, ok := rec.TPOT(); !ok || d != itl {
			t.Errorf("TPOT %v, want %v (over the argument tokens)", d, itl)
		}
		var gaps int
		for _, g := range rec.Gaps {
			if g.D != itl || g.Tokens != 1 {
				t.Errorf("gap %+v, want %v for 1 token", g, itl)
			}
			gaps++
		}
		if gaps != len(frags)-1 {
			t.Errorf("%d gaps, want %d", gaps, len(frags)-1)
		}
	})
}

// callServer is a loopback server that writes every line of the given
// events in a write of its own, flushed.
func callServer(t *testing.T, events []string) *httptest.Server {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, ev := range events {
			for _, part := range strings.SplitAfter(ev, "\n") {
				if part == "" {
					continue
				}
				io.WriteString(w, part)
				f.Flush()
			}
		}
	}, false)
	return srv
}

// TestToolCallOverTCP: over real loopback TCP, every line of the stream
// in a write of its own: two calls, their fragments interleaved, each
// assembled by its index; the same for the Responses API's events, and
// for whole answers of both APIs.
func TestToolCallOverTCP(t *testing.T) {
	chat := []string{promptFilter, callHead(0, "call_1", "get_weather"), callArgs(0, `{"city":`), callHead(1, "call_2", "get_time"),
		callArgs(1, `{"tz":"UTC"}`), callArgs(0, `"Oslo"}`), callFinish, usage(42, 9), doneFrame}
	resp := []string{
		respEvent("response.output_item.added", `"output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":""}`),
		respEvent("response.function_call_arguments.delta", `"output_index":0,"item_id":"fc_1","delta":"{\"city\":"`),
		respEvent("response.output_item.added", `"output_index":1,"item":{"type":"function_call","id":"fc_2","call_id":"call_2","name":"get_time","arguments":""}`),
		respEvent("response.function_call_arguments.delta", `"output_index":1,"item_id":"fc_2","delta":"{\"tz\":\"UTC\"}"`),
		respEvent("response.function_call_arguments.delta", `"output_index":0,"item_id":"fc_1","delta":"\"Oslo\"}"`),
		respEvent("response.function_call_arguments.done", `"output_index":0,"item_id":"fc_1","arguments":"{\"city\":\"Oslo\"}"`),
		respEvent("response.output_item.done", `"output_index":0,"item":{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}`),
		respEvent("response.completed", `"response":{"status":"completed","usage":{"input_tokens":42,"output_tokens":9}}`),
	}
	wholeChat := `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"UTC\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":42,"completion_tokens":9}}`
	wholeResp := `{"object":"response","status":"completed","output":[{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"},{"type":"function_call","call_id":"call_2","name":"get_time","arguments":"{\"tz\":\"UTC\"}"}],"usage":{"input_tokens":42,"output_tokens":9}}`
	for _, tc := range []struct {
		name   string
		typ    plan.Endpoint
		events []string
		whole  bool
		finish string
	}{
		{"chat", plan.Chat, chat, false, "tool_calls"},
		{"responses", plan.Responses, resp, false, "stop"},
		{"chat whole", plan.Chat, []string{wholeChat}, true, "tool_calls"},
		{"responses whole", plan.Responses, []string{wholeResp}, true, "stop"},
	} {
		srv := callServer(t, tc.events)
		ep, err := api.Resolve(srv.URL, api.OpenAI, tc.typ, "", "gpt-4o", "")
		if err != nil {
			t.Fatal(err)
		}
		c := New(Config{Endpoint: ep})
		for range 2 { // the second on a kept connection, the Wire reused
			var w metrics.Wire
			c.Do(context.Background(), Request{Body: body, Whole: tc.whole}, &w)
			if w.Class != metrics.OK || w.Finish[0] != tc.finish {
				t.Fatalf("%s: %s %q, finish %v", tc.name, w.Class, w.Err, w.Finish)
			}
			if len(w.Calls) != 2 || w.Calls[0].ID != "call_1" || w.Calls[0].Name != "get_weather" || string(w.Calls[0].Args) != `{"city":"Oslo"}` ||
				w.Calls[1].ID != "call_2" || w.Calls[1].Name != "get_time" || string(w.Calls[1].Args) != `{"tz":"UTC"}` {
				t.Errorf("%s: calls %+v", tc.name, w.Calls)
			}
			for _, call := range w.Calls {
				if !json.Valid(call.Args) {
					t.Errorf("%s: arguments %q do not parse", tc.name, call.Args)
				}
			}
			if !tc.whole && len(w.Events) != 5 {
				t.Errorf("%s: %d output events, want 5 (two heads, three fragments)", tc.name, len(w.Events))
			}
		}
		c.Close()
		srv.Close()
	}
}

// TestToolCallsHostile: a server's tool calls cannot make the client keep
// more than its bounds, nor carry a secret into the records: a million
// argument fragments (kept to MaxText), a name of a megabyte with the key
// in it (cut, redacted), the key echoed in a name and an id, and 10,000
// call indexes (refused at the 129th call).
func TestToolCallsHostile(t *testing.T) {
	const key = "sk-hostile-0123456789abcdef"
	many := func(n int, ev func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(ev(i))
		}
		return b.String()
	}
	cases := []struct {
		name  string
		body  func(k string) []string
		check func(t *testing.T, w *metrics.Wire)
	}{
		{"a million fragments", func(string) []string {
			batch := many(4096, func(int) string { return callArgs(0, "a") })
			evs := []string{callHead(0, "call_1", "f")}
			for range 1_000_000 / 4096 {
				evs = append(evs, batch)
			}
			evs = append(evs, many(1_000_000%4096, func(int) string { return callArgs(0, "a") }))
			return append(evs, callFinish, doneFrame)
		}, func(t *testing.T, w *metrics.Wire) {
			if w.Class != metrics.OK || len(w.Calls) != 1 || len(w.Calls[0].Args) != metrics.MaxText || !w.ArgsCut || len(w.Events) != 1_000_001 {
				t.Errorf("%s %q: %d calls, %d argument bytes kept, cut %v, %d events", w.Class, w.Err, len(w.Calls), len(w.Calls[0].Args), w.ArgsCut, len(w.Events))
			}
		}},
		{"a name of a megabyte", func(k string) []string {
			return []string{callHead(0, "call_1", k+strings.Repeat("n", 1<<20)), callArgs(0, "{}"), callFinish, doneFrame}
		}, func(t *testing.T, w *metrics.Wire) {
			if w.Class != metrics.OK || len(w.Calls) != 1 || len(w.Calls[0].Name) > metrics.MaxName+len("…") || strings.Contains(w.Calls[0].Name, key[:10]) ||
				!strings.HasPrefix(w.Calls[0].Name, auth.Redacted) {
				t.Errorf("%s %q: calls %.200q", w.Class, w.Err, fmt.Sprint(w.Calls))
			}
		}},
		{"the key echoed in a name and an id", func(k string) []string {
			return []string{callHead(0, "call_"+k, "tool_"+k), callArgs(0, "{}"), callFinish, doneFrame}
		}, func(t *testing.T, w *metrics.Wire) {
			if w.Class != metrics.OK || len(w.Calls) != 1 || w.Calls[0].Name != "tool_"+auth.Redacted || w.Calls[0].ID != "call_"+auth.Redacted {
				t.Errorf("%s %q: calls %+v", w.Class, w.Err, w.Calls)
			}
		}},
		{"an id longer than a name, kept whole for the next turn", func(string) []string {
			return []string{callHead(0, "call_"+strings.Repeat("x", 100), "f"), callArgs(0, "{}"), callFinish, doneFrame}
		}, func(t *testing.T, w *metrics.Wire) {
			if w.Class != metrics.OK || len(w.Calls) != 1 || w.Calls[0].ID != "call_"+strings.Repeat("x", 100) {
				t.Errorf("%s %q: calls %+v", w.Class, w.Err, w.Calls)
			}
		}},
		{"10,000 call indexes", func(string) []string {
			return []string{many(10_000, func(i int) string { return callHead(i, fmt.Sprint("call_", i), "f") }), callFinish, doneFrame}
		}, func(t *testing.T, w *metrics.Wire) {
			if w.Class != metrics.Stream || w.Err != "tool call index 128 out of range (at most 128 calls)" || len(w.Calls) != maxCalls {
				t.Errorf("%s %q: %d calls kept", w.Class, w.Err, len(w.Calls))
			}
		}},
		{"a call index that is no count", func(string) []string {
			return []string{callHead(-1, "call_1", "f"), callFinish, doneFrame}
		}, func(t *testing.T, w *metrics.Wire) {
			if w.Class != metrics.Stream || w.Err != "a tool call's index is not a count" || len(w.Calls) != 0 {
				t.Errorf("%s %q: %d calls kept", w.Class, w.Err, len(w.Calls))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := tc.body(key)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for _, ev := range evs {
					if _, err := io.WriteString(w, ev); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			ep, _ := api.Resolve(srv.URL, api.Azure, "", "d", "m", "v")
			c := New(Config{Endpoint: ep, Header: auth.KeyHeader(api.Azure, key), Redact: auth.NewRedactor(key).Redact})
			defer c.Close()
			var w metrics.Wire
			c.Do(context.Background(), Request{Body: body}, &w)
			tc.check(t, &w)
		})
	}
}

// BenchmarkToolCall is one request of a streamed tool call through
// Client.Do: its head, 40 argument fragments, the finish and usage.
func BenchmarkToolCall(b *testing.B) {
	ep, err := api.Resolve("https://x.openai.azure.com", "", plan.Chat, "gpt-4o", "", "2024-10-21")
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(promptFilter + callHead(0, "call_abc123", "get_weather"))
	for range 40 {
		sb.WriteString(callArgs(0, "word"))
	}
	sb.WriteString(callFinish + usage(42, 40) + doneFrame)
	const key = "0123456789abcdef0123456789abcdef"
	c := New(Config{Endpoint: ep, Header: http.Header{"Api-Key": {key}}, Redact: auth.NewRedactor(key).Redact,
		Transport: &memTransport{body: []byte(sb.String())}})
	req := Request{Body: func(bool) []byte { return []byte(`{}`) }}
	var w metrics.Wire
	b.ReportAllocs()
	for b.Loop() {
		c.Do(context.Background(), req, &w)
		if w.Class != metrics.OK || len(w.Calls) != 1 {
			b.Fatalf("%s %q", w.Class, w.Err)
		}
	}
}

// TestToolCallSplitAnywhere: a tool-call stream cut in two at every byte
// (two writes) reads the same: the calls, the text, the finish, the
// events.
func TestToolCallSplitAnywhere(t *testing.T) {
	stream := promptFilter + callHead(0, "call_1", "get_weather") + callArgs(0, `{"city":`) + callHead(1, "call_2", "get_time") +
		callArgs(1, `{"tz":"UTC"}`) + callArgs(0, `"Oslo é"}`) + callFinish + usage(42, 9) + doneFrame
	for k := 1; k < len(stream); k++ {
		s := &script{replies: []reply{{status: 200, steps: []step{{0, stream[:k]}, {0, stream[k:]}}}}}
		c := newClient(t, s, plan.RetryNone)
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body}, &w)
		if w.Class != metrics.OK || w.Finish[0] != "tool_calls" || len(w.Events) != 5 || len(w.Calls) != 2 ||
			w.Calls[0].ID != "call_1" || w.Calls[0].Name != "get_weather" || string(w.Calls[0].Args) != `{"city":"Oslo é"}` ||
			w.Calls[1].ID != "call_2" || w.Calls[1].Name != "get_time" || string(w.Calls[1].Args) != `{"tz":"UTC"}` ||
			string(w.Text[0]) != `{"city":{"tz":"UTC"}"Oslo é"}` {
			t.Fatalf("split at %d: %s %q, %d events, calls %+v, text %q", k, w.Class, w.Err, len(w.Events), w.Calls, w.Text)
		}
	}
	resp := respEvent("response.output_item.added", `"output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":""}`) +
		respEvent("response.function_call_arguments.delta", `"output_index":0,"item_id":"fc_1","delta":"{\"city\":\"Oslo é\"}"`) +
		respEvent("response.completed", `"response":{"status":"completed","usage":{"input_tokens":42,"output_tokens":9}}`)
	for k := 1; k < len(resp); k++ {
		s := &script{replies: []reply{{status: 200, steps: []step{{0, resp[:k]}, {0, resp[k:]}}}}}
		c := newClientOf(t, s, plan.RetryNone, plan.Responses)
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body}, &w)
		if w.Class != metrics.OK || len(w.Events) != 2 || len(w.Calls) != 1 || w.Calls[0].ID != "call_1" || w.Calls[0].Name != "get_weather" ||
			string(w.Calls[0].Args) != `{"city":"Oslo é"}` {
			t.Fatalf("Responses split at %d: %s %q, %d events, calls %+v", k, w.Class, w.Err, len(w.Events), w.Calls)
		}
	}
}
