package merge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/memnet"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/run"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// fast is a simulated deployment that answers in 200 ms and streams a
// token every 20 ms.
func fast() simconfig.Deployment {
	return simconfig.Deployment{Name: "d", Model: "gpt-4o-mini", TTFT: simconfig.Duration(200 * time.Millisecond), ITL: simconfig.Duration(20 * time.Millisecond)}
}

// shardPlan is the plan the tests divide: 1200 RPM, 24 requests of 50
// tokens asking for 10, the first 200 ms the warmup. Of 2 shards, each
// sends 12, 2 of them in the warmup.
func shardPlan() plan.Plan {
	rate := 1200.0
	return plan.Plan{
		Schema:   plan.Version,
		Target:   plan.Target{URL: "http://127.0.0.1:1", API: "azure", Deployment: "d", Model: "gpt-4o-mini", APIVersion: "2024-10-21"},
		Workload: plan.Workload{Shape: "custom", ContextTokens: 50, MaxTokens: 10, Completions: 1, Seed: 7},
		Load: plan.Load{Rate: &rate, Requests: 24, Clients: 100, RequestTimeout: plan.Duration(time.Minute),
			DrainTimeout: plan.Duration(time.Minute), Retry: "none", Warmup: plan.Duration(200 * time.Millisecond)},
		Output: plan.Output{Format: "jsonl", Window: plan.Duration(time.Minute)},
	}
}

// runShards runs the n shards of p at once, as n machines do from one
// --start-at, against the simulated deployments over an in-memory
// network, in a synctest bubble (virtual time: a run of seconds takes
// milliseconds). Each writes its output directory dir/shard-i, as `load
// --shard i/n --output-dir` does. It returns the directories and the
// bubble's clock after the runs: the merge's now.
func runShards(t *testing.T, dir string, p plan.Plan, n int, ds ...simconfig.Deployment) ([]string, time.Time) {
	t.Helper()
	dirs := make([]string, n)
	var now time.Time
	synctest.Test(t, func(t *testing.T) {
		s, err := sim.New(sim.Config{Deployments: ds})
		if err != nil {
			t.Fatal(err)
		}
		ln := memnet.Listen()
		hs := &http.Server{Handler: s.Handler()}
		go hs.Serve(ln)
		tr := &http.Transport{DialContext: ln.Dial, DisableCompression: true, MaxIdleConnsPerHost: 1000}
		p.Load.StartAt = time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			dirs[i] = filepath.Join(dir, fmt.Sprintf("shard-%d", i))
			wg.Go(func() {
				q := p
				q.Load.Shard = &plan.Shard{Index: i, Count: n}
				q.Output.Dir = dirs[i]
				out, err := sink.Dir(dirs[i], "test", nil)
				if err != nil {
					errs[i] = err
					return
				}
				r, err := run.New(q, run.Options{Transport: tr, Sleep: run.TimerSleep})
				if err != nil {
					errs[i] = err
					return
				}
				defer r.Close()
				_, errs[i] = r.Execute(context.Background(), out)
			})
		}
		wg.Wait()
		tr.CloseIdleConnections()
		hs.Close()
		s.Close()
		ln.Close()
		time.Sleep(time.Second) // let closing connections finish, in virtual time
		now = time.Now()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	})
	return dirs, now
}

// line is what a test reads of a merged record.
type line struct {
	ID     int64    `json:"id"`
	Class  string   `json:"class"`
	Warmup bool     `json:"warmup"`
	Sched  float64  `json:"sched"`
	TTFT   *float64 `json:"ttft"`
}

// readLines reads a requests.jsonl with encoding/json, apart from the
// merge's own scanner.
func readLines(t *testing.T, path string) []line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

