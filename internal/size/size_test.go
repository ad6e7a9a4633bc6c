package size

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// steady writes a usage CSV of n requests evenly over span.
func steady(t *testing.T, n int, span time.Duration, prompt, output, cached int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,prompt_tokens,completion_tokens,cached_tokens\n")
	for i := range n {
		fmt.Fprintf(&b, "%.6f,%d,%d,%d\n", (time.Duration(i) * span / time.Duration(n)).Seconds(), prompt, output, cached)
	}
	path := filepath.Join(t.TempDir(), "steady.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWorkedExample is the source's worked example, from a usage CSV:
// gpt-5.2, 1,000 RPM, 200 prompt and 20 output tokens -> 105.88 -> 110
// (Data Zone) or 150 (Regional); with a 50% cache rate 76.47 -> 80 or
// 100. A warm replay of that steady minute, repeated, agrees.
func TestWorkedExample(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cached  int
		tpm     float64
		exact   float64
		dz, reg int
	}{
		{0, 360_000, 105.88, 110, 150},
		{100, 260_000, 76.47, 80, 100},
	} {
		path := steady(t, 1000, time.Minute, 200, 20, c.cached)
		for typ, want := range map[ptu.Type]int{ptu.DataZone: c.dz, ptu.Regional: c.reg} {
			res, err := Size(Options{Inputs: []string{path}, Model: "gpt-5.2", Type: typ, Warm: true})
			if err != nil {
				t.Fatal(err)
			}
			f := res.Formula
			if f.PeakRPM != 1000 || f.AvgPromptTokens != 200 || f.AvgOutputTokens != 20 || f.CacheRate != float64(c.cached)/200 ||
				f.NormalizedTPM != c.tpm || math.Round(f.PTUExact*100)/100 != c.exact || f.PTU != want {
				t.Errorf("cached %d, %s: formula %+v; want %g TPM, %.2f, %d PTUs", c.cached, typ, f, c.tpm, c.exact, want)
			}
			if res.Replay.PTU != want {
				t.Errorf("cached %d, %s: the warm replay of steady traffic says %d PTUs, the formula %d", c.cached, typ, res.Replay.PTU, want)
			}
		}
	}
}

func testModel(t *testing.T, name string) ptu.Model {
	t.Helper()
	m, ok := ptu.Default().Lookup(name)
	if !ok {
		t.Fatal(name)
	}
	return m
}

// TestReplayBucket: the replay admits and refuses as the bucket does, by
// hand: gpt-4o's 15 PTUs hold 37,500 units a minute (625 a second).
func TestReplayBucket(t *testing.T) {
	t.Parallel()
	m := testModel(t, "gpt-4o")
	s := newSearch(nil, m, ptu.Global, 0, 0)
	sec := int64(time.Second)
	reqs := []Request{
		{At: 0, Prompt: 30_000, MaxTokens: -1},                            // 30,000: in
		{At: 0, Prompt: 2_000, Output: 2_000, MaxTokens: -1},              // 2,000 + 4 x 2,000: in, at 40,000
		{At: 0, Prompt: 1, MaxTokens: -1},                                 // refused at 40,000
		{At: 4 * sec, Prompt: 1, MaxTokens: -1},                           // 37,500: refused, at 100%
		{At: 5 * sec, Prompt: 1, MaxTokens: -1},                           // 36,875: in
		{At: 5 * sec, Prompt: 100, Cached: 100, Output: 1, MaxTokens: -1}, // cached counts nothing: 4, in
	}
	st := replay(reqs, m, 15, s.units, 0)
	if st.Throttled != 2 || *st.FirstRefusal != 0 || *st.LastRefusal != 4 || st.Refused.Prompt != 2 {
		t.Errorf("%+v", st)
	}
}

// TestReplayCorrection: an admitted request's max_tokens estimate is
// corrected to its output when it completes, its output at the model's
// latency target later (25 tokens/s for gpt-4o): a request refused
// before then is admitted after.
func TestReplayCorrection(t *testing.T) {
	t.Parallel()
	m := testModel(t, "gpt-4o")
	s := newSearch(nil, m, ptu.Global, 0, 0)
	ms := int64(time.Millisecond)
	a := Request{At: 0, Prompt: 100, Output: 25, MaxTokens: 5000} // 20,100 estimated, 200 real, done at 1 s
	reqs := []Request{a, {At: 500 * ms, Prompt: 100, Output: 25, MaxTokens: 5000}, {At: 900 * ms, Prompt: 1, MaxTokens: -1}, {At: 1100 * ms, Prompt: 1, MaxTokens: -1}}
	st := replay(reqs, m, 15, s.units, 0)
	if st.Throttled != 1 || *st.FirstRefusal != 0.9 {
		t.Errorf("refused %d, first at %v; want the one at 0.9 s alone", st.Throttled, *st.FirstRefusal)
	}
	// Had the estimate stood, the last would be refused too.
	reqs[0].MaxTokens, reqs[0].Output = -1, 5000
	if st := replay(reqs, m, 15, s.units, 0); st.Throttled != 2 {
		t.Errorf("without the correction %d refused", st.Throttled)
	}
}

// bursty writes a usage CSV of a quiet baseline with bursts.
func bursty(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,prompt_tokens,completion_tokens,max_tokens\n")
	for i := range 600 { // 5 minutes at 2 a second
		fmt.Fprintf(&b, "%.3f,%d,%d,%d\n", float64(i)/2, 500+i%7*100, 100+i%5*40, 400)
	}
	for _, at := range []float64{60, 200} { // bursts of 200 in 5 s
		for i := range 200 {
			fmt.Fprintf(&b, "%.3f,%d,%d,%d\n", at+float64(i)/40, 1500, 300, 400)
		}
	}
	path := filepath.Join(t.TempDir(), "bursty.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	return path
}

// TestSearch: the answer meets --max-throttled, one increment under it
// does not, and both were replayed; steps are in count order, each once.
func TestSearch(t *testing.T) {
	t.Parallel()
	path := bursty(t)
	for _, c := range []struct {
		typ ptu.Type
		max float64
	}{{ptu.Global, 0}, {ptu.Global, 0.02}, {ptu.Regional, 0}, {ptu.Global, 1}} {
		res, err := Size(Options{Inputs: []string{path}, Model: "gpt-4o", Type: c.typ, MaxThrottled: c.max})
		if err != nil {
			t.Fatal(err)
		}
		steps := map[int]Step{}
		prev := 0
		for _, s := range res.Replay.Steps {
			if s.PTU <= prev || m0(t).Deployable(c.typ, s.PTU) != nil {
				t.Fatalf("steps out of order or not deployable: %d after %d", s.PTU, prev)
			}
			prev = s.PTU
			steps[s.PTU] = s
			if s.Meets != (float64(s.Throttled) <= c.max*float64(res.Requests)) {
				t.Errorf("step %d: meets %v with %d refused", s.PTU, s.Meets, s.Throttled)
			}
		}
		ans, ok := steps[res.Replay.PTU]
		if !ok || !ans.Meets {
			t.Errorf("%s %g: answer %d not replayed or not meeting: %+v", c.typ, c.max, res.Replay.PTU, ans)
		}
		least, inc := m0(t).Counts(c.typ)
		if res.Replay.PTU > least {
			under, ok := steps[res.Replay.PTU-inc]
			if !ok || under.Meets {
				t.Errorf("%s %g: one under the answer (%d) not replayed or meeting: %+v", c.typ, c.max, res.Replay.PTU-inc, under)
			}
		}
		if c.max == 1 && res.Replay.PTU != least {
			t.Errorf("everything may be refused: answer %d", res.Replay.PTU)
		}
		if _, ok := steps[res.Formula.PTU]; !ok {
			t.Errorf("the formula's count %d was not replayed", res.Formula.PTU)
		}
	}
	// The bursts need more than their peak minute's average.
	res, _ := Size(Options{Inputs: []string{path}, Model: "gpt-4o", Type: ptu.Global})
	if res.Replay.PTU <= res.Formula.PTU/2 || res.Bound.Kind == "" || !strings.Contains(res.Bound.Sentence, "refused") {
		t.Errorf("replay %d, formula %d, bound %+v", res.Replay.PTU, res.Formula.PTU, res.Bound)
	}
}

func m0(t *testing.T) ptu.Model { return testModel(t, "gpt-4o") }

func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noCols := filepath.Join(dir, "nocols.csv")
	os.WriteFile(noCols, []byte("time,prompt,completion\n1,2,3\n"), 0o644)
	good := steady(t, 10, time.Minute, 100, 10, 0)
	neg := -1.0
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Inputs: []string{noCols}, Model: "gpt-4o"}, noCols + ":1: a usage CSV needs the columns timestamp"},
		{Options{Inputs: []string{good}, Model: "gpt-9"}, `--model: no provisioned figures for "gpt-9" in azure-ptu-models.tsv (it has gpt-5.5,`},
		{Options{Inputs: []string{good}, Model: "gpt-4o", Prices: Prices{Input: &neg, Output: &neg}}, "--price-input must be a price from 0 to 1000000, got -1"},
		{Options{Inputs: []string{good}, Model: "gpt-4o", Prices: Prices{Input: new(float64)}}, "--price-input and --price-output go together"},
		{Options{Inputs: []string{good}, Model: "gpt-4o", MaxThrottled: 2}, "--max-throttled must be a share from 0 to 1, got 2"},
		{Options{Inputs: []string{good}, Model: "gpt-4o", MaxThrottled: math.NaN()}, "--max-throttled must be a share"},
		{Options{Inputs: []string{filepath.Join(dir, "none.csv")}, Model: "gpt-4o"}, filepath.Join(dir, "none.csv") + ": no such file or directory"},
		{Options{Inputs: []string{dir}, Model: "gpt-4o"}, dir + ": not a run directory (no requests.jsonl)"},
		{Options{Model: "gpt-4o"}, "give at least one INPUT"},
	} {
		if c.opts.Type == "" {
			c.opts.Type = ptu.Global
		}
		_, err := Size(c.opts)
		var bi *BadInput
		if err == nil || !errors.As(err, &bi) || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want %s...", c.opts, err, c.want)
		}
	}
}

