package report

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/capacity"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/scrape"
)

// copyRun copies a test run's directory to a temporary one.
func copyRun(t testing.TB, from string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(from))
	os.MkdirAll(dir, 0o755)
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	return dir
}

// TestHostileFilesRefused: a number no run has (a time past two years, a
// token count past 1e9, a negative latency, a non-finite rate) is refused
// where it is read, as bad input naming the file, its line and the field.
func TestHostileFilesRefused(t *testing.T) {
	t.Parallel()
	rec := func(s string) string {
		return `{"id":0,"class":"ok","status":200,"send":0.5,"end":6.2,"ttft":0.3,"tpot":0.01,"e2e":5.7,"prompt_tokens":4500,"output_tokens":500}` + "\n" + s + "\n"
	}
	line := func(s string) string {
		return `{"run_seconds": 1, "rpm": 0, "requests": 1}` + "\ntext between\n" + s + "\n"
	}
	sum, err := os.ReadFile("testdata/lowrate/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, file, body, want string
	}{
		{"end past any run", "requests.jsonl", rec(`{"id":1,"class":"ok","send":15,"end":1e308,"prompt_tokens":1,"output_tokens":1}`), "requests.jsonl:2: end is 1e+308"},
		{"output tokens", "requests.jsonl", rec(`{"id":1,"class":"ok","send":15,"end":16,"prompt_tokens":1,"output_tokens":10000000000000000}`), "requests.jsonl:2: output_tokens is 1e+16"},
		{"negative ttft", "requests.jsonl", rec(`{"id":1,"class":"ok","send":15,"end":16,"ttft":-2,"prompt_tokens":1,"output_tokens":1}`), "requests.jsonl:2: ttft is -2"},
		{"infinite util", "requests.jsonl", rec(`{"id":1,"class":"ok","send":15,"end":16,"util":"Inf","prompt_tokens":1,"output_tokens":1}`), "requests.jsonl:2: util is +Inf"},
		{"a broken line before others", "requests.jsonl", `{"id":0,"class":"ok",` + "\n" + rec(`{}`), "requests.jsonl:1: not a record"},
		{"original log", "run.log", line(`INFO {"run_seconds": 1e308, "rpm": 45.0}`), "run.log:3: run_seconds is 1e+308"},
		{"log rate", "run.log", line(`{"run_seconds": 2, "tpm": {"total": 1e300}}`), "run.log:3: tpm.total is 1e+300"},
		{"log latency", "run.log", line(`{"run_seconds": 2, "ttft": {"avg": "-1", "95th": 2}}`), "run.log:3: ttft.avg is -1"},
		{"summary latency", "summary.json", strings.Replace(string(sum), `"p95": 0.349183`, `"p95": 1e308`, 1), "summary.json:1773: latency.ttft.p95 is 1e+308"},
		{"summary rate", "summary.json", strings.Replace(string(sum), `"achieved": 4`, `"achieved": "NaN"`, 1), ""},
		{"summary window", "summary.json", strings.Replace(string(sum), `"window_s": 60`, `"window_s": 1e12`, 1), "summary.json:5: window_s is 1e+12"},
		{"answers count", "summary.json", strings.Replace(string(sum), `"schema": 1,`, `"schema": 1, "answers": {"tool_call": -2},`, 1), "answers.tool_call is -2"},
		{"answers latency", "summary.json", strings.Replace(string(sum), `"schema": 1,`, `"schema": 1, "answers": {"kinds": {"tool_call": {"requests": 1, "ttft": {"count": 1, "p50": -0.25}}}},`, 1),
			"answers.kinds.tool_call.ttft.p50 is -0.25"},
		{"server time", "server-metrics.jsonl", `{"t":0.5,"target":0,"series":{"vllm:num_requests_running":1}}` + "\n" + `{"t":1e300,"target":0,"series":{}}`, "server-metrics.jsonl:2: t is 1e+300"},
		{"server figure", "server-metrics.jsonl", `{"t":0.5,"target":0,"series":{"vllm:num_requests_running":1e300}}`, "server-metrics.jsonl:1: series.vllm:num_requests_running is 1e+300"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, "testdata/lowrate")
			path := filepath.Join(dir, c.file)
			os.WriteFile(path, []byte(c.body), 0o644)
			if strings.HasSuffix(c.file, ".log") {
				_, err = Read(path)
			} else {
				_, err = Read(dir)
			}
			if c.want == "" {
				// NaN is "no value": read as absent, not refused.
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *plan.Error
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want a one-line *plan.Error with %q", err, c.want)
			}
			if !strings.Contains(err.Error(), dir) && !strings.HasSuffix(c.file, ".log") {
				t.Errorf("%v does not name the file's path", err)
			}
		})
	}
	// A half-written last line, as a crash leaves, is skipped.
	dir := copyRun(t, "testdata/lowrate")
	os.WriteFile(filepath.Join(dir, "requests.jsonl"), []byte(rec(`{"id":1,"class":"ok","se`)), 0o644)
	if r, err := Read(dir); err != nil || len(r.Records) != 1 {
		t.Errorf("half-written last line: %v", err)
	}
}