func readResults(t *testing.T, dir string) *metrics.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.ReadResults(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMergeShards: the shards of one plan merge into the whole run: every
// request of the schedule once, 0 to 23, the warmup's 4 left out of the
// figures, each figure the shards' sum, exactly.
func TestMergeShards(t *testing.T) {
	t.Parallel()
	dirs, now := runShards(t, t.TempDir(), shardPlan(), 2, fast())
	out := filepath.Join(t.TempDir(), "merged")
	o, err := mergeAt(dirs, out, now)
	if err != nil {
		t.Fatal(err)
	}
	res := readResults(t, out)
	q := res.Requests
	if o.Shards != 2 || o.Records != 24 || q.Sent != 20 || q.OK != 20 || q.Attempts != 20 || res.Latency["ttft"].Count != 20 ||
		res.Latency["lag"].Count != 20 || res.Tokens.Prompt != 20*50 || res.Tokens.Output != 20*10 || !res.Valid || res.RPM.Offered.F() != 1200 {
		t.Errorf("merged %d shards, %d records: %+v, TTFTs %d, tokens %+v, valid %v %v, offered %v",
			o.Shards, o.Records, q, res.Latency["ttft"].Count, res.Tokens, res.Valid, res.Invalid, res.RPM.Offered)
	}
	ids := map[int64]line{}
	for _, l := range readLines(t, filepath.Join(out, "requests.jsonl")) {
		if _, dup := ids[l.ID]; dup {
			t.Errorf("request %d twice", l.ID)
		}
		ids[l.ID] = l
	}
	for id := range int64(24) {
		l, ok := ids[id]
		// Request k of the whole is due at k·50 ms; the warmup is the
		// first 200 ms of each shard's schedule, its first 2 requests.
		wantWarm := id < 4
		if !ok || l.Warmup != wantWarm || math.Abs(l.Sched-float64(id)*0.05) > 1e-6 {
			t.Errorf("request %d: %+v (found %v), want sched %.2f, warmup %v", id, l, ok, float64(id)*0.05, wantWarm)
		}
	}
	if len(ids) != 24 {
		t.Errorf("%d records", len(ids))
	}
}

// TestMergeLateShard: a shard that started late (its skew says so) is
// merged on the first shard's clock, its moments moved by its lateness,
// and the figures marked not valid; a shard whose file has blank lines
// and CRLFs is merged as records and newlines.
func TestMergeLateShard(t *testing.T) {
	t.Parallel()
	clean, now := runShards(t, t.TempDir(), shardPlan(), 2, fast())
	dirs := copyDirs(t, clean)
	late := `"2000-01-01T00:00:03.5Z"` // 2.5 s after --start-at
	setJSON(t, filepath.Join(dirs[1], "run.json"), "start", late)
	setJSON(t, filepath.Join(dirs[1], "summary.json"), "start", late)
	setJSON(t, filepath.Join(dirs[1], "summary.json"), "shard.skew_s", "2.5")
	editLines(t, dirs[0], func(l []string) []string {
		return []string{"", l[0] + "\r", "  " + l[1], "", strings.Join(l[2:], "\n\n")}
	})
	out := filepath.Join(t.TempDir(), "merged")
	o, err := mergeAt(dirs, out, now.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if o.Records != 24 || o.Results.Valid || len(o.Results.Invalid) != 2 || !strings.Contains(o.Results.Invalid[0], "shard 1 started 2.5 s after --start-at") {
		t.Errorf("%d records, valid %v: %q", o.Records, o.Results.Valid, o.Results.Invalid)
	}
	b, err := os.ReadFile(filepath.Join(out, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n\n") || strings.Contains(string(b), "\r") || strings.Contains(string(b), "\n ") || b[0] != '{' {
		t.Errorf("the merged records are not one a line")
	}
	for _, l := range readLines(t, filepath.Join(out, "requests.jsonl")) {
		want := float64(l.ID) * 0.05
		if l.ID%2 == 1 {
			want += 2.5
		}
		if math.Abs(l.Sched-want) > 1e-6 {
			t.Errorf("request %d scheduled at %.6f s, want %.6f", l.ID, l.Sched, want)
		}
	}
}

// TestMergeRealShards: shards with what real runs hold (failures, 429s
// retried, cut streams, several choices, hidden reasoning, the prompt
// cache, requests cut off at the end, a closed loop) add up and merge;
// the merged figures are the sums of the shards' and agree with the
// merged records read apart.
func TestMergeRealShards(t *testing.T) {
	t.Parallel()
	faulty := fast()
	faulty.Fail5xx, faulty.CutStream, faulty.Storm429 = 0.15, 0.15, 0.1
	reasoning := fast()
	reasoning.Name, reasoning.Model, reasoning.ReasoningTokens = "d", "o3-mini", 16
	for _, c := range []struct {
		name   string
		shards int
		d      simconfig.Deployment
		edit   func(p *plan.Plan)
		check  func(r *metrics.Results) bool // the merged figures hold what the case is about
	}{
		{"faults and retries", 3, faulty, func(p *plan.Plan) {
			p.Load.Requests, p.Load.Retry = 60, "exponential"
		}, func(r *metrics.Results) bool {
			return r.Requests.Stream > 0 && r.Requests.ThrottledAttempts > 0 && r.Requests.Attempts > r.Requests.Sent && r.Latency["failed"].Count > 0
		}},
		{"choices and reasoning", 2, reasoning, func(p *plan.Plan) {
			p.Target.Model, p.Workload.Completions, p.Workload.MaxTokens = "o3-mini", 3, 40
		}, func(r *metrics.Results) bool {
			return r.Tokens.Reasoning == r.Requests.OK*3*16 && r.Latency["tpot"].Count == 3*r.Requests.OK
		}},
		{"prompt cache", 2, fast(), func(p *plan.Plan) {
			p.Workload.ContextTokens, p.Workload.PrefixTokens, p.Load.Warmup = 2300, 2048, 0
		}, func(r *metrics.Results) bool {
			return r.Tokens.CachedRequests > 0 && r.Latency["ttft_cached"].Count > 0 && r.Latency["ttft_uncached"].Count > 0
		}},
		{"cut off at the end", 2, fast(), func(p *plan.Plan) {
			// A second of answers that take 600 ms: the drain cuts off
			// those sent in the last 600 ms.
			p.Workload.MaxTokens = 20
			p.Load.Requests, p.Load.Duration, p.Load.DrainTimeout = 0, plan.Duration(time.Second), 0
		}, func(r *metrics.Results) bool { return r.Requests.Incomplete > 0 && r.Requests.OK > 0 }},
		{"closed loop", 2, fast(), func(p *plan.Plan) {
			p.Load.Rate, p.Load.Clients, p.Load.Requests, p.Load.Duration = nil, 4, 0, plan.Duration(3*time.Second)
			p.Load.Warmup = plan.Duration(time.Second)
		}, func(r *metrics.Results) bool { return math.IsNaN(r.RPM.Offered.F()) && r.Requests.OK > 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := shardPlan()
			c.edit(&p)
			dirs, now := runShards(t, t.TempDir(), p, c.shards, c.d)
			out := filepath.Join(t.TempDir(), "merged")
			o, err := mergeAt(dirs, out, now)
			if err != nil {
				t.Fatal(err)
			}
			var sent, records, ok, ttft int64
			for _, d := range dirs {
				r := readResults(t, d)
				sent, ok, ttft = sent+r.Requests.Sent, ok+r.Requests.OK, ttft+r.Latency["ttft"].Count
				records += int64(len(readLines(t, filepath.Join(d, "requests.jsonl"))))
			}
			res := readResults(t, out)
			lines := readLines(t, filepath.Join(out, "requests.jsonl"))
			var counted, okLines, ttftLines int64
			for _, l := range lines {
				if !l.Warmup {
					counted++
					if l.Class == "ok" {
						okLines++
						if l.TTFT != nil {
							ttftLines++
						}
					}
				}
			}
			if o.Records != records || int64(len(lines)) != records || res.Requests.Sent != sent || counted != sent ||
				res.Requests.OK != ok || okLines != ok || res.Latency["ttft"].Count != ttft || ttftLines != ttft || sent == 0 {
				t.Errorf("%d records (%d lines) of %d; sent %d of %d (%d lines); ok %d of %d (%d lines); TTFTs %d of %d (%d lines)",
					o.Records, len(lines), records, res.Requests.Sent, sent, counted, res.Requests.OK, ok, okLines, res.Latency["ttft"].Count, ttft, ttftLines)
			}
			if !c.check(res) {
				t.Errorf("the merged figures are not of the case: %+v %+v", res.Requests, res.Tokens)
			}
		})
	}
}

// copyDirs copies shard directories into a new temporary directory.
func copyDirs(t *testing.T, dirs []string) []string {
	t.Helper()
	root := t.TempDir()
	var out []string
	for _, d := range dirs {
		to := filepath.Join(root, filepath.Base(d))
		if err := os.CopyFS(to, os.DirFS(d)); err != nil {
			t.Fatal(err)
		}
		out = append(out, to)
	}
	return out
}

// setJSON sets the value at a dotted key of a JSON file to raw JSON;
// raw "" deletes it.
func setJSON(t *testing.T, path, key, raw string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(key, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			t.Fatalf("%s: no %s in %s", path, p, key)
		}
		cur = next
	}
	if raw == "" {
		delete(cur, parts[len(parts)-1])
	} else {
		cur[parts[len(parts)-1]] = json.RawMessage(raw)
	}
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// getJSON returns the value at a dotted key of a JSON file, as JSON.
func getJSON(t *testing.T, path, key string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(key, ".") {
		v = v.(map[string]any)[p]
	}
	js, _ := json.Marshal(v)
	return string(js)
}

// editLines rewrites the lines of a shard's requests.jsonl.
func editLines(t *testing.T, dir string, f func(lines []string) []string) {
	t.Helper()
	path := filepath.Join(dir, "requests.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := f(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withID returns the index of the line of request id.
func withID(t *testing.T, lines []string, id int64) int {
	t.Helper()
	for i, l := range lines {
		if strings.HasPrefix(l, `{"id":`+strconv.FormatInt(id, 10)+`,`) {
			return i
		}
	}
	t.Fatalf("no line of request %d", id)
	return 0
}

// replaceIn replaces old with new in line i, which must hold it.
func replaceIn(t *testing.T, lines []string, i int, old, new string) {
	t.Helper()
	if !strings.Contains(lines[i], old) {
		t.Fatalf("line %d has no %s: %s", i, old, lines[i])
	}
	lines[i] = strings.Replace(lines[i], old, new, 1)
}

// regexpReplace replaces the first match of pattern in s, which must have
// one.
func regexpReplace(t *testing.T, s, pattern, repl string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	loc := re.FindStringIndex(s)
	if loc == nil {
		t.Fatalf("no %s in %s", pattern, s)
	}
	return s[:loc[0]] + repl + s[loc[1]:]
}

// TestMergeRefuses: a shard whose files do not add up, or a set of shards
// that is not one run's, is refused with one line naming the shard's
// file and what is wrong (a *plan.Error: exit 2), and nothing is written.
// Shard 1 of 2 holds requests 1, 3... 23; 1 and 3 are its warmup.
func TestMergeRefuses(t *testing.T) {
	t.Parallel()
	clean, now := runShards(t, t.TempDir(), shardPlan(), 2, fast())
	at := time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC) // the bubble's start, and a second
	if got := getJSON(t, filepath.Join(clean[1], "run.json"), "load.start_at"); got != `"`+at.Format(time.RFC3339Nano)+`"` {
		t.Fatalf("start_at %s", got)
	}
	sum := func(dirs []string) string { return filepath.Join(dirs[1], "summary.json") }
	runJSON := func(dirs []string) string { return filepath.Join(dirs[1], "run.json") }
	hists := func(dirs []string) string { return filepath.Join(dirs[1], "histograms.json") }
	lines := func(f func(t *testing.T, lines []string) []string) func(t *testing.T, dirs []string) []string {
		return func(t *testing.T, dirs []string) []string {
			editLines(t, dirs[1], func(l []string) []string { return f(t, l) })
			return dirs
		}
	}
	set := func(file func([]string) string, kv ...string) func(t *testing.T, dirs []string) []string {
		return func(t *testing.T, dirs []string) []string {
			for i := 0; i < len(kv); i += 2 {
				setJSON(t, file(dirs), kv[i], kv[i+1])
			}
			return dirs
		}
	}
	// setStart moves shard 1's start (both files) and its skew.
	setStart := func(start time.Time, skew string) func(t *testing.T, dirs []string) []string {
		s := `"` + start.Format(time.RFC3339Nano) + `"`
		return func(t *testing.T, dirs []string) []string {
			setJSON(t, runJSON(dirs), "start", s)
			setJSON(t, sum(dirs), "start", s)
			setJSON(t, sum(dirs), "shard.skew_s", skew)
			return dirs
		}
	}
	// copyHist puts shard 1's histogram from onto to, and the summary's
	// count of to to count (unless "").
	copyHist := func(from, to, count string) func(t *testing.T, dirs []string) []string {
		return func(t *testing.T, dirs []string) []string {
			setJSON(t, hists(dirs), to, getJSON(t, hists(dirs), from))
			if count != "" {
				setJSON(t, sum(dirs), to+".count", count)
			}
			return dirs
		}
	}
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dirs []string) []string
		now  time.Duration // from the runs' end
		want string
	}{
		// The records against the summary.
		{"sent edited", set(sum, "requests.sent", "1000"), 0,
			"shard-1/summary.json: requests.sent is 1000 but requests.jsonl holds 10 records past the 2 of the warmup"},
		{"ok edited", set(sum, "requests.ok", "11"), 0, "shard-1/summary.json: requests.ok is 11 but requests.jsonl holds 10 ok records"},
		{"a record's class edited", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 9), `"class":"ok"`, `"class":"http"`)
			return l
		}), 0, "shard-1/summary.json: requests.ok is 10 but requests.jsonl holds 9 ok records"},
		{"attempts edited", set(sum, "requests.attempts", "30"), 0, "requests.attempts is 30 but requests.jsonl holds 10 attempts"},
		// Answers by kind: counts, of kinds the merge knows, each kind's
		// histograms holding what the summary says.
		{"a negative answers count", set(sum, "answers", `{"text":10,"tool_call":-1}`), 0, "shard-1/summary.json: answers.tool_call is -1: want a count from 0 to 1e+15"},
		{"an unknown answer kind", set(sum, "answers", `{"kinds":{"poem":{"requests":1}}}`), 0, `shard-1/summary.json: answers.kinds has "poem": not an answer kind`},
		{"a record's answer edited", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 9), `"answer":"text"`, `"answer":"tool_call"`)
			return l
		}), 0, "shard-1/summary.json: answers.tool_call is 0 but requests.jsonl holds 1 ok records answering tool_call"},
		{"a record's answer not a kind", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 9), `"answer":"text"`, `"answer":"poem"`)
			return l
		}), 0, `not a record: answer is "poem": not an answer kind`},
		{"a kind's histogram missing", set(sum, "answers", `{"text":10,"kinds":{"text":{"requests":10,"ttft":{"count":10}}}}`), 0,
			"shard-1/histograms.json: answers.kinds.text.ttft holds 0 values but summary.json's answers.kinds.text.ttft.count is 10"},
		{"prompt tokens edited", set(sum, "tokens.prompt", "1"), 0, "tokens.prompt is 1 but requests.jsonl holds 500 prompt tokens"},
		{"the last record dropped", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 23)
			return append(l[:i], l[i+1:]...)
		}), 0, "requests.sent is 10 but requests.jsonl holds 9 records"},
		{"a record dropped", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 9)
			return append(l[:i], l[i+1:]...)
		}), 0, "shard-1/requests.jsonl: no record of request 9 (this shard's request 4) though there is one of request 23"},
		{"no requests.jsonl", func(t *testing.T, dirs []string) []string {
			if err := os.Remove(filepath.Join(dirs[1], "requests.jsonl")); err != nil {
				t.Fatal(err)
			}
			return dirs
		}, 0, "shard-1/requests.jsonl: no such file or directory"},
		{"a line twice", lines(func(t *testing.T, l []string) []string {
			return append(l, l[withID(t, l, 7)])
		}), 0, "shard-1/requests.jsonl:13: id 7 is there twice"},
		{"another shard's id", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 7), `"id":7,`, `"id":6,`)
			return l
		}), 0, "id 6 is shard 0's of 2, not this shard's (1)"},
		{"an id past the records", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 23), `"id":23,`, `"id":25,`)
			return l
		}), 0, "shard-1/requests.jsonl: no record of request 23 (this shard's request 11) though there is one of request 25"},
		{"an id far past the records", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 23), `"id":23,`, `"id":999999999999999999,`)
			return l
		}), 0, "id 999999999999999999 is this shard's request 499999999999999999, more than a file of "},
		{"an id not a number", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 7), `"id":7,`, `"id":-7,`)
			return l
		}), 0, "not a record: id is -7: not a request number"},
		{"a key twice", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 7), `"id":7,`, `"id":7,"id":9,`)
			return l
		}), 0, "not a record: id is there twice"},
		{"a line not JSON", lines(func(t *testing.T, l []string) []string {
			return append(l[:5], append([]string{"{not json"}, l[5:]...)...)
		}), 0, "shard-1/requests.jsonl:6: not a record"},
		{"a record cut short", lines(func(t *testing.T, l []string) []string {
			l[3] = l[3][:len(l[3])/2]
			return l
		}), 0, "shard-1/requests.jsonl:4: not a record"},
		{"a capital key", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 7), `"id":7,`, `"id":7,"ID":9,`)
			return l
		}), 0, `not a record: "ID" is not a record's key`},
		{"an unknown class", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 7), `"class":"ok"`, `"class":"fine"`)
			return l
		}), 0, `not a record: class is "fine": not a class`},
		{"NaN TTFT", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 7)
			l[i] = regexpReplace(t, l[i], `"ttft":[0-9.]+`, `"ttft":NaN`)
			return l
		}), 0, "not a record: ttft:"},
		{"Inf TTFT", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 7)
			l[i] = regexpReplace(t, l[i], `"ttft":[0-9.]+`, `"ttft":"Inf"`)
			return l
		}), 0, `not a record: ttft is "Inf": not seconds from 0 to 1e+08`},
		{"a sched of 1e308", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 7)
			l[i] = regexpReplace(t, l[i], `"sched":[0-9.]+`, `"sched":1e308`)
			return l
		}), 0, "not a record: sched is 1e308: not seconds from 0 to 1e+08"},
		{"a negative end", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 7)
			l[i] = regexpReplace(t, l[i], `"end":[0-9.]+`, `"end":-3`)
			return l
		}), 0, "not a record: end is -3: not seconds"},
		{"a late record marked warmup", lines(func(t *testing.T, l []string) []string {
			i := withID(t, l, 21)
			l[i] = strings.TrimSuffix(l[i], "}") + `,"warmup":true}`
			return l
		}), 0, "a record of the warmup scheduled at 1.05 s, after the warmup's 0.2 s"},
		{"a warmup record not marked", lines(func(t *testing.T, l []string) []string {
			replaceIn(t, l, withID(t, l, 3), `,"warmup":true`, ``)
			return l
		}), 0, "scheduled at 0.15 s, in the warmup (0.2 s), but not marked warmup"},
		// The summary's figures.
		{"window of 1e308", set(sum, "window_s", "1e308"), 0, "shard-1/summary.json: window_s is 1e+308: want seconds from 0 to 1e+08"},
		{"window NaN", set(sum, "window_s", `"NaN"`), 0, "shard-1/summary.json: window_s is null"},
		{"duration Inf", set(sum, "duration_s", `"Inf"`), 0, "shard-1/summary.json: duration_s is +Inf"},
		{"negative duration", set(sum, "duration_s", `-1`), 0, "shard-1/summary.json: duration_s is -1"},
		{"offered of 1e308", set(sum, "rpm.offered", "1e308"), 0, "rpm.offered is 1e+308: want the plan's rate over 2 shards, 600"},
		{"quota Inf", set(sum, "tpm.quota", `"Inf"`), 0, "tpm.quota is +Inf"},
		{"quota edited", set(sum, "tpm.quota", `1e6`), 0, "tpm.quota over window_s is 17500 tokens but requests.jsonl holds 600 quota tokens of ok records"},
		{"goodput past ok", set(sum, "rpm.goodput", `1e6`), 0, "rpm.goodput over window_s is 17500 requests, more than its 10 ok"},
		{"held back negative", set(sum, "requests.held_back", `-1`), 0, "requests.held_back is -1"},
		{"mismatch of 1e308", set(sum, "tokens.mismatch_mean_abs", `1e308`), 0, "tokens.mismatch_mean_abs is 1e+308"},
		// The histograms against the summary and the records.
		{"a histogram that disagrees", copyHist("latency.failed", "latency.ttft", ""), 0,
			"shard-1/histograms.json: latency.ttft holds 0 values but summary.json's latency.ttft.count is 10"},
		{"a latency count edited", set(sum, "latency.e2e.count", "11"), 0,
			"shard-1/histograms.json: latency.e2e holds 10 values but summary.json's latency.e2e.count is 11"},
		{"histogram and count edited", copyHist("latency.failed", "latency.ttft", "0"), 0,
			"shard-1/summary.json: latency.ttft.count is 0 but requests.jsonl holds 10 TTFTs"},
		{"a histogram swapped for another of its count", copyHist("latency.ttft", "latency.e2e", ""), 0,
			"shard-1/histograms.json: latency.e2e holds other values than summary.json's"},
		{"TPOTs past the choices", copyHist("latency.itl", "latency.tpot", "90"), 0,
			"shard-1/summary.json: latency.tpot.count is 90, more than its 10 choices of ok records"},
		{"a histogram not one", set(hists, "latency.ttft", `"bm90IGEgaGlzdG9ncmFt"`), 0, "shard-1/histograms.json: histogram ttft:"},
		// The start.
		{"a start of 9999", setStart(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "0"), 0,
			"shard-1/run.json: start 9999-01-01T00:00:00Z is 2562047.8 h after load.start_at 2000-01-01T00:00:01Z: not this run's shard"},
		{"a start before --start-at", setStart(at.Add(-time.Second), "0"), 0,
			"shard-1/run.json: start 2000-01-01T00:00:00Z is before load.start_at 2000-01-01T00:00:01Z"},
		{"a start a day late", setStart(at.Add(25*time.Hour), "90000"), 0,
			"start 2000-01-02T01:00:01Z is 25.0 h after load.start_at 2000-01-01T00:00:01Z: not this run's shard"},
		{"a start in the future", setStart(at.Add(3*time.Hour), "10800"), 0,
			"shard-1/run.json: start 2000-01-01T03:00:01Z is in the future: this machine's clock says 2000-01-01T00:00:"},
		{"a start the summary does not share", set(sum, "start", `"2000-01-01T00:00:02Z"`), 0,
			`shard-1/summary.json: start "2000-01-01T00:00:02Z" is not run.json's start 2000-01-01T00:00:01Z`},
		{"a skew edited", set(sum, "shard.skew_s", "5"), 0, "shard-1/summary.json: shard.skew_s is 5 but the shard started 0 s after load.start_at"},
		{"a skew of 1e308", set(sum, "shard.skew_s", "1e308"), 0, "shard.skew_s is 1e+308"},
		{"merged before the run", func(t *testing.T, dirs []string) []string { return dirs }, -3 * time.Hour,
			"start 2000-01-01T00:00:01Z is in the future"},
		{"shards a day apart", func(t *testing.T, dirs []string) []string {
			for _, d := range dirs {
				setJSON(t, filepath.Join(d, "run.json"), "load.start_at", "")
			}
			setStart(at.Add(25*time.Hour), "0")(t, dirs)
			return dirs
		}, 26 * time.Hour, "shard-1 started 25.0 h after "},
		// The set of shards.
		{"a missing shard", func(t *testing.T, dirs []string) []string { return dirs[:1] }, 0, "1 of 2 shards given; missing shard 1"},
		{"a shard twice", func(t *testing.T, dirs []string) []string { return []string{dirs[0], dirs[0]} }, 0, "are both shard 0 of 2"},
		{"different plans", set(runJSON, "workload.max_tokens", "11"), 0, "ran different plans: workload.max_tokens is 10 in one and 11 in the other"},
		{"a rate of 1e308", set(runJSON, "load.rate", "1e308"), 0, "shard-1/run.json: load.rate is 1e+308"},
		{"a shard index out of range", set(runJSON, "load.shard.index", "5"), 0, "shard-1/run.json: load.shard is 5 of 2"},
		{"a summary of another shard", set(sum, "shard.index", "0"), 0, "shard-1/summary.json: shard is not run.json's load.shard (1 of 2)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs := c.edit(t, copyDirs(t, clean))
			out := filepath.Join(t.TempDir(), "merged")
			_, err := mergeAt(dirs, out, now.Add(c.now))
			var pe *plan.Error
			if !errors.As(err, &pe) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v (%T)\nwant one line with %q", err, err, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}

// FuzzRecordLine: the merge's scanner takes a line only if it is JSON,
// and reads its id, class and warmup as encoding/json does; it never
// panics.
func FuzzRecordLine(f *testing.F) {
	f.Add([]byte(`{"id":7,"class":"ok","status":200,"attempts":1,"throttles":0,"sched":0.35,"send":0.350084,"end":0.6,"lag":0.000084,"ttft":0.2,"e2e":0.25,"prompt_tokens":50,"cached_tokens":null,"error":"","proto":"HTTP/1.1","new_conns":0}`))
	f.Add([]byte(`{"id":3,"class":"stream","warmup":true,"sched":0.15,"error":"cut \"short\" \u00e9\n","prompt_text":"a\\b"}`))
	f.Add([]byte(`{"id":1,"class":"ok","x":[1,{"y":[true,false,null]},-0.5e-3]}`))
	f.Add([]byte(`{"id":1,"class":"ok","sched":1e308}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":5,"class":"ok","new_conns":0,"answer":"tool_call","tool_calls":2,"tool_names":["get_weather","tool_[REDACTED]"],"tool_args":["valid",null],"images":2,"image_bytes":300000,"image_tokens":1530}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r rec
		if err := r.parse(b, false); err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("took a line that is not JSON: %q", b)
		}
		var v struct {
			ID     int64  `json:"id"`
			Class  string `json:"class"`
			Warmup bool   `json:"warmup"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		want := metrics.OK
		if r.class > 0 {
			want = metrics.Classes[r.class-1]
		}
		if v.ID != r.id || v.Class != string(want) || v.Warmup != r.warmup {
			t.Fatalf("%q: read id %d class %s warmup %v; encoding/json reads %+v", b, r.id, want, r.warmup, v)
		}
	})
}

// TestRecordLineAnswers: a record with the answer keys (arrays, a null
// verdict) is read: the merge copies keys it does not read.
func TestRecordLineAnswers(t *testing.T) {
	var r rec
	b := []byte(`{"id":5,"class":"ok","new_conns":0,"answer":"tool_call","tool_calls":2,"tool_names":["get_weather","tool_[REDACTED]"],"tool_args":["valid",null],"structured":null,"images":2,"image_bytes":300000,"image_tokens":null}`)
	if err := r.parse(b, false); err != nil || r.id != 5 {
		t.Errorf("%v, id %d", err, r.id)
	}
}
