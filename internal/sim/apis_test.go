package sim

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// TestResponsesEventOrder: the Responses API's stream in Azure's order,
// each event: line naming its data's type, sequence numbers from 0 with
// no gap, the deltas' text equal to the done events' text, and the usage
// of response.completed equal to the simulator's own count.
func TestResponsesEventOrder(t *testing.T) {
	run(t, Config{}, func(e *env) {
		for _, path := range []string{"/openai/v1/responses", "/v1/responses", "/openai/responses?api-version=2025-04-01-preview"} {
			e.post("/sim/reset", "")
			resp := e.post(path, `{"model":"gpt-4o-mini","input":[{"role":"user","content":"hello world"}],"instructions":"be brief","max_output_tokens":64,"stream":true}`)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, readAll(resp))
			}
			var types []string
			var deltas, done string
			var usage struct{ InputTokens, OutputTokens int }
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			name := ""
			for sc.Scan() {
				line := sc.Text()
				if v, ok := strings.CutPrefix(line, "event: "); ok {
					name = v
					continue
				}
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok {
					continue
				}
				var ev struct {
					Type     string `json:"type"`
					Seq      *int   `json:"sequence_number"`
					Delta    string `json:"delta"`
					Text     string `json:"text"`
					Response struct {
						Status string `json:"status"`
						Usage  *struct {
							InputTokens  int `json:"input_tokens"`
							OutputTokens int `json:"output_tokens"`
						} `json:"usage"`
					} `json:"response"`
				}
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					t.Fatalf("%s: %v: %s", path, err, data)
				}
				if ev.Type != name || ev.Seq == nil || *ev.Seq != len(types) {
					t.Fatalf("%s: event %q, data type %q, sequence %v after %d events", path, name, ev.Type, ev.Seq, len(types))
				}
				types = append(types, ev.Type)
				switch ev.Type {
				case "response.output_text.delta":
					deltas += ev.Delta
				case "response.output_text.done":
					done = ev.Text
				case "response.completed":
					if u := ev.Response.Usage; u != nil {
						usage.InputTokens, usage.OutputTokens = u.InputTokens, u.OutputTokens
					}
				}
			}
			resp.Body.Close()
			want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"}
			for range 64 {
				want = append(want, "response.output_text.delta")
			}
			want = append(want, "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete")
			if strings.Join(types, ",") != strings.Join(want, ",") {
				t.Errorf("%s: events\n%v\nwant\n%v", path, types, want)
			}
			if deltas != done || len(strings.Fields(deltas)) != 64 {
				t.Errorf("%s: deltas %q, done %q", path, deltas, done)
			}
			st := e.s.Stats().Deployments["gpt-4o-mini"]
			if st.Completed != 1 || st.CompletionTokens != 64 || st.PromptTokens < 10 {
				t.Errorf("%s: stats %+v", path, st)
			}
		}
	})
}

// TestOtherAPIs: legacy completions stream their text with a usage
// frame; embeddings answer one vector per input, counted without chat
// overhead; a throttled request names its API's operation; bad bodies
// are refused as Azure refuses them.
func TestOtherAPIs(t *testing.T) {
	run(t, Config{}, func(e *env) {
		resp := e.post("/openai/deployments/gpt-4o-mini/completions?api-version=2024-10-21", `{"prompt":"hello world","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}`)
		body := readAll(resp)
		if resp.StatusCode != 200 || strings.Count(body, `"text":" `) != 5 || !strings.Contains(body, `"completion_tokens":5,"prompt_tokens":2`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
			t.Errorf("completions: %d %s", resp.StatusCode, body)
		}
		resp = e.post("/v1/embeddings", `{"model":"gpt-4o-mini","input":["hello world","one two three"]}`)
		var emb struct {
			Data []struct {
				Index     int       `json:"index"`
				Embedding []float64 `json:"embedding"`
			} `json:"data"`
			Usage struct{ PromptTokens int } `json:"usage"`
		}
		body = readAll(resp)
		if err := json.Unmarshal([]byte(body), &emb); err != nil || len(emb.Data) != 2 || emb.Data[1].Index != 1 || len(emb.Data[0].Embedding) != 1536 {
			t.Errorf("embeddings: %v %.300s", err, body)
		}
		for _, c := range []struct{ path, body, param string }{
			{"/v1/responses", `{"model":"gpt-4o-mini","input":"hi","max_output_tokens":8}`, "max_output_tokens"},
			{"/v1/responses", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "messages"},
			{"/v1/responses", `{"model":"gpt-4o-mini"}`, "input"},
			{"/v1/embeddings", `{"model":"gpt-4o-mini","input":"hi","stream":true}`, "stream"},
			{"/v1/embeddings", `{"model":"gpt-4o-mini","input":[1,2]}`, "input"},
			{"/v1/completions", `{"model":"gpt-4o-mini","prompt":["a","b"]}`, "prompt"},
		} {
			resp := e.post(c.path, c.body)
			body := readAll(resp)
			if p := errorOf(t, body).Param; resp.StatusCode != 400 || p == nil || *p != c.param {
				t.Errorf("%s %s: %d %s", c.path, c.body, resp.StatusCode, body)
			}
		}
	})
	d := simconfig.DefaultDeployment()
	d.TPM = 1000
	run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
		var last string
		for range 3 {
			resp := e.post("/v1/embeddings", `{"model":"gpt-4o-mini","input":"`+strings.Repeat("word ", 400)+`"}`)
			last = readAll(resp)
		}
		if !strings.Contains(errorOf(t, last).Message, "Embeddings_Create Operation") {
			t.Errorf("throttled embeddings: %s", last)
		}
	})
}

// TestSpilloverHeader: a request's x-ms-spillover-deployment names where
// a provisioned deployment's overflow goes; the answer says where it was
// served and where it spilled from; a deployment set up to spill over to
// one that is not standard is refused.
func TestSpilloverHeader(t *testing.T) {
	ptu := simconfig.DefaultDeployment()
	ptu.Name, ptu.Type, ptu.PTU, ptu.TPMPerPTU = "ptu", "provisioned", 15, 240 // 3,600 units: three requests of 300 max tokens at 4 each
	std := simconfig.DefaultDeployment()
	std.Name = "std"
	run(t, Config{Deployments: []simconfig.Deployment{ptu, std}}, func(e *env) {
		served := map[string]int{}
		for i := range 6 {
			resp := e.post("/openai/deployments/ptu/chat/completions?api-version=2024-10-21", chat(300, false), "x-ms-spillover-deployment", "std")
			readAll(resp)
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
			from := resp.Header.Get("x-ms-spillover-from-deployment")
			served[resp.Header.Get("x-ms-deployment-name")+"<"+from]++
			time.Sleep(10 * time.Millisecond)
		}
		st := e.s.Stats().Deployments
		if served["ptu<"] == 0 || served["std<ptu"] == 0 || int64(served["std<ptu"]) != st["ptu"].Spilled || st["ptu"].ThrottledTotal() != 0 {
			t.Errorf("served %v, stats spilled %d throttled %d", served, st["ptu"].Spilled, st["ptu"].ThrottledTotal())
		}
	})
	bad := ptu
	bad.Spillover = "ptu2"
	ptu2 := ptu
	ptu2.Name = "ptu2"
	if _, err := New(Config{Deployments: []simconfig.Deployment{bad, ptu2}}); err == nil || !strings.Contains(err.Error(), "spillover") {
		t.Errorf("spillover to a provisioned deployment: %v", err)
	}
}