// TestRunDir reads an aoaibench run's requests.jsonl: requests at their
// send times, a throttled one at its max_tokens, the warmup and requests
// with no prompt count left out.
func TestRunDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines := []string{
		`{"id":0,"class":"ok","send":1.5,"sched":1.5,"prompt_tokens":1000,"output_tokens":100,"cached_tokens":512,"max_tokens":200}`,
		`{"id":1,"class":"throttled","send":2.5,"prompt_tokens":1000,"output_tokens":0,"cached_tokens":null,"max_tokens":200}`,
		`{"id":2,"class":"ok","send":0.5,"prompt_tokens":300,"output_tokens":50,"max_tokens":0,"warmup":true}`,
		`{"id":3,"class":"connection","send":3,"prompt_tokens":0,"output_tokens":0,"max_tokens":200}`,
		`{"id":4,"class":"ok","send":null,"sched":4.5,"prompt_tokens":10,"output_tokens":5,"max_tokens":0}`,
	}
	os.WriteFile(filepath.Join(dir, "requests.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	var notes []string
	reqs, in, err := read(dir, nil, &notes)
	if err != nil {
		t.Fatal(err)
	}
	want := []Request{
		{At: 0, Prompt: 1000, Cached: 512, Output: 100, MaxTokens: 200},
		{At: int64(time.Second), Prompt: 1000, Output: 200, MaxTokens: 200},
		{At: 3 * int64(time.Second), Prompt: 10, Output: 5, MaxTokens: -1},
	}
	if in.Kind != "run" || in.Requests != 3 || in.Skipped != 2 || len(reqs) != 3 || len(notes) != 3 {
		t.Fatalf("%+v %v %v", in, reqs, notes)
	}
	for i := range want {
		if reqs[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, reqs[i], want[i])
		}
	}
	os.WriteFile(filepath.Join(dir, "requests.jsonl"), []byte(lines[0]+"\n{bad\n"), 0o644)
	if _, _, err := read(dir, nil, &notes); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "requests.jsonl")+":2: malformed JSON") {
		t.Errorf("bad line: %v", err)
	}
}

