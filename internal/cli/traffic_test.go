package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBadTrafficFiles: a dataset or trace that cannot be read gets one
// line naming file:line, exit 2, and nothing is sent.
func TestBadTrafficFiles(t *testing.T) {
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
		flag, path, want string
	}{
		{"--dataset", file("empty.jsonl", ""), "empty.jsonl:1: "},
		{"--dataset", file("blank.json", "  \n\n"), "blank.json:"},
		{"--dataset", file("cut.json", `[{"conversations":[{"from":"human","value":"hi"}]},`+"\n"+`{"conversations":[{"from":"hu`), "cut.json:2: "},
		{"--dataset", file("notshare.json", `[{"messages":"x"}]`), "notshare.json:1: "},
		{"--dataset", file("cols.csv", "question,answer\nhi,there\n"), "cols.csv:1: "},
		{"--dataset", file("short.csv", "prompt,output_tokens\nhi,12\nbye\n"), "short.csv:3: "},
		{"--dataset", file("neg.csv", "prompt,output_tokens\nhi,-4\n"), "neg.csv:2: "},
		{"--dataset", file("first.jsonl", "{\"prompt\": 12}\n{\"prompt\":\"ok\"}\n"), "first.jsonl:1: "},
		{"--dataset", file("binary.bin", "\x00\x01\x02\xff\xfe garbage \x00"), "binary.bin"},
		{"--dataset", filepath.Join(dir, "missing.jsonl"), "missing.jsonl"},
		{"--trace", file("t1.jsonl", `{"timestamp": 0, "input_length": 100, "output_length": 10}`+"\n"+`{"timestamp": 5, "input_length": 100}`+"\n"), "t1.jsonl:2: "},
		{"--trace", file("t2.jsonl", `{"timestamp": -1, "input_length": 100, "output_length": 10}`+"\n"), "t2.jsonl:1: "},
		{"--trace", file("t3.jsonl", `{"timestamp": 0, "input_length": 100, "output_length": 10, "hash_ids": [1, -2]}`+"\n"), "t3.jsonl:1: "},
		{"--trace", file("t4.jsonl", ""), "t4.jsonl:1: "},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, nil, "load", "--model", "gpt-4o-mini", "-n", "3", c.flag, c.path, srv.URL)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "aoaibench: error: "+c.flag) || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%s %s: exit %d, stderr %q; want exit 2 and one line with %q", c.flag, filepath.Base(c.path), code, errOut, c.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}

// TestBadTrafficFlags: flags that do not go together, refused before
// anything runs.
func TestBadTrafficFlags(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "d.jsonl")
	os.WriteFile(ds, []byte(`{"prompt":"hi"}`+"\n"), 0o644)
	tr := filepath.Join(dir, "t.jsonl")
	os.WriteFile(tr, []byte(`{"timestamp":0,"input_length":50,"output_length":5}`+"\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--synthetic", "prompt_tokens=800,bogus=1"}, "--synthetic"},
		{[]string{"--synthetic", "prompt_tokens=800"}, "output_tokens"},
		{[]string{"--synthetic", "prompt_tokens=100000,output_tokens=100000"}, "context window"},
		{[]string{"--synthetic", "prompt_tokens=800,output_tokens=10", "-p", "100"}, "--synthetic gives the prompts' lengths: --context-tokens does not apply"},
		{[]string{"--dataset", ds, "--synthetic", "prompt_tokens=8,output_tokens=1"}, "--synthetic does not apply"},
		{[]string{"--dataset", ds, "-p", "100"}, "--dataset gives the prompts"},
		{[]string{"--dataset", ds, "--prefix-tokens", "2000"}, "--prefix-tokens"},
		{[]string{"--dataset-shuffle"}, "--dataset-shuffle needs --dataset"},
		{[]string{"--dataset", ds, "--dataset-format", "xml"}, "--dataset-format"},
		{[]string{"--trace", tr, "-r", "60"}, "--trace is the schedule"},
		{[]string{"--trace", tr, "--trace-speed", "0"}, "--trace-speed"},
		{[]string{"--trace", tr, "-m", "10"}, "--max-tokens does not apply"},
		{[]string{"--trace-speed", "2"}, "--trace-speed needs --trace"},
		{[]string{"--prefix-tokens", "600"}, "--prefix-tokens"},
		{[]string{"--prefixes", "3"}, "--prefixes 3 needs --prefix-tokens"},
		{[]string{"--turns=-1"}, "--turns"},
		{[]string{"--think-time", "2s"}, "--think-time is the pause between the turns"},
		{[]string{"--turns", "3", "--think-time", "5s-1s"}, "--think-time"},
		{[]string{"--turns", "3", "--think-time", "soon"}, "--think-time"},
		{[]string{"--turns", "3", "-i", "2"}, "--completions 2 and --turns"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, nil, append([]string{"load", "-n", "1"}, c.args...)...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
}
