package plan

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// barePlan is the smallest plan a run takes: the simulator, nothing else
// said.
func barePlan() *Plan {
	return &Plan{Target: Target{Sim: []simconfig.Deployment{{}}}}
}

func rate(r float64) *float64 { return &r }

func TestNormalizeFillsDefaults(t *testing.T) {
	t.Parallel()
	p := barePlan()
	p.Normalize()
	w, l, o := p.Workload, p.Load, p.Output
	checks := []struct {
		name      string
		got, want any
	}{
		{"schema", p.Schema, Version},
		{"api version", p.Target.APIVersion, DefaultAPIVersion},
		{"key env (no URL: none)", p.Target.KeyEnv, ""},
		{"shape", w.Shape, DefaultShape},
		{"context", w.ContextTokens, 500},
		{"max tokens", w.MaxTokens, 500},
		{"completions", w.Completions, 1},
		{"endpoint", w.Endpoint, Chat},
		{"clients (closed loop)", l.Clients, DefaultClients},
		{"auto clients", l.AutoClients, false},
		{"arrival (closed loop: none)", l.Arrival, Arrival("")},
		{"retry", l.Retry, RetryNone},
		{"request timeout", l.RequestTimeout, DefaultRequestTimeout},
		{"format", o.Format, Human},
		{"window", o.Window, DefaultWindow},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := p.Validate(0); err != nil {
		t.Fatalf("a normalized default plan is refused: %v", err)
	}
}

func TestNormalizeOpenLoopAndSources(t *testing.T) {
	t.Parallel()
	p := barePlan()
	p.Target.URL = "https://x.openai.azure.com"
	p.Load.Rate = rate(600)
	p.Workload.Endpoint = Embeddings
	p.Normalize()
	if p.Load.Clients != AutoClients || !p.Load.AutoClients {
		t.Errorf("open loop clients: got %d auto %v, want %d auto", p.Load.Clients, p.Load.AutoClients, AutoClients)
	}
	if p.Load.Arrival != Constant {
		t.Errorf("open loop arrival: got %q", p.Load.Arrival)
	}
	if p.Target.KeyEnv != DefaultKeyEnv {
		t.Errorf("key env with a URL: got %q", p.Target.KeyEnv)
	}
	if p.Workload.EmbeddingBatch != 1 {
		t.Errorf("embedding batch: got %d", p.Workload.EmbeddingBatch)
	}

	tr := barePlan()
	tr.Load.Trace = &Trace{Path: "t.jsonl"}
	tr.Normalize()
	if tr.Workload.Shape != "" || tr.Load.Trace.Speed != DefaultTraceSpeed || tr.Load.Trace.Block != DefaultTraceBlock {
		t.Errorf("trace: shape %q speed %g block %d", tr.Workload.Shape, tr.Load.Trace.Speed, tr.Load.Trace.Block)
	}
	if !tr.Load.Open() || tr.Load.Clients != AutoClients {
		t.Errorf("a trace is an open loop: clients %d", tr.Load.Clients)
	}

	// Given values are kept, and a zero that means something too.
	g := barePlan()
	g.Workload.Shape, g.Workload.ContextTokens, g.Workload.MaxTokens = "context", 900, 0
	g.Load.Clients, g.Load.DrainTimeout = 3, 0
	g.Normalize()
	if g.Workload.ContextTokens != 900 || g.Workload.MaxTokens != 0 || g.Load.Clients != 3 || g.Load.DrainTimeout != 0 {
		t.Errorf("given values changed: %+v %+v", g.Workload, g.Load)
	}
}

// TestNormalizeIdempotent: run.json records a normalized plan, and
// `load --plan` normalizes it again: nothing may move.
func TestNormalizeIdempotent(t *testing.T) {
	t.Parallel()
	for _, p := range []*Plan{barePlan(), func() *Plan { p := barePlan(); p.Load.Rate = rate(60); return p }()} {
		p.Normalize()
		a, _ := json.Marshal(p)
		p.Normalize()
		b, _ := json.Marshal(p)
		if string(a) != string(b) {
			t.Errorf("normalize twice:\n%s\n%s", a, b)
		}
	}
}

func TestVocabularies(t *testing.T) {
	t.Parallel()
	for _, e := range []Endpoint{Chat, Responses, Completions, Embeddings} {
		if !e.Valid() {
			t.Errorf("%q not valid", e)
		}
	}
	for _, bad := range []bool{Endpoint("chat ").Valid(), Retry("").Valid(), Retry("always").Valid(),
		Arrival("burst").Valid(), DatasetFormat("xml").Valid(), Auth("basic").Valid(), LiveFormat("").Valid()} {
		if bad {
			t.Error("a word outside a vocabulary is valid")
		}
	}
	if !RetryExponential.Valid() || !Poisson.Valid() || !AuthEntra.Valid() || !JSON.Valid() {
		t.Error("a vocabulary's word is not valid")
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	good := map[string]time.Duration{"20s": 20 * time.Second, " 3m ": 3 * time.Minute, "1.5": 1500 * time.Millisecond,
		"0": 0, "8760h": MaxDuration}
	for in, want := range good {
		d, err := ParseDuration(in)
		if err != nil || d.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	bad := map[string]string{"": "empty", "-1": "negative", "-2s": "negative", "NaN": "finite", "Inf": "finite",
		"1e308": "more than a year", "9999999999h": "more than a year", "8761h": "more than a year", "3 parsecs": "unknown unit", "soon": "not a duration"}
	for in, want := range bad {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDuration(%q): got %v, want an error saying %q", in, err, want)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"2m"`), &d); err != nil || d.D() != 2*time.Minute {
		t.Errorf("JSON string: %v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`90`), &d); err != nil || d.D() != 90*time.Second {
		t.Errorf("JSON seconds: %v %v", d, err)
	}
	if b, _ := json.Marshal(Duration(90 * time.Second)); string(b) != `"1m30s"` {
		t.Errorf("marshal: %s", b)
	}
}

func TestParseStages(t *testing.T) {
	t.Parallel()
	st, clients, err := ParseStages("--stages", "30s:60, 2m:600,1m:0")
	if err != nil || clients || len(st) != 3 || st[1].Duration.D() != 2*time.Minute || st[1].Target != 600 {
		t.Fatalf("rates: %v %v %v", st, clients, err)
	}
	st, clients, err = ParseStages("--stages", "30s:10c,1m:100c")
	if err != nil || !clients || st[1].Target != 100 {
		t.Fatalf("clients: %v %v %v", st, clients, err)
	}
	for in, want := range map[string]string{
		"":            "no stage",
		"30s":         "not DURATION:TARGET",
		"0s:10":       "positive duration",
		"-1s:10":      "positive duration",
		"1m:-5":       "of 0 or more",
		"1m:NaN":      "of 0 or more",
		"1m:Inf":      "of 0 or more",
		"1m:1.5c":     "whole number",
		"1m:10,1m:5c": "mixes rates and client counts",
	} {
		if _, _, err := ParseStages("--stages", in); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "--stages") {
			t.Errorf("ParseStages(%q): got %v, want an error naming --stages and saying %q", in, err, want)
		}
	}
}

func TestHeadersForFile(t *testing.T) {
	t.Parallel()
	got := HeadersForFile([]string{"X-Key: sk-secret", "X-Env: env:SEC", "X-Bare"})
	want := []string{"X-Key: " + NotWritten, "X-Env: env:SEC", "X-Bare: " + NotWritten}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("header %d: got %q, want %q", i, got[i], want[i])
		}
	}
	p := barePlan()
	p.Normalize()
	p.Target.Headers = got[:1]
	if err := p.Validate(0); err == nil || !strings.Contains(err.Error(), "does not keep header values") {
		t.Errorf("a plan read back with an unwritten header value: %v", err)
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p := barePlan()
	p.Load.Rate = rate(120)
	p.Normalize()
	b, err := json.Marshal(RunFile{Plan: *p, Tool: "aoaibench", Start: "2026-12-03T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(write("run.json", string(b)))
	if err != nil || *got.Load.Rate != 120 || got.Load.Clients != AutoClients {
		t.Fatalf("read back: %+v %v", got, err)
	}
	for name, c := range map[string]struct{ body, want string }{
		"typo.json":   {`{"schema":1,"laod":{}}`, `unknown field "laod"`},
		"future.json": {`{"schema":9}`, "not an aoaibench plan of version 1"},
		"none.json":   {`{}`, "not an aoaibench plan"},
		"cut.json":    {`{"schema":1,`, "unexpected EOF"},
	} {
		_, err := Read(write(name, c.body))
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "--plan") {
			t.Errorf("%s: got %v, want a plan error saying %q", name, err, c.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing.json")); err == nil || !strings.HasPrefix(err.Error(), "--plan") {
		t.Errorf("a missing file: %v", err)
	}
}
