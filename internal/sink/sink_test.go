package sink

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:  %s\nwant: %s", name, got, want)
	}
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func tick() Tick {
	d := func(avg, p50, p95, p99, mx float64) metrics.Spread {
		return metrics.Spread{Avg: avg, P50: p50, P95: p95, P99: p99, Max: mx}
	}
	return Tick{Offered: 50,
		RunSeconds: 61, Time: t0.Add(61 * time.Second), Processing: 3, Requests: 64, Completed: 55, Failures: 1, Throttled: 5,
		Window: metrics.WindowStats{
			Span: 60, OK: 50, Throttled: 4, Failed: 1, RPM: 50, SendRPM: 52.5,
			TPMContext: 225000, TPMGen: 25000.4, TPMTotal: 250000.4,
			E2E: d(5.1234567, 5.1, 5.9, 6.2, 6.3), TTFT: d(0.2505, 0.25, 0.31, 0.4, 0.41), TBT: d(0.0101, 0.01, 0.0121, 0.013, 0.014),
			Util: d(math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()), Lag: d(0.00001, 0.00001, 0.00005, 0.0001, 0.0002),
		},
	}
}

func TestJSONLineGolden(t *testing.T) {
	t.Parallel()
	line := JSONLine(tick())
	golden(t, "line.jsonl", line)
	// The original's keys, in its nesting, with numbers or null.
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"run_seconds", "timestamp", "rpm", "processing", "completed", "failures", "throttled", "requests"} {
		if _, ok := v[k]; !ok {
			t.Errorf("key %s missing", k)
		}
	}
	for _, k := range []string{"tpm", "e2e", "ttft", "tbt", "util"} {
		if _, ok := v[k].(map[string]any); !ok {
			t.Errorf("%s is not an object", k)
		}
	}
	if u := v["util"].(map[string]any); u["avg"] != nil || u["95th"] != nil {
		t.Errorf("util without data must be null: %v", u)
	}
	// Empty window: nulls, not zeros or "n/a".
	empty := Tick{Time: t0, Offered: math.NaN(), Window: metrics.WindowStats{E2E: nanDist(), TTFT: nanDist(), TBT: nanDist(), Util: nanDist(), Lag: nanDist(), SendRPM: math.NaN()}}
	golden(t, "empty.jsonl", JSONLine(empty))
}

func nanDist() metrics.Spread {
	n := math.NaN()
	return metrics.Spread{Avg: n, P50: n, P95: n, P99: n, Max: n}
}

func TestUtilIsANumber(t *testing.T) {
	t.Parallel()
	tk := tick()
	tk.Window.Util = metrics.Spread{Avg: 89.34, P95: 97.06}
	line := string(JSONLine(tk))
	if !strings.Contains(line, `"util":{"avg":89.3,"95th":97.1}`) {
		t.Errorf("util: %s", line)
	}
}

func TestHumanLine(t *testing.T) {
	t.Parallel()
	golden(t, "line.human", []byte(HumanLine(tick())+"\n"))
}

func TestRecordLine(t *testing.T) {
	t.Parallel()
	r := metrics.NewRecord(7, t0)
	r.Send = t0.Add(100 * time.Microsecond)
	r.Hdr = r.Send.Add(50 * time.Millisecond)
	r.First = r.Send.Add(200 * time.Millisecond)
	r.Last = r.First.Add(49 * 20 * time.Millisecond)
	r.End = r.Last.Add(time.Millisecond)
	r.Status, r.Attempts, r.Class, r.Finish = 200, 1, metrics.OK, "length"
	r.ServerPrompt, r.ServerOutput, r.ClientPrompt, r.ClientOutput, r.Events = 100, 50, 100, 50, 50
	r.RequestID, r.Util, r.RemainingTokens = "abc", 45.5, 1000
	r.Err = "quote \" and\nnewline"
	golden(t, "record.jsonl", RecordLine(nil, r, t0))
	var v map[string]any
	if err := json.Unmarshal(RecordLine(nil, r, t0), &v); err != nil {
		t.Fatal(err)
	}
	if v["ttft"] != 0.2 || v["tpot"] != 0.02 || v["remaining_requests"] != nil || v["error"] != "quote \" and\nnewline" {
		t.Errorf("record %v", v)
	}
}

