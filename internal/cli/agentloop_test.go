package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// historyServer answers every request with a streamed tool call, each
// line in its own write, and verifies each request's history: a turn
// after the first carries, after the messages of the turn before, the
// assistant message with the call that turn got (id, name, arguments as
// sent, content null: the answer was only the call) and one tool message
// answering it, and no new user message.
type historyServer struct {
	mu       sync.Mutex
	calls    map[string]sentCall // by call id: what was answered, to which history
	turns    map[int]int         // requests by number of tool results carried
	problems []string
	n        int
}

type sentCall struct {
	name, args string
	history    int // messages of the request it answered
}

type message struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

func (h *historyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req struct {
		Messages []message `json:"messages"`
		Tools    []any     `json:"tools"`
	}
	h.mu.Lock()
	if err := json.Unmarshal(b, &req); err != nil || len(req.Tools) != 2 {
		h.problems = append(h.problems, fmt.Sprintf("a body without its 2 tools: %.200s", b))
	}
	h.check(req.Messages)
	h.n++
	id, name, args := fmt.Sprintf("call_%d", h.n), "lookup_order", fmt.Sprintf(`{"order":"A-%d","items":[1,2]}`, h.n)
	h.calls[id] = sentCall{name, args, len(req.Messages)}
	h.mu.Unlock()

	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(s string) { io.WriteString(w, "data: "+s+"\n\n"); fl.Flush() }
	send(fmt.Sprintf(`{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}]},"finish_reason":null}]}`, id, name))
	for _, frag := range []string{args[:9], args[9:17], args[17:]} {
		send(fmt.Sprintf(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":%q}}]},"finish_reason":null}]}`, frag))
	}
	send(`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)
	send("[DONE]")
}

// check verifies one request's history (under h.mu).
func (h *historyServer) check(msgs []message) {
	results := 0
	for i, m := range msgs {
		if m.Role != "tool" {
			continue
		}
		results++
		prev := msgs[i-1]
		c, ok := h.calls[m.ToolCallID]
		switch {
		case !ok:
			h.problems = append(h.problems, fmt.Sprintf("a tool message answers %q, a call never made", m.ToolCallID))
		case prev.Role != "assistant" || len(prev.ToolCalls) != 1 || prev.ToolCalls[0].ID != m.ToolCallID || prev.ToolCalls[0].Type != "function":
			h.problems = append(h.problems, fmt.Sprintf("the tool message for %s does not follow the assistant's call", m.ToolCallID))
		case prev.ToolCalls[0].Function.Name != c.name || prev.ToolCalls[0].Function.Arguments != c.args:
			h.problems = append(h.problems, fmt.Sprintf("call %s came back as %s(%s), sent as %s(%s)", m.ToolCallID,
				prev.ToolCalls[0].Function.Name, prev.ToolCalls[0].Function.Arguments, c.name, c.args))
		case string(bytes.TrimSpace(prev.Content)) != "null" && len(prev.Content) != 0:
			h.problems = append(h.problems, fmt.Sprintf("the assistant's call %s came back with content %s: the answer was only a call", m.ToolCallID, prev.Content))
		case c.history != i-1:
			h.problems = append(h.problems, fmt.Sprintf("call %s answered a request of %d messages; its history here has %d", m.ToolCallID, c.history, i-1))
		case len(bytes.TrimSpace(m.Content)) < 100:
			h.problems = append(h.problems, fmt.Sprintf("the tool result for %s is %d bytes: not a result of --tool-result-tokens", m.ToolCallID, len(m.Content)))
		}
	}
	if last := msgs[len(msgs)-1].Role; results > 0 && last != "tool" {
		h.problems = append(h.problems, fmt.Sprintf("a turn after a tool call ends with a %s message, not the tool's result", last))
	}
	h.turns[results]++
}

// TestAgentLoop: a 3-turn conversation with tools over loopback TCP is
// an agent loop: each turn after the first carries the call the turn
// before it got and that call's tool result, as the server verifies.
func TestAgentLoop(t *testing.T) {
	h := &historyServer{calls: map[string]sentCall{}, turns: map[int]int{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, nil, "load", "-n", "4", "-c", "2", "--model", "gpt-4o", "--turns", "3", "--tools", "2",
		"--tool-choice", "required", "--tool-result-tokens", "50", "--output-dir", dir, srv.URL)
	if !worked(code, errOut) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.problems {
		t.Error(p)
	}
	// 4 conversations of 3 turns: 4 first turns (no result), 4 seconds
	// (one), 4 thirds (two).
	if h.n != 12 || h.turns[0] != 4 || h.turns[1] != 4 || h.turns[2] != 4 {
		t.Errorf("%d requests, by results carried %v", h.n, h.turns)
	}
	recs := readRecords(t, filepath.Join(dir, "requests.jsonl"))
	for _, r := range recs {
		if r["answer"] != "tool_call" || r["finish"] != "tool_calls" || r["class"] != "ok" || fmt.Sprint(r["tool_args"]) != "[valid]" {
			t.Errorf("record %v", r)
		}
	}
	if len(recs) != 12 || !strings.Contains(errOut, "12 tool call (100.0% of 12 ok)") {
		t.Errorf("%d records; summary %s", len(recs), errOut)
	}
}

// readRecords reads requests.jsonl as generic records.
func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out = append(out, r)
	}
	return out
}
