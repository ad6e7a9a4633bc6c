package sim

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// TestOpenAISDK: the official OpenAI SDK for Node.js (the openai package,
// testdata/node) streams chat and the Responses API from the simulator
// over loopback TCP, with the OpenAI client on the v1 routes and the
// AzureOpenAI client on a deployment's, and gets the usage the simulator
// counted; and it streams a tool call, assembled by the SDK's stream
// helper, whose arguments parse with the keys of a whole one's. .ci/run installs the package and sets AOAIBENCH_REQUIRE_SDK, so
// that CI cannot skip this; elsewhere it runs when npm ci has been run in
// testdata/node.
func TestOpenAISDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if _, serr := os.Stat("testdata/node/node_modules/openai/package.json"); err != nil || serr != nil {
		if os.Getenv("AOAIBENCH_REQUIRE_SDK") != "" {
			t.Fatalf("the OpenAI SDK check needs node and the openai package (npm ci in internal/sim/testdata/node): %v %v", err, serr)
		}
		t.Skip("node or the openai package is missing: npm ci in internal/sim/testdata/node")
	}
	s, err := New(Config{APIKey: "sk-sdk-check", Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Config.ConnContext = s.ConnContext
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.mjs", srv.URL, "sk-sdk-check")
	cmd.Dir = "testdata/node"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	type usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		InputTokens      int `json:"input_tokens"`
		OutputTokens     int `json:"output_tokens"`
	}
	var got struct {
		Chat struct {
			Text   string
			Chunks int
			Usage  *usage
			Finish string
		}
		Responses struct {
			Text   string
			Deltas int
			Types  []string
			Usage  *usage
			Status string
		}
		Azure struct {
			Text  string
			Usage *usage
		}
		ToolStream struct {
			Deltas                           int
			DoneArgs, Name, ID, Args, Finish string
			Content                          *string
			Usage                            *usage
		}
		ToolWhole struct {
			Name, Args, Finish string
			Usage              *usage
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c, r, a := got.Chat, got.Responses, got.Azure
	if c.Chunks != 12 || len(strings.Fields(c.Text)) != 12 || c.Usage == nil || c.Usage.CompletionTokens != 12 || c.Finish != "length" {
		t.Errorf("chat: %+v", c)
	}
	if r.Deltas != 20 || len(strings.Fields(r.Text)) != 20 || r.Usage == nil || r.Usage.OutputTokens != 20 || r.Status != "incomplete" ||
		len(r.Types) != 28 || r.Types[0] != "response.created" {
		t.Errorf("responses: %+v", r)
	}
	if len(strings.Fields(a.Text)) != 5 || a.Usage == nil || a.Usage.CompletionTokens != 5 {
		t.Errorf("azure: %+v", a)
	}
	ts, tw := got.ToolStream, got.ToolWhole
	keys := func(args string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(args), &m); err != nil {
			return "not JSON: " + err.Error()
		}
		ks := slices.Sorted(maps.Keys(m))
		return strings.Join(ks, ",")
	}
	tok, _ := tokenizer.Get(tokenizer.O200k)
	if ts.Name != "get_order" || !strings.HasPrefix(ts.ID, "call_") || ts.Finish != "tool_calls" || ts.Content != nil || ts.DoneArgs != ts.Args ||
		keys(ts.Args) != "limit,order_id,status" || ts.Usage == nil || ts.Usage.CompletionTokens != tok.Count(ts.Args) || ts.Deltas != tok.Count(ts.Args) {
		t.Errorf("streamed tool call: %+v (keys %s, %d tokens)", ts, keys(ts.Args), tok.Count(ts.Args))
	}
	if tw.Name != "get_order" || tw.Finish != "tool_calls" || keys(tw.Args) != keys(ts.Args) {
		t.Errorf("whole tool call: %+v, streamed %+v", tw, ts)
	}
	st := s.Stats().Deployments["gpt-4o-mini"]
	if st.ToolCalls != 2 {
		t.Errorf("the simulator counted %d tool calls, want 2", st.ToolCalls)
	}
	if c.Usage != nil && r.Usage != nil && a.Usage != nil && ts.Usage != nil && tw.Usage != nil {
		prompt := c.Usage.PromptTokens + r.Usage.InputTokens + a.Usage.PromptTokens + ts.Usage.PromptTokens + tw.Usage.PromptTokens
		if st.Completed != 5 || st.PromptTokens != int64(prompt) || st.CompletionTokens != int64(37+ts.Usage.CompletionTokens+tw.Usage.CompletionTokens) {
			t.Errorf("the SDK's usage %+v %+v %+v; the simulator's %d completed, %d + %d tokens", c.Usage, r.Usage, a.Usage, st.Completed, st.PromptTokens, st.CompletionTokens)
		}
	}
}
