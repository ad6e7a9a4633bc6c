package traffic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordedTrace: load --trace DIR replays an aoaibench run: each
// request at its send time from the first, a prompt of its prompt
// tokens, max_tokens as it asked (its output when it asked none), cached
// tokens as a shared prefix; the warmup and requests with no prompt
// count are not replayed.
func TestRecordedTrace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := []string{
		`{"id":0,"class":"ok","send":1.5,"prompt_tokens":1500,"output_tokens":100,"cached_tokens":1100,"max_tokens":200}`,
		`{"id":1,"class":"throttled","send":2.5,"prompt_tokens":700,"output_tokens":0,"cached_tokens":null,"max_tokens":300}`,
		`{"id":2,"class":"ok","send":0.5,"prompt_tokens":300,"output_tokens":50,"max_tokens":0,"warmup":true}`,
		`{"id":3,"class":"connection","send":3,"prompt_tokens":0,"output_tokens":0,"max_tokens":200}`,
		``,
		`{"id":4,"class":"ok","send":null,"sched":3.5,"prompt_tokens":1200,"output_tokens":5,"cached_tokens":1024,"max_tokens":0}`,
	}
	os.WriteFile(filepath.Join(dir, RunFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	tr, err := ReadTrace(dir, 1, 512, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []TraceRow{{At: 0, Input: 1500, Output: 200}, {At: time.Second, Input: 700, Output: 300}, {At: 2 * time.Second, Input: 1200, Output: 5}}
	if len(tr.Rows) != len(want) {
		t.Fatalf("%d rows: %+v", len(tr.Rows), tr.Rows)
	}
	for i, w := range want {
		r := tr.Rows[i]
		if r.At != w.At || r.Input != w.Input || r.Output != w.Output {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
	}
	if len(tr.Rows[0].Hashes) != 2 || len(tr.Rows[1].Hashes) != 0 || len(tr.Rows[2].Hashes) != 2 || tr.Rows[0].Hashes[1] != tr.Rows[2].Hashes[1] {
		t.Errorf("cached prefixes: %v %v %v", tr.Rows[0].Hashes, tr.Rows[1].Hashes, tr.Rows[2].Hashes)
	}
	for _, c := range []struct{ line, want string }{
		{`{"class":"ok","send":1,"prompt_tokens":10`, ":1: malformed JSON"},
		{`{"class":"ok","send":-1,"prompt_tokens":10}`, ":1: send is not a time"},
		{`{"class":"ok","prompt_tokens":10}`, ":1: send is not a time"},
		{`{"class":"ok","send":1,"prompt_tokens":10,"cached_tokens":11}`, ":1: token counts out of range"},
		{`{"class":"ok","send":1,"prompt_tokens":10,"warmup":true}`, ":1: no request to replay"},
	} {
		os.WriteFile(filepath.Join(dir, RunFile), []byte(c.line+"\n"), 0o644)
		if _, err := ReadTrace(dir, 1, 512, 1); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, RunFile)+c.want) {
			t.Errorf("%s: %v", c.line, err)
		}
	}
	if _, err := ReadTrace(t.TempDir(), 1, 512, 1); err == nil || !strings.Contains(err.Error(), "not a run directory (no requests.jsonl)") {
		t.Errorf("a directory with no run: %v", err)
	}
}
