package run

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/memnet"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// toolServer answers every request with a tool call streamed as Azure
// does, on an in-memory network: the call's id and name at 200 ms, its
// arguments in three fragments 20 ms apart (every second request's
// arguments cut short: not JSON), the finish tool_calls, usage.
func toolServer(t *testing.T) (*http.Transport, func()) {
	t.Helper()
	var count atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := count.Add(1)
		frags := []string{`{"city":`, `"Oslo"`, `}`}
		if n%2 == 0 {
			frags[2] = `,`
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		write := func(d time.Duration, s string) {
			time.Sleep(d)
			io.WriteString(w, "data: "+s+"\n\n")
			f.Flush()
		}
		write(200*time.Millisecond, fmt.Sprintf(`{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_%d","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`, n))
		for _, fr := range frags {
			write(20*time.Millisecond, fmt.Sprintf(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":%q}}]},"finish_reason":null}]}`, fr))
		}
		write(0, `{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)
		write(0, `{"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":3}}`)
		io.WriteString(w, "data: [DONE]\n\n")
	})
	ln := memnet.Listen()
	hs := &http.Server{Handler: h}
	go hs.Serve(ln)
	tr := &http.Transport{DialContext: ln.Dial, DisableCompression: true}
	return tr, func() {
		tr.CloseIdleConnections()
		hs.Close()
		ln.Close()
		time.Sleep(time.Second)
	}
}

// TestToolCallAnswers: a run's records and results say what the answers
// were: tool calls, their names, and whether their arguments parse (an
// answer whose arguments do not is a success with its verdict); the
// TTFT is at the call's id and name, the TPOT over its arguments.
func TestToolCallAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, stop := toolServer(t)
		defer stop()
		st := &stack{tr: tr}
		p := basePlan("d", 100, 30)
		p.Target.URL, p.Target.Auth = "http://aoai.test", plan.AuthNone
		p.Load.Rate, p.Load.Requests = rate(600), 6
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		if res.Requests.OK != 6 || res.Answers == nil || res.Answers.ToolCall != 6 || res.Answers.ToolShare != 1 ||
			res.Answers.ToolArgs != (metrics.Verdicts{Valid: 3, NotJSON: 3}) {
			t.Fatalf("ok %d, answers %+v", res.Requests.OK, res.Answers)
		}
		for _, r := range c.recs {
			ttft, _ := r.TTFT()
			tpot, _ := r.TPOT()
			if r.Answer != metrics.ToolCallAnswer || !slices.Equal(r.ToolNames, []string{"get_weather"}) || len(r.ToolArgs) != 1 ||
				r.ToolArgs[0] != schema.Valid && r.ToolArgs[0] != schema.NotJSON || ttft != 200*time.Millisecond || tpot != 20*time.Millisecond {
				t.Errorf("record %d: %s %v %v, TTFT %v, TPOT %v", r.ID, r.Answer, r.ToolNames, r.ToolArgs, ttft, tpot)
			}
		}
	})
}

// TestReplyKeeps: a conversation's reply copies choice 0's text and tool
// calls: the wire they came on is reused by the next request. The text
// is the content before the calls' arguments (which the wire's text also
// holds, as output): none for an answer that is only a call.
func TestReplyKeeps(t *testing.T) {
	w := &metrics.Wire{Text: [][]byte{[]byte(`Looking it up. {"a":1}`)}}
	w.AddCall().Args = append(w.Calls[0].Args, `{"a":1}`...)
	w.Calls[0].ID, w.Calls[0].Name = "call_1", "f"
	var a reply
	a.keep(w)
	w.Reset()
	w.AddCall().Args = append(w.Calls[0].Args, `XXXXXXX`...)
	w.Text = append(w.Text, []byte("XXXXXXX"))
	if string(a.text) != `Looking it up. ` || len(a.calls) != 1 || a.calls[0].ID != "call_1" || a.calls[0].Name != "f" || string(a.calls[0].Args) != `{"a":1}` {
		t.Errorf("reply %q %+v", a.text, a.calls)
	}
	w.Reset()
	if a.keep(w); len(a.text) != 0 || len(a.calls) != 0 {
		t.Errorf("a text answer after a call: %q %+v", a.text, a.calls)
	}
	for _, c := range []struct {
		text string
		args []string
		cut  bool
		want string
	}{
		{`{"a":1}`, []string{`{"a":1}`}, false, ""},
		{`{"a":1}{"b":2}`, []string{`{"a":1}`, `{"b":2}`}, false, ""},
		{`ok {"a":1}{"b":2}`, []string{`{"a":1}`, `{"b":2}`}, false, "ok "},
		{`{"a":1}{"b":2}`, []string{`{"b":2}`, `{"a":1}`}, false, ""}, // not in order: none
		{`ok {"a":1`, []string{`{"a":1}`}, true, ""},
		{`plain text`, nil, false, "plain text"},
	} {
		var calls []tools.Call
		for _, a := range c.args {
			calls = append(calls, tools.Call{Args: []byte(a)})
		}
		if got := string(contentOf([]byte(c.text), calls, c.cut)); got != c.want {
			t.Errorf("contentOf(%q, %q) = %q, want %q", c.text, c.args, got, c.want)
		}
	}
}
