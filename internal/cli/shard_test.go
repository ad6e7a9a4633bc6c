package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// TestShardsMerge: two shards of one plan, each against its own built-in
// simulator, merge into one run whose records number 0..N-1 as a single
// run's would, on the schedule of the whole; a report reads it. Shard
// sets that are not whole, or not of one plan, are refused with one line
// and exit 2, and nothing is written.
func TestShardsMerge(t *testing.T) {
	dir := t.TempDir()
	// The shards run at once, as on two machines, from one start.
	at := time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339Nano)
	// A busy machine may make a shard late, or its requests leave late:
	// the shard then says its figures are not valid (exit 3), and the
	// merge must say so too. The merging is the same either way.
	var late atomic.Bool
	shard := func(name, spec string, extra ...string) error {
		args := append([]string{"load", "-n", "12", "-r", "1200", "-p", "50", "-m", "5", "--seed", "7", "--shard", spec,
			"--start-at", at, "--output-dir", filepath.Join(dir, name)}, extra...)
		code, _, errOut := runCLI(t, nil, args...)
		switch {
		case code == ExitInvalid && strings.Contains(errOut, "NOT VALID"):
			if name != "other" {
				late.Store(true)
			}
		case code != 0:
			return fmt.Errorf("%s: exit %d: %s", name, code, errOut)
		}
		return nil
	}
	errs := make(chan error, 3)
	for _, s := range [][]string{{"s0", "0/2"}, {"s1", "1/2"}, {"other", "1/2", "--max-tokens", "6"}} {
		go func() { errs <- shard(s[0], s[1], s[2:]...) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "merged")
	code, _, errOut := runCLI(t, nil, "merge", filepath.Join(dir, "s1"), filepath.Join(dir, "s0"), "-o", out)
	want := ExitOK
	if late.Load() {
		want = ExitInvalid
	}
	if code != want || !strings.Contains(errOut, "merged 2 shards, 12 records") {
		t.Fatalf("merge: exit %d, want %d: %s", code, want, errOut)
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	res, err := metrics.ReadResults(b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests.Sent != 12 || res.Requests.OK != 12 || res.RPM.Offered.F() != 1200 || res.Latency["ttft"].Count != 12 || res.Shard == nil || len(res.Shard.Merged) != 2 {
		t.Errorf("merged results: %+v, offered %v, TTFT count %d, shard %+v", res.Requests, res.RPM.Offered, res.Latency["ttft"].Count, res.Shard)
	}
	lines, _ := os.ReadFile(filepath.Join(out, "requests.jsonl"))
	seen := map[int64]float64{}
	for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		var r struct {
			ID    int64   `json:"id"`
			Sched float64 `json:"sched"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		seen[r.ID] = r.Sched
	}
	for k := range int64(12) {
		// The shards started apart: each keeps its own spacing of 100 ms,
		// request k of the whole is shard k mod 2's.
		if _, ok := seen[k]; !ok {
			t.Errorf("request %d missing from the merged records: %v", k, seen)
		}
	}
	if d := seen[2] - seen[0]; d < 0.0999 || d > 0.1001 {
		t.Errorf("requests 0 and 2 (shard 0) %.6f s apart, want 0.1", d)
	}
	if code, md, errOut := runCLI(t, nil, "report", "--format", "md", out); code != 0 || !strings.Contains(md, "| sent | 12 |") {
		t.Errorf("report of the merged run: exit %d: %s%s", code, md, errOut)
	}

	for _, c := range []struct {
		dirs []string
		want string
	}{
		{[]string{"s0"}, "1 of 2 shards given; missing shard 1"},
		{[]string{"s0", "s0"}, "are both shard 0 of 2"},
		{[]string{"s0", "other"}, "ran different plans: workload.max_tokens is 5 in one and 6 in the other"},
		{[]string{"s0", "merged"}, "is not a shard"},
		{[]string{"s0", "nope"}, "nope: no such file or directory"},
		{[]string{"s0", "s1", "-o", "s1"}, "holds a run already"},
	} {
		var args []string
		for _, d := range c.dirs {
			if d == "-o" {
				args = append(args, d)
				continue
			}
			args = append(args, filepath.Join(dir, d))
		}
		bad := filepath.Join(dir, "bad")
		code, out, errOut := runCLI(t, nil, append([]string{"merge", "-o", bad}, args...)...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("merge %v: exit %d, stderr %q; want exit 2 and one line with %q", c.dirs, code, errOut, c.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("merge %v wrote %s", c.dirs, bad)
		}
	}
}

// TestMergeNotValid: shards that started late against their --start-at
// merge, but the merged figures are not valid for the plan's rate: exit
// 3, saying why.
func TestMergeNotValid(t *testing.T) {
	dir := t.TempDir()
	at := time.Now().Add(-3 * time.Second).UTC().Format(time.RFC3339Nano)
	var dirs []string
	for i := range 2 {
		d := filepath.Join(dir, fmt.Sprintf("s%d", i))
		// 120 RPM: each shard's requests 1 s apart, a lag limit of
		// 50 ms. A shard may still be not valid on its own (exit 3) on a
		// machine busy enough to wake it that late; the merge must say
		// why the whole is not, which is the start.
		code, _, errOut := runCLI(t, nil, "load", "-n", "4", "-r", "120", "-p", "50", "-m", "5", "--seed", "7",
			"--shard", fmt.Sprintf("%d/2", i), "--start-at", at, "--output-dir", d)
		if code != 0 && code != ExitInvalid {
			t.Fatalf("shard %d: exit %d: %s", i, code, errOut)
		}
		dirs = append(dirs, d)
	}
	code, _, errOut := runCLI(t, nil, append([]string{"merge", "-o", filepath.Join(dir, "merged")}, dirs...)...)
	if code != ExitInvalid || !strings.Contains(errOut, "after --start-at") || !strings.Contains(errOut, "NOT VALID for the asked rate") {
		t.Errorf("exit %d, want %d: %s", code, ExitInvalid, errOut)
	}
}

// TestMergeNothingSucceeded: shards in which no request succeeded merge
// into a run that failed, with load's exit status for it (1), not 0.
func TestMergeNothingSucceeded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"InternalServerError","message":"down"}}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	dir := t.TempDir()
	at := time.Now().Add(500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	var dirs []string
	for i := range 2 {
		d := filepath.Join(dir, fmt.Sprintf("s%d", i))
		code, _, errOut := runCLI(t, nil, "load", "-n", "4", "-r", "1200", "-p", "50", "-m", "5", "--model", "gpt-4o",
			"--shard", fmt.Sprintf("%d/2", i), "--start-at", at, "--output-dir", d, srv.URL)
		if code != ExitFailed {
			t.Fatalf("shard %d: exit %d: %s", i, code, errOut)
		}
		dirs = append(dirs, d)
	}
	code, _, errOut := runCLI(t, nil, append([]string{"merge", "-o", filepath.Join(dir, "merged")}, dirs...)...)
	if code != ExitFailed || !strings.Contains(errOut, "none of 4 requests succeeded") {
		t.Errorf("exit %d, want %d: %s", code, ExitFailed, errOut)
	}
}

// TestShardFlags: --shard and the environment's shard are checked before
// anything is sent.
func TestShardFlags(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"load", "--shard", "4/4"}, `--shard "4/4": want I/N with 0 <= I < N`},
		{nil, []string{"load", "--shard", "x"}, `--shard "x"`},
		{nil, []string{"load", "--shard", "0/0"}, `--shard "0/0"`},
		{nil, []string{"load", "--shard", "0/2"}, "give --seed N (or --start-at)"},
		{nil, []string{"load", "--shard", "0/2", "--seed", "1", "--turns", "3"}, "--shard: conversations"},
		{nil, []string{"load", "--shard", "2/3", "--seed", "1", "-n", "2"}, "--requests 2 is fewer than the 3 shards"},
		{nil, []string{"load", "--shard", "0/3", "--seed", "1", "-c", "2"}, "--clients 2 is fewer than the 3 shards"},
		{nil, []string{"load", "--metrics-linger", "5s"}, "give --metrics-listen too"},
		{nil, []string{"load", "--start-at", "tomorrow"}, `--start-at "tomorrow" is not an RFC 3339 time`},
		{nil, []string{"load", "--start-at", "2999-01-01T00:00:00Z"}, "more than a day"},
		{map[string]string{"AOAIBENCH_SHARDS": "4"}, []string{"load"}, "$JOB_COMPLETION_INDEX is not set"},
		{map[string]string{"AOAIBENCH_SHARDS": "4", "JOB_COMPLETION_INDEX": "9"}, []string{"load", "--seed", "1"}, `"9/4"`},
	} {
		code, out, errOut := runCLI(t, c.env, c.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v %q: exit %d, stderr %q; want exit 2 and one line with %q", c.env, c.args, code, errOut, c.want)
		}
	}
}

// TestK8s: the Job for a load command, and a load command that would not
// run refused before any manifest is printed.
func TestK8s(t *testing.T) {
	base := []string{"k8s", "--shards", "3", "--image", "reg/aoaibench:1", "--results-claim", "results"}
	code, out, errOut := runCLI(t, nil, append(base, "--key-secret", "key", "--", "load", "-e", "gpt-4o", "-r", "600", "-d", "1m", "https://x.openai.azure.com")...)
	if code != 0 || !strings.Contains(out, "completionMode: Indexed") || !strings.Contains(out, "AOAIBENCH_SHARDS") || !strings.Contains(out, "- https://x.openai.azure.com") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	// The merge Job needs no load command.
	if code, out, errOut := runCLI(t, nil, append(base, "--merge")...); code != 0 || !strings.Contains(out, "name: aoaibench-merge") {
		t.Fatalf("--merge: exit %d: %s%s", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--key-secret", "key", "--", "load", "-e", "gpt-4o", "-r", "600"}, "give the load command an endpoint URL"},
		{[]string{"--key-secret", "key", "--", "load", "-r", "600", "--shard", "0/3", "https://x.openai.azure.com"}, "the Job sets --shard itself"},
		{[]string{"--key-secret", "key", "--", "load", "-e", "d", "-r", "abc", "https://x.openai.azure.com"}, "the load command"},
		{[]string{"--key-secret", "key", "--", "load", "-e", "d", "--clients", "0", "https://x.openai.azure.com"}, "--clients must be at least 1"},
		{[]string{"--", "load", "-e", "d", "-d", "1m", "https://x.openai.azure.com"}, "how do the pods sign in?"},
		{[]string{"--key-secret", "key", "--", "load", "-e", "d", "https://x.openai.azure.com"}, "the load command has no end"},
		{[]string{"--key-secret", "key", "--", "load", "-e", "d", "-d", "1m", "--turns", "3", "https://x.openai.azure.com"}, "--shard: conversations"},
		{[]string{"--key-secret", "key", "--", "load", "-e", "d", "-d", "1m", "-c", "2", "https://x.openai.azure.com"}, "--clients 2 is fewer than the 3 shards"},
		{[]string{"--key-secret", "key", "--", "load", "-e", "d", "-d", "1m", "-fjsonl", "https://x.openai.azure.com"}, "the Job sets -f itself"},
		{[]string{"--key-secret", "key", "--cpu", "lots", "--", "load", "-e", "d", "-d", "1m", "https://x.openai.azure.com"}, "--cpu"},
		{[]string{"--start-at", "2001-01-01T00:00:00Z", "--key-secret", "key", "--", "load", "-e", "d", "-d", "1m", "https://x.openai.azure.com"}, "has passed"},
		{[]string{"--", "load", "-e", "d", "-d", "1m", "--auth", "entra", "https://x.openai.azure.com"}, "--auth entra in a pod needs --service-account"},
		{[]string{"--key-secret", "key", "--auth", "entra"}, "give the load command after --"},
		{[]string{"--key-secret", "key", "--name", "Bad_Name", "--", "load", "-e", "d", "-d", "1m", "https://x.openai.azure.com"}, "is not a DNS label"},
	} {
		code, out, errOut := runCLI(t, nil, append(append([]string{}, base...), c.args...)...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %d bytes; want exit 2 and one line with %q", c.args, code, errOut, len(out), c.want)
		}
	}
}

// TestServerMetrics: scraping the simulator's vLLM-named /metrics
// through a run over loopback TCP: the server's TTFT mean over the run is
// the simulator's own ground truth, within a millisecond, and the
// samples are in server-metrics.jsonl.
func TestServerMetrics(t *testing.T) {
	s, err := sim.Start(sim.Config{Precise: true}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, nil, "load", "--api", "azure", "-e", "gpt-4o-mini", "-n", "40", "-r", "600", "-p", "100", "-m", "10",
		"--server-metrics", s.URL()+"/metrics", "--output-dir", dir, s.URL())
	if !worked(code, errOut) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var server float64
	var n int
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, "its TTFT mean") {
			fmt.Sscanf(strings.TrimSpace(l), "its TTFT mean %f ms over %d requests", &server, &n)
		}
	}
	var truth float64
	for _, c := range s.Stats().Deployments["gpt-4o-mini"].Classes {
		if c.TTFT.Mean != nil {
			truth = *c.TTFT.Mean * 1e3
		}
	}
	if n != 40 || math.Abs(server-truth) > 1 {
		t.Errorf("server TTFT mean %.3f ms over %d requests, the simulator's %.3f ms:\n%s", server, n, truth, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "server-metrics.jsonl"))
	if err != nil || !strings.Contains(string(b), "vllm:num_requests_running") {
		t.Errorf("server-metrics.jsonl: %v %.200s", err, b)
	}
	code, _, errOut = runCLI(t, nil, "load", "--server-metrics", "vllm:8000/metrics")
	if code != 2 || !strings.Contains(errOut, "--server-metrics") {
		t.Errorf("bad URL: exit %d: %s", code, errOut)
	}
}