// TestHostileCapacityRefused: a sweep's or a search's step past any rate
// is refused with its line.
func TestHostileCapacityRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(`{"schema":1,"kind":"sweep","probes":[
{"rate":60,"passed":true,"results":{"rpm":{"achieved":60}}},
{"rate":1e300,"passed":true,"results":{"rpm":{"achieved":60}}}]}`), 0o644)
	_, err := ReadCapacity(dir)
	var pe *plan.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "sweep.json:3: probes[1].rate is 1e+300") {
		t.Fatalf("got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(`{"schema":1,"kind":"sweep","probes":[
{"rate":60,"passed":true,"results":{"rpm":{"achieved":60},
  "latency":{"e2e":{"p95":-3}}}}]}`), 0o644)
	if _, err := ReadCapacity(dir); err == nil || !strings.Contains(err.Error(), "sweep.json:3: probes[0].results.latency.e2e.p95 is -3") {
		t.Fatalf("got %v", err)
	}
}

// TestLineOf: the line of a field found by its path, in arrays and
// nested objects, and 0 when it is not there.
func TestLineOf(t *testing.T) {
	t.Parallel()
	b := []byte("{\"a\": 1,\n \"b\": {\"c\": [1,\n 2, {\"d\":\n 3}]},\n \"e\": [[0], {\"f\": 5}]}")
	for path, want := range map[string]int{"a": 1, "b.c[1]": 3, "b.c[2].d": 4, "e[1].f": 5, "e[0][0]": 5, "b.x": 0, "b": 2} {
		if got := lineOf(b, path); got != want {
			t.Errorf("lineOf(%q) = %d, want %d", path, got, want)
		}
	}
}

// TestTicksBounded: an axis has a bounded number of ticks, none twice,
// whatever its span: one point at 1e308 made the old loop add 1 to 1e308
// for ever.
func TestTicksBounded(t *testing.T) {
	t.Parallel()
	for _, c := range [][3]float64{{1e308, 1e308, 1}, {0, math.Inf(1), 1}, {0, 1e300, 1e-300}, {-1e16, 1e16, 1}, {0, 100, 20}, {1e16, 1e16 + 1, 1}} {
		ts := ticks(c[0], c[1], c[2])
		if len(ts) > maxTicks {
			t.Errorf("ticks%v: %d", c, len(ts))
		}
		for i := 1; i < len(ts); i++ {
			if ts[i] <= ts[i-1] {
				t.Errorf("ticks%v repeat: %v", c, ts[:i+1])
				break
			}
		}
	}
	if got := ticks(0, 100, 20); len(got) != 6 {
		t.Errorf("ticks(0, 100, 20) = %v", got)
	}
}

// hostileRuns are runs whose numbers no reader lets through, built by
// hand: the drawing must stay bounded without the readers' checks.
func hostileRuns() []*Run {
	nan := Num(math.NaN())
	rec := func(send, end float64, out int) Record {
		return Record{Class: "ok", Send: Num(send), End: Num(end), Lag: nan, TTFT: Num(0.3), TPOT: Num(0.01), E2E: Num(end - send),
			PromptTokens: 10, OutputTokens: out, Util: nan, QuotaTokens: nan, RemainingTokens: nan, LimitTokens: nan,
			MaxTokens: nan, ClientPrompt: nan, ServerPrompt: nan, Cached: nan, Turn: nan}
	}
	var line Line
	line.RunSeconds, line.RPM, line.Requests = Num(1e308), Num(1e308), Num(3)
	line.TTFT.Avg, line.TTFT.P95 = Num(1e16), Num(-1e308)
	var runs []*Run
	runs = append(runs,
		&Run{Name: "end", Records: []Record{rec(0, 1e308, 5), rec(1e308, 1e308, 5), rec(2, 3, 5)}},
		&Run{Name: "end only", Records: []Record{rec(1e308, 1e308, 5)}},
		&Run{Name: "tokens", Records: []Record{rec(1, 2, 1e16), rec(1, 2, 1e16), rec(1, 2, 1e16)}},
		&Run{Name: "tokens spread", Records: []Record{rec(1, 2, 0), rec(1, 2, 1e16), rec(-1e300, 2, math.MaxInt64)}},
		&Run{Name: "negative", Records: []Record{rec(-1e308, -1e308, 5), rec(-5, -1, -5)}},
		&Run{Name: "no end", Records: []Record{rec(0, math.NaN(), 5), rec(1, math.Inf(1), 5)}},
		&Run{Name: "line", Lines: []Line{line, line, line}},
		&Run{Name: "ramp", Settings: Settings{Rate: Num(1e308), StageEnds: []float64{1e308, -1e308, math.NaN()}, Ramp: []pt{{0, 1e308}, {1e308, 1}}},
			Records: []Record{rec(0, 1, 5), rec(1, 2, 5)}},
		&Run{Name: "server", Records: []Record{rec(0, 1, 5)}, Server: []scrape.Sample{{T: 1e308, Series: map[string]float64{"vllm:num_requests_running": 1e308}}, {T: 1e308}}},
	)
	// Summaries whose figures overflow an axis.
	for _, r := range runs {
		r.Summary = &metrics.Results{Window: Num(1e308), RPM: metrics.Rates{Offered: Num(1e308), Achieved: Num(1e308), Sent: nan, Goodput: nan},
			TPM:     metrics.TPM{Context: nan, Gen: nan, Total: Num(1e308), Quota: Num(-1e308)},
			Latency: map[string]metrics.Dist{"ttft": {CDF: []metrics.Point{{V: 1e308, P: 1}}}, "e2e": {CDF: []metrics.Point{{V: -1e308, P: 0}, {V: 1e308, P: 1}}}},
			Turns:   []metrics.TurnResults{{Turn: math.MaxInt, Results: &metrics.Results{Latency: map[string]metrics.Dist{"ttft": {P50: 1e308}}}}}}
	}
	return runs
}

// countingWriter counts what is written.
type countingWriter struct{ n int }

func (w *countingWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// TestHostileRenderBounded: values no run has, past the readers, still
// draw in bounded time and size: every loop a file's value drives (axis
// ticks, buckets, histogram bins, markers) has a bound of its own.
func TestHostileRenderBounded(t *testing.T) {
	t.Parallel()
	done := make(chan int, 1)
	go func() {
		var w countingWriter
		for _, r := range hostileRuns() {
			HTML(&w, []*Run{r}, "test", time.Unix(0, 0))
		}
		HTML(&w, hostileRuns(), "test", time.Unix(0, 0))
		caps := []*Capacity{{Name: "c", Kind: "search", MaxRate: 1e308, Probes: []capacity.Probe{
			{Rate: 1e308, Results: hostileRuns()[0].Summary}, {Rate: 1e308, Results: hostileRuns()[0].Summary}}}}
		CapacityHTML(&w, caps, "test", time.Unix(0, 0))
		done <- w.n
	}()
	select {
	case n := <-done:
		// Eleven pages of some twenty charts each: a few MB at most.
		if n > 8<<20 {
			t.Errorf("%d bytes of pages", n)
		}
	case <-time.After(2 * time.Minute):
		// A busy machine renders these in well under a second.
		t.Fatal("rendering hostile values did not end")
	}
}

// FuzzReaders writes the fuzzer's bytes as one of a run's files and
// reads the run: the reader refuses or accepts, never panics, and what
// it accepts renders to a page of bounded size.
func FuzzReaders(f *testing.F) {
	files := []string{"requests.jsonl", "summary.json", "run.json", "server-metrics.jsonl", "run.log", "sweep.json"}
	for i, name := range files {
		path := filepath.Join("testdata/lowrate", name)
		switch name {
		case "run.log":
			path = "testdata/original.log"
		case "sweep.json":
			f.Add(uint8(i), []byte(`{"kind":"sweep","probes":[{"rate":60,"passed":true,"results":{"rpm":{"achieved":59.5}}},{"rate":120,"results":{"rpm":{"achieved":1e9}}}]}`))
			continue
		case "server-metrics.jsonl":
			f.Add(uint8(i), []byte(`{"t":0.5,"target":0,"series":{"vllm:num_requests_running":3,"vllm:kv_cache_usage_perc":0.5}}`+"\n"+`{"t":1.5,"target":0,"series":{"vllm:num_requests_running":1e18}}`))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte(`{"class":"ok","send":1,"end":63072000,"prompt_tokens":1000000000,"output_tokens":1000000000}`))
	f.Add(uint8(4), []byte(`{"run_seconds": 63072000, "rpm": 1e9}`+"\n"+`{"run_seconds": 0}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := files[int(which)%len(files)]
		dir := copyRun(t, "testdata/lowrate")
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var w countingWriter
		switch name {
		case "run.log":
			r, err := Read(path)
			if err != nil {
				return
			}
			HTML(&w, []*Run{r}, "fuzz", time.Unix(0, 0))
		case "sweep.json":
			c, err := ReadCapacity(dir)
			if err != nil {
				return
			}
			CapacityHTML(&w, []*Capacity{c}, "fuzz", time.Unix(0, 0))
		default:
			r, err := Read(dir)
			if err != nil {
				return
			}
			HTML(&w, []*Run{r}, "fuzz", time.Unix(0, 0))
			Markdown(io.Discard, []Row{r.Row()})
		}
		// The page grows with the file, never with its values.
		if limit := 4<<20 + 200*len(data); w.n > limit {
			t.Fatalf("%d bytes of page from %d bytes of %s", w.n, len(data), name)
		}
	})
}

// TestReadAcceptsItsOwnFiles: every test run still reads (the bounds
// refuse no real file).
func TestReadAcceptsItsOwnFiles(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"testdata/paygo", "testdata/ptu", "testdata/lowrate", "testdata/throttled", "testdata/original.log", "testdata/paygo.log"} {
		if _, err := Read(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
