package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBadAgentInput: every bad agent or vision input is one line, exit
// 2, and nothing is sent.
func TestBadAgentInput(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("data: [DONE]\n\n"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--response-format", "schema:" + file("notjson.json", "{\n  \"type\": \"object\",\n  oops\n}")}, "--response-format: " + filepath.Join(dir, "notjson.json") + ":3: not JSON"},
		{[]string{"--response-format", "schema:" + file("notschema.json", `{"type": 12}`)}, "notschema.json: not a JSON Schema"},
		{[]string{"--response-format", "schema:" + file("array.json", `{"type": "array"}`)}, `array.json: a structured answer's schema must have "type": "object"`},
		{[]string{"--response-format", "schema:" + filepath.Join(dir, "missing.json")}, "--response-format: open "},
		{[]string{"--response-format", "yaml"}, `--response-format must be json or schema:FILE, got "yaml"`},
		{[]string{"--images", "1", "--model", "gpt-35-turbo"}, "--images: model gpt-35-turbo takes no image input"},
		{[]string{"--images", "1", "-e", "gpt-4-32k"}, "--images: model gpt-4-32k takes no image input"},
		{[]string{"--images", "1", "--image-size", "0x0"}, "--image-size: each side must be from 1 to 8192 pixels, got 0x0"},
		{[]string{"--images", "2", "--image-size", "8192x8192"}, "MB a request as data URLs, over the 28 MB one request carries"},
		{[]string{"--images", "1", "--image-size", "1024"}, `--image-size: want WIDTHxHEIGHT in pixels (e.g. 1024x1024), got "1024"`},
		{[]string{"--images", "1", "--image-size", "10000x10"}, "--image-size: each side"},
		{[]string{"--images", "1", "--image-size", ""}, "--image-size must be WIDTHxHEIGHT"},
		{[]string{"--images", "11"}, "--images must be from 0 to 10"},
		{[]string{"--image-size", "512x512"}, "--image-size 512x512 needs --images"},
		{[]string{"--images", "1", "--image-detail", "ultra"}, "--image-detail must be low, high or auto"},
		{[]string{"--tools", "129"}, "--tools must be from 0 to 128"},
		{[]string{"--tool-choice", "required"}, "--tool-choice required needs --tools"},
		{[]string{"--tools", "2", "--tool-choice", "maybe"}, "--tool-choice must be auto, required or none"},
		{[]string{"--tools", "2", "--endpoint-type", "embeddings"}, "--tools needs the chat or responses API: --endpoint-type embeddings"},
		{[]string{"--images", "1", "--endpoint-type", "completions"}, "--images needs the chat or responses API: --endpoint-type completions"},
		{[]string{"--response-format", "json", "--endpoint-type", "embeddings"}, "--response-format needs the chat or responses API"},
		{[]string{"--tool-result-tokens", "100"}, "--tool-result-tokens is the tool result a conversation's next turn sends: it needs --turns 2 or more"},
		{[]string{"--turns", "2", "--tool-result-tokens", "0"}, "--tool-result-tokens must be from 1 to 1000000"},
		{[]string{"--tools", "2", "--trace", file("t.jsonl", `{"timestamp":0,"input_length":50,"output_length":5}`+"\n")}, "--trace gives each request's prompt length: --tools does not apply"},
		{[]string{"--images", "2", "--dataset", file("d.jsonl", `{"prompt":"hi"}`+"\n")}, "a dataset's rows carry their own image parts"},
		{[]string{"--tools", "2", "-p", "127000", "-m", "500", "--images", "2"}, "over the model's context window of 128000 tokens"},
		{[]string{"--tools", "20", "--synthetic", "prompt_tokens=127000,output_tokens=500"}, "that tools, images and a schema add) and answers of up to 500 are over the model's context window"},
	}
	for _, c := range cases {
		args := append([]string{"load", "-n", "1"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "--model") && !strings.Contains(strings.Join(c.args, " "), "-e ") {
			args = append(args, "--model", "gpt-4o")
		}
		code, out, errOut := runCLI(t, nil, append(args, srv.URL)...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != ExitUsage || len(lines) != 1 || !strings.HasPrefix(lines[0], "aoaibench: error: ") || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
	// The built-in simulator's model is the one named.
	code, out, errOut := runCLI(t, nil, "load", "-n", "1", "--model", "gpt-35-turbo", "--images", "1")
	if code != ExitUsage || out != "" || strings.TrimSpace(errOut) != "aoaibench: error: --images: model gpt-35-turbo takes no image input" {
		t.Errorf("the simulator's model without vision: exit %d, %q", code, errOut)
	}
}

// TestAgentRequests: --tools, --response-format and --images reach the
// endpoint in every body (chat's shape), and the start says what they
// add.
func TestAgentRequests(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"{}\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, nil, "load", "-n", "2", "-c", "1", "--model", "gpt-4o", "--tools", "3", "--tool-choice", "required",
		"--response-format", "json", "--images", "2", "--image-size", "64x32", "--image-detail", "low", "--seed", "5", "--output-dir", filepath.Join(dir, "a"), srv.URL)
	if !worked(code, errOut) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// run.json keeps the flags: --plan sends the same bodies again.
	code, _, again := runCLI(t, nil, "load", "--plan", filepath.Join(dir, "a", "run.json"), "--output-dir", filepath.Join(dir, "b"))
	if !worked(code, again) {
		t.Fatalf("--plan: exit %d: %s", code, again)
	}
	mu.Lock()
	if len(bodies) != 4 || string(bodies[0]) != string(bodies[2]) || string(bodies[1]) != string(bodies[3]) {
		t.Errorf("--plan sent other bodies (%d)", len(bodies))
	}
	bodies = bodies[:2]
	mu.Unlock()
	if !strings.Contains(oneLine(errOut), "note: 3 tools add ") || !strings.Contains(oneLine(errOut), "2 images of 64x32 (detail low, 2 KB each) add 170") {
		t.Errorf("no line of what tools and images add: %s", errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("%d bodies", len(bodies))
	}
	for _, b := range bodies {
		var v struct {
			Messages []struct {
				Content []struct {
					Type     string `json:"type"`
					Text     string `json:"text"`
					ImageURL struct {
						URL    string `json:"url"`
						Detail string `json:"detail"`
					} `json:"image_url"`
				} `json:"content"`
			} `json:"messages"`
			Tools []struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
			ToolChoice     string          `json:"tool_choice"`
			ResponseFormat json.RawMessage `json:"response_format"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%v: %.300s", err, b)
		}
		parts := v.Messages[len(v.Messages)-1].Content
		if len(v.Tools) != 3 || v.Tools[0].Type != "function" || v.ToolChoice != "required" || string(v.ResponseFormat) != `{"type":"json_object"}` ||
			len(parts) != 3 || parts[0].Type != "text" || !strings.Contains(parts[0].Text, " json ") ||
			parts[1].Type != "image_url" || parts[1].ImageURL.Detail != "low" || !strings.HasPrefix(parts[2].ImageURL.URL, "data:image/jpeg;base64,") {
			t.Errorf("body %.600s", b)
		}
	}
}
