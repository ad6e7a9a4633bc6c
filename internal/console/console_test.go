package console

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/capacity"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/scrape"
	"github.com/aoaibench/aoaibench/internal/sim"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares what write wrote with testdata/name.golden (rewritten
// with -update), and checks that every line fits Width.
func golden(t *testing.T, name string, write func(*bytes.Buffer)) {
	t.Helper()
	var b bytes.Buffer
	write(&b)
	for i, l := range strings.Split(b.String(), "\n") {
		// A URL is not broken: it is the one thing that may pass Width.
		if len(l) > Width && !strings.Contains(l, "://") {
			t.Errorf("%s: line %d is %d columns: %q", name, i+1, len(l), l)
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, b.String())
	}
}

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// run makes the results of n requests a second apart, the last
// throttled, as a run's summary would.
func run(n int, info metrics.Info, edit func(i int, r *metrics.Record)) *metrics.Results {
	s := metrics.NewSummary(metrics.SLO{TTFT: 300 * time.Millisecond})
	for i := range n {
		r := metrics.NewRecord(int64(i), t0.Add(time.Duration(i)*time.Second))
		r.Send = r.Sched.Add(time.Duration(i%3) * time.Millisecond)
		r.Hdr = r.Send.Add(time.Millisecond)
		r.First = r.Send.Add(time.Duration(100+50*i) * time.Millisecond)
		r.Last = r.First.Add(time.Second)
		r.End = r.Last
		r.Class, r.ServerPrompt, r.ServerOutput, r.ClientOutput, r.MaxTokens = metrics.OK, 100, 51, 51, 100
		r.Attempts, r.Proto, r.NewConns = 1, "HTTP/1.1", 1
		if i == n-1 {
			r.Class, r.Status, r.Throttles = metrics.Throttled, 429, 1
		}
		if edit != nil {
			edit(i, r)
		}
		s.Add(r)
	}
	info.Start, info.Sent = t0, int64(n)
	return s.Results(info)
}

func TestSummary(t *testing.T) {
	t.Parallel()
	golden(t, "summary", func(b *bytes.Buffer) {
		Summary(b, run(10, metrics.Info{Window: 10 * time.Second, Stopped: metrics.StopRequests, Offered: 60}, nil))
	})
	// Not valid, over the quota, with warnings, caveats, objectives, a
	// throttling reading and two serving deployments.
	golden(t, "summary-invalid", func(b *bytes.Buffer) {
		r := run(12, metrics.Info{Window: 10 * time.Second, Stopped: metrics.StopDuration, Offered: 120, NotSent: 8,
			Invalid: []string{"schedule lag p99 26.0 ms: requests left late (past 10ms)", "sent 12 of 20 due requests (60.0%)"}},
			func(i int, r *metrics.Record) {
				r.Deployment = "gpt-4o-ptu"
				if i%3 == 0 {
					r.Deployment, r.SpilledFrom = "gpt-4o-paygo", "gpt-4o-ptu"
				}
				if i == 2 {
					r.Warn = "usage prompt_tokens is not a number: ignored"
				}
			})
		r.Quota = &metrics.Quota{TPM: 60000, RPM: 360, Source: "simulator"}
		r.Caveats = append(r.Caveats, "rates are per minute, scaled from 10.0 s of dispatch: a standard deployment's quota counts a sliding minute, which this run did not fill")
		r.Caveats = append(r.Caveats, r.OverQuota()...)
		r.Throttling = &metrics.Throttling{FirstAt: 11, Span: 11, RPMBefore: 11, QuotaTPM: 2200, LimitTokens: 60000, LimitRequests: 360, RemainingTokensMin: 100}
		r.SLO = []metrics.Check{{Objective: "ttft_p95<=200ms", Figure: "ttft_p95", Value: 0.64, Passed: false}, {Objective: "throttled<=10%", Figure: "throttled", Value: 1.0 / 12, Passed: true}}
		Summary(b, r)
	})
	// Whole answers: no TTFT rows; conversations by turn; a ramp's stages.
	golden(t, "summary-parts", func(b *bytes.Buffer) {
		r := run(6, metrics.Info{Window: 6 * time.Second, Stopped: metrics.StopDuration, Offered: 60}, nil)
		r.Sessions = 3
		r.Turns = []metrics.TurnResults{{Turn: 1, Results: run(3, metrics.Info{Window: 6 * time.Second}, nil)}, {Turn: 2, Results: run(3, metrics.Info{Window: 6 * time.Second}, nil)}}
		r.Stages = []metrics.StageResults{{Index: 1, Start: 0, End: 3, Target: 60, Results: run(3, metrics.Info{Window: 3 * time.Second, Offered: 30}, nil)}, {Index: 2, Start: 3, End: 6, Target: 60}}
		Summary(b, r)
		Summary(b, run(4, metrics.Info{Window: 4 * time.Second, Stopped: metrics.StopRequests, Offered: math.NaN()}, func(_ int, r *metrics.Record) {
			r.First, r.Last = time.Time{}, time.Time{}
		}))
	})
}

// TestSummaryAnswers: a run with tool calls, structured answers and
// images says what they were: the kinds and the tool-call share, the
// calls' argument verdicts, the structured answers that did not parse
// (successes, counted apart), the images, each kind's latencies.
func TestSummaryAnswers(t *testing.T) {
	t.Parallel()
	golden(t, "summary-answers", func(b *bytes.Buffer) {
		kinds := []metrics.AnswerKind{metrics.ToolCallAnswer, metrics.ToolCallAnswer, metrics.StructuredAnswer, metrics.TextAnswer}
		calls := 0
		Summary(b, run(13, metrics.Info{Window: 13 * time.Second, Stopped: metrics.StopRequests, Offered: 60}, func(i int, r *metrics.Record) {
			r.Answer = kinds[i%4]
			switch r.Answer {
			case metrics.ToolCallAnswer:
				r.ToolNames = []string{"get_weather"}
				r.ToolArgs = []schema.Verdict{[]schema.Verdict{schema.Valid, schema.Valid, schema.NotJSON, schema.Mismatch, schema.Unchecked}[calls%5]}
				calls++
				r.First = r.First.Add(200 * time.Millisecond)
			case metrics.StructuredAnswer:
				r.Structured = []schema.Verdict{schema.Valid, schema.NotJSON}[i/4%2]
			}
			r.Images, r.ImageBytes, r.ImageTokens = 2, 2*153_600, 2*765
		}))
	})
}

func TestStart(t *testing.T) {
	t.Parallel()
	rate := 120.0
	p := plan.Plan{Workload: plan.Workload{Shape: "balanced", ContextTokens: 500, MaxTokens: 500, PrefixTokens: 2048, Turns: 3, ThinkTime: "1s-5s"},
		Load: plan.Load{Rate: &rate, Arrival: "constant", Clients: 10000, AutoClients: true, Shard: &plan.Shard{Index: 1, Count: 4}, StartAt: "2026-12-03T10:00:00Z"}}
	golden(t, "start", func(b *bytes.Buffer) {
		SimulatorBanner(b, "http://127.0.0.1:8080", "gpt-4o-mini (model gpt-4o-mini, standard, 200000 TPM, TTFT 150 ms + 0.02 ms a prompt token, 10 ms an output token)")
		Start(b, "http://127.0.0.1:8080/openai/deployments/gpt-4o-mini/chat/completions (azure, deployment \"gpt-4o-mini\", tokenizer o200k_base)", &p)
		closed := plan.Plan{Workload: plan.Workload{Dataset: &plan.Dataset{Path: "sharegpt.json", MaxTokens: 300}}, Load: plan.Load{Clients: 20}}
		Start(b, "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions (azure, deployment \"gpt-4o\", tokenizer o200k_base)", &closed)
		emb := plan.Plan{Workload: plan.Workload{Shape: "balanced", ContextTokens: 500, MaxTokens: 500, Endpoint: plan.Embeddings, EmbeddingBatch: 4}, Load: plan.Load{Clients: 20}}
		Start(b, "https://res.openai.azure.com/openai/deployments/emb/embeddings (azure, deployment \"emb\", tokenizer cl100k_base)", &emb)
	})
}

func TestSimulatorAndServer(t *testing.T) {
	t.Parallel()
	golden(t, "simulator", func(b *bytes.Buffer) {
		Simulator(b, sim.Stats{Deployments: map[string]sim.DeploymentStats{
			"gpt-4o-ptu":   {Accepted: 73, Completed: 73, Throttled: map[string]int64{"utilization": 127}, Spilled: 127, PromptTokens: 36500, CompletionTokens: 36500},
			"gpt-4o-paygo": {Accepted: 127, Completed: 126, Failed: 1, Throttled: map[string]int64{}, PromptTokens: 63500, CompletionTokens: 63000},
		}})
	})
	r := run(10, metrics.Info{Window: 10 * time.Second, Stopped: metrics.StopRequests, Offered: 60}, nil)
	golden(t, "server", func(b *bytes.Buffer) {
		Server(b, []scrape.Figures{
			{Target: "http://me:secret@vllm:8000/metrics", TTFT: 0.150, ITL: 0.020, Queue: 0.001, Requests: 9, Running: 4, Waiting: 0, KVCache: 0.25, E2E: math.NaN()},
			{Target: "http://sglang:30000/metrics", TTFT: 0.100, Requests: 500, Of: " of m", ITL: math.NaN(), Queue: math.NaN(), Running: math.NaN(), Waiting: math.NaN(), KVCache: math.NaN()},
			{Target: "http://down:9/metrics", Err: "dial tcp: connection refused", TTFT: math.NaN(), Running: math.NaN()},
		}, r)
	})
}

func TestCapacity(t *testing.T) {
	t.Parallel()
	step := func(rate float64, edit func(*metrics.Results)) *metrics.Results {
		r := run(10, metrics.Info{Window: 10 * time.Second, Stopped: metrics.StopDuration, Offered: rate}, nil)
		if edit != nil {
			edit(r)
		}
		return r
	}
	probes := []capacity.Probe{
		{Rate: 60, Judged: true, Passed: true, Results: step(60, nil)},
		{Rate: 120, Judged: true, FailedBy: capacity.ByQuota, Reasons: []string{"120000 quota-counted TPM is over the 60000 TPM quota (simulator): no whole minute allows it"}, Results: step(120, nil)},
		{Rate: 90, Judged: true, FailedBy: capacity.ByQuota, Reasons: []string{"throttled<=1%: 40.00%"}, Results: step(90, nil)},
		{Rate: 75, Results: step(75, nil)},
	}
	golden(t, "steps", func(b *bytes.Buffer) {
		StepLine(b, "step 2/4 at 120 RPM", probes[1].Results)
		Steps(b, probes, false)
	})
	found := &capacity.Found{MaxRate: 60, Pass: 60, Fail: 75, Stopped: "probes", Probes: probes[:3],
		Bound: "bounded by the quota: at 75 RPM, 66000 quota-counted TPM is over the 60000 TPM quota (simulator): no whole minute allows it"}
	golden(t, "answer", func(b *bytes.Buffer) {
		Answer(b, found, "throttled<=1%", 60, "5%")
		Answer(b, &capacity.Found{MaxRate: math.NaN(), Pass: math.NaN(), Fail: 60, Stopped: "min", Bound: "bounded by the objectives: at 60 RPM, ttft_p95<=100ms: 164.2 ms"}, "ttft_p95<=100ms", 60, "5%")
	})
}

// TestNote: a note longer than Width is wrapped at words, its following
// lines indented; short lines and a note's own line breaks are kept.
func TestNote(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	long := "WARNING: the load generator is behind its schedule (lag p99 26.1 ms over 5 ms): the figures are not valid for 30000 RPM"
	Note(&b, long+"\n  short second line\n"+"  "+long)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, l := range lines {
		if len(l) > Width-1 {
			t.Errorf("line %d is %d columns: %q", i, len(l), l)
		}
	}
	if lines[2] != "  short second line" || !strings.HasPrefix(lines[1], "  ") || !strings.HasPrefix(lines[4], "    ") {
		t.Errorf("indents:\n%s", b.String())
	}
	if got := strings.Join(strings.Fields(b.String()), " "); got != strings.Join(strings.Fields(long+" short second line "+long), " ") {
		t.Errorf("words changed: %q", got)
	}
	b.Reset()
	Note(&b, "x\n"+strings.Repeat(" ", 85)+"\t") // no panic on a long line of blanks
	if b.String() != "x\n\n" {
		t.Errorf("blanks: %q", b.String())
	}
}