// TestAnswerRecord: a record says what the answer was when it applies:
// a tool call's count, names and argument verdicts (null: not judged),
// a structured answer's verdict, the request's images (tokens null when
// not known); a plain text answer only its kind.
func TestAnswerRecord(t *testing.T) {
	base := func() *metrics.Record {
		r := metrics.NewRecord(3, t0)
		r.Send, r.Class, r.Status, r.Attempts = t0, metrics.OK, 200, 1
		r.First, r.Last, r.End = t0.Add(300*time.Millisecond), t0.Add(time.Second), t0.Add(time.Second)
		return r
	}
	var lines []byte
	r := base()
	r.Answer, r.ToolNames = metrics.ToolCallAnswer, []string{"get_weather", "tool_[REDACTED]"}
	r.ToolArgs = []schema.Verdict{schema.Valid, schema.Unchecked}
	r.Images, r.ImageBytes, r.ImageTokens = 2, 300_000, 1530
	lines = RecordLine(lines, r, t0)
	r = base()
	r.Answer, r.Structured = metrics.StructuredAnswer, schema.NotJSON
	r.Images, r.ImageBytes, r.ImageTokens = 1, 1000, -1
	lines = RecordLine(lines, r, t0)
	r = base()
	r.Answer = metrics.TextAnswer
	lines = RecordLine(lines, r, t0)
	golden(t, "answers.jsonl", lines)
	for _, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("not JSON: %s", line)
		}
	}
}

func TestResultsRoundTrip(t *testing.T) {
	t.Parallel()
	s := metrics.NewSummary(metrics.SLO{TTFT: 300 * time.Millisecond})
	for i := range 10 {
		r := metrics.NewRecord(int64(i), t0.Add(time.Duration(i)*time.Second))
		r.Send = r.Sched
		r.First = r.Send.Add(time.Duration(100+50*i) * time.Millisecond)
		r.Last = r.First.Add(time.Second)
		r.End = r.Last
		r.Class, r.ServerPrompt, r.ServerOutput, r.ClientOutput = metrics.OK, 100, 51, 51
		if i == 9 {
			r.Class, r.Status = metrics.Throttled, 429
		}
		s.Add(r)
	}
	res := s.Results(metrics.Info{Start: t0, Window: 10 * time.Second, Stopped: "requests", Offered: 60, Sent: 10})
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	back, err := metrics.ReadResults(js)
	if err != nil {
		t.Fatal(err)
	}
	if back.Schema != 1 || back.Requests.OK != 9 || back.Requests.Throttled != 1 || back.Latency["ttft"].Count != 9 || len(back.Latency["ttft"].CDF) == 0 {
		t.Errorf("summary %s", js)
	}
	// Goodput: TTFT <= 300 ms holds for requests 0..4 of 9 successful,
	// over the 10 s window.
	if g := back.RPM.Goodput.F(); math.Abs(g-30) > 1e-9 {
		t.Errorf("goodput %v", g)
	}
}

// TestStatusLine: on a terminal, one line that fits 80 columns, whatever
// the counts; a run that falls behind says so.
func TestStatusLine(t *testing.T) {
	t.Parallel()
	tk := tick()
	tk.Elapsed, tk.Planned = 61*time.Second, 180*time.Second
	line := StatusLine(tk)
	// The rate says what it counts (completions) and over how long.
	if !strings.HasPrefix(line, "61s/180s") || !strings.Contains(line, "sent 64") || !strings.Contains(line, "ok/min 50.0 (60s)") || !strings.Contains(line, "TTFT p95 310ms") {
		t.Errorf("status %q", line)
	}
	tk.Requests, tk.Completed, tk.Throttled, tk.Failures = 123456789, 123456789, 1234567, 1234567
	tk.Window.RPM, tk.Window.TTFT.P50, tk.Window.TTFT.P95 = 1234567.8, 123.456, 1234.567
	tk.Elapsed, tk.Planned = 123456*time.Second, 123456*time.Second
	if l := StatusLine(tk); len(l) > 79 {
		t.Errorf("%d columns: %q", len(l), l)
	}
	tk.Behind = "5 of 100 due requests not sent"
	if l := StatusLine(tk); !strings.Contains(l, "BEHIND") {
		t.Errorf("behind: %q", l)
	}
	var v map[string]any
	if err := json.Unmarshal(JSONLine(tk), &v); err != nil || v["valid"] != false || v["behind"] != tk.Behind {
		t.Errorf("JSONL of a run behind: %v %v", v, err)
	}
	if !strings.Contains(HumanLine(tk), "BEHIND: 5 of 100") {
		t.Error("human line of a run behind")
	}
}