// TestTraceInput reads a Mooncake trace: output_length is asked and
// generated.
func TestTraceInput(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(path, []byte(`{"timestamp": 1000, "input_length": 500, "output_length": 20, "hash_ids": [1]}`+"\n"+`{"timestamp": 0, "input_length": 700, "output_length": 30}`+"\n"), 0o644)
	var notes []string
	reqs, in, err := read(path, nil, &notes)
	if err != nil || in.Kind != "trace" || len(reqs) != 2 {
		t.Fatalf("%v %+v", err, in)
	}
	sortByTime(reqs)
	if reqs[0] != (Request{At: 0, Prompt: 700, Output: 30, MaxTokens: -1}) || reqs[1] != (Request{At: int64(time.Second), Prompt: 500, Output: 20, MaxTokens: -1}) {
		t.Errorf("%+v", reqs)
	}
}

// TestCost: PTUs at their hourly price for 730 hours; pay-as-you-go of
// the same tokens repeated for the month; the cheapest mix with
// spillover no dearer than either end.
func TestCost(t *testing.T) {
	t.Parallel()
	// 600 requests of 1,000 prompt (400 cached) and 100 output over 10
	// minutes: a month is 4,380 of those spans.
	path := filepath.Join(t.TempDir(), "c.csv")
	var b strings.Builder
	b.WriteString("timestamp,prompt_tokens,completion_tokens,cached_tokens\n")
	for i := range 600 {
		fmt.Fprintf(&b, "%d,1000,100,400\n", i)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	f := func(v float64) *float64 { return &v }
	res, err := Size(Options{Inputs: []string{path}, Model: "gpt-4o", Type: ptu.Global, Spillover: true,
		Prices: Prices{PTUHourly: f(2), Input: f(3), Cached: f(1), Output: f(10)}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cost
	if c == nil || c.PTU == nil || c.PayGo == nil || c.Spillover == nil {
		t.Fatalf("%+v", c)
	}
	if c.Scale != 4380 || c.PTU.Monthly != float64(res.Replay.PTU)*2*730 {
		t.Errorf("scale %v, PTU monthly %v for %d PTUs", c.Scale, c.PTU.Monthly, res.Replay.PTU)
	}
	// 600 x 4,380 requests: 600 uncached at 3, 400 cached at 1, 100
	// output at 10, per million.
	n := 600.0 * 4380
	if want := round(n*(600*3+400*1+100*10)/1e6, 2); c.PayGo.Monthly != want || c.PayGo.Cached != n*400 {
		t.Errorf("pay-as-you-go %+v, want %v", c.PayGo, want)
	}
	if c.Spillover.Monthly > c.PTU.Monthly+0.01 || len(c.Spillover.Tried) == 0 || c.Cheapest == "" {
		t.Errorf("mix %+v, cheapest %q", c.Spillover, c.Cheapest)
	}
	for _, s := range res.Replay.Steps {
		if s.Spillover == nil || *s.Spillover != s.Refused {
			t.Fatalf("step %d: spillover %v, refused %v", s.PTU, s.Spillover, s.Refused)
		}
	}
	// No prices, no cost.
	if res, _ := Size(Options{Inputs: []string{path}, Model: "gpt-4o", Type: ptu.Global}); res.Cost != nil {
		t.Error("a cost without prices")
	}
}

func TestGoldenMin(t *testing.T) {
	t.Parallel()
	for _, best := range []int{0, 1, 7, 50, 99, 100} {
		calls := 0
		f := func(k int) float64 { calls++; return math.Abs(float64(k-best)) + 0.001*float64(k) }
		if k := goldenMin(0, 100, f); k != best {
			t.Errorf("argmin %d, want %d", k, best)
		}
		if calls > 40 {
			t.Errorf("%d calls", calls)
		}
	}
}

// TestText: the terminal's table fits 80 columns and names the answer.
func TestText(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	res, err := Size(Options{Inputs: []string{bursty(t)}, Model: "gpt-4o-2024-08-06", Type: ptu.DataZone, MaxThrottled: 0.01, Spillover: true,
		Prices: Prices{PTUHourly: f(1), Input: f(2.5), Output: f(10)}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res.Text(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if len(l) > 80 {
			t.Errorf("%d columns: %q", len(l), l)
		}
	}
	if want := fmt.Sprintf("ANSWER    %d PTUs, Data Zone provisioned", res.Replay.PTU); !strings.Contains(b.String(), want) {
		t.Errorf("no %q in\n%s", want, b.String())
	}
	dir := t.TempDir()
	path, err := res.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil || back.Replay.PTU != res.Replay.PTU || len(back.Replay.Steps) != len(res.Replay.Steps) || back.Cost.Spillover.PTU != res.Cost.Spillover.PTU {
		t.Errorf("read back: %v", err)
	}
}

// TestTextShortInput: an input shorter than the quota's minute is said
// as it is (sized as a minute), and a burst's pace is against what the
// input has, not a half hour it does not have; latencies in ms.
func TestTextShortInput(t *testing.T) {
	t.Parallel()
	var csv strings.Builder
	csv.WriteString("timestamp,prompt_tokens,completion_tokens\n")
	for i := range 90 { // 90 in the first 2 s, then 20 over 12 s
		fmt.Fprintf(&csv, "%.3f,1000,50\n", float64(i)/45)
	}
	for i := range 20 {
		fmt.Fprintf(&csv, "%.3f,1000,50\n", 2+float64(i)*0.6)
	}
	path := filepath.Join(t.TempDir(), "short.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Size(Options{Inputs: []string{path}, Model: "gpt-4o", Type: ptu.Global})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res.Text(&b)
	text := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{"110 requests over 13.4s (1 input), sized as a minute: the quota's window", "generation p50 2000 ms, p95 2000 ms", "times the pace of the whole input"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	if strings.Contains(text, "half hour") || strings.Contains(text, "over 1m0s") {
		t.Errorf("a time the input does not have:\n%s", b.String())
	}
}
