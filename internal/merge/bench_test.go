package merge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// writeShards writes the n shards of a run of n·count requests at 60,000
// RPM into dir/shard-i, as the run's own writer would (records through
// sink.RecordLine, the summary and histograms through metrics.Summary),
// without running it: a million records in seconds. Every 50th request is
// throttled. It returns the directories and a merge's now.
func writeShards(tb testing.TB, dir string, n, count int) ([]string, time.Time) {
	tb.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rate := 60000.0
	p := plan.Plan{
		Schema:   plan.Version,
		Target:   plan.Target{URL: "http://127.0.0.1:1", API: "azure", Deployment: "d", Model: "gpt-4o-mini", APIVersion: "2024-10-21"},
		Workload: plan.Workload{Shape: "custom", ContextTokens: 50, MaxTokens: 10, Completions: 1, Seed: 7},
		Load: plan.Load{Rate: &rate, Requests: int64(n * count), Clients: 1000, RequestTimeout: plan.Duration(time.Minute),
			DrainTimeout: plan.Duration(time.Minute), Retry: "none", StartAt: start.Format(time.RFC3339Nano)},
		Output: plan.Output{Format: "jsonl", Window: plan.Duration(time.Minute)},
	}
	var dirs []string
	ms := time.Millisecond
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		f, err := os.Create(filepath.Join(d, "requests.jsonl"))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<16)
		sum := metrics.NewSummary(metrics.SLO{})
		var line []byte
		for k := range count {
			id := int64(k*n + i)
			r := metrics.NewRecord(id, start.Add(time.Duration(id)*ms))
			r.Headers.RequestID = fmt.Sprintf("6a4ad749-6dad-e129-84f2-%012d", id)
			r.Region, r.Deployment, r.Proto, r.Attempts = "East US", "d", "HTTP/1.1", 1
			r.RemainingRequests, r.RemainingTokens, r.LimitRequests, r.LimitTokens = 1000, 200000, 1200, 200000
			r.Send = r.Sched.Add(80 * time.Microsecond)
			r.Hdr = r.Send.Add(ms)
			r.ClientPrompt, r.MaxTokens = 50, 10
			if id%50 == 0 {
				r.Class, r.Status, r.Throttles, r.End = metrics.Throttled, 429, 1, r.Hdr
				r.Err, r.RetryAfter = "429 Too Many Requests", time.Second
			} else {
				// 150 ms and some to the first token, then 9 more 10 ms apart.
				r.Class, r.Status, r.Finish = metrics.OK, 200, "length"
				r.First = r.Send.Add(150*ms + time.Duration(id%97)*100*time.Microsecond)
				r.Last, r.End = r.First.Add(90*ms), r.First.Add(91*ms)
				r.FirstContent = r.First
				r.ServerPrompt, r.ServerOutput, r.ServerCached, r.ClientOutput, r.Visible, r.Events = 50, 10, 0, 10, 10, 10
				r.Choices = []metrics.Choice{{First: r.First, Last: r.Last, Tokens: 10}}
				for e := range 9 {
					r.Gaps = append(r.Gaps, metrics.Gap{D: 10*ms + time.Duration(e)*time.Microsecond, Tokens: 1})
					r.Chunks = append(r.Chunks, 10*ms)
				}
			}
			sum.Add(r)
			line = sink.RecordLine(line[:0], r, start)
			if _, err := w.Write(line); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		f.Close()
		res := sum.Results(metrics.Info{Start: start, Window: time.Duration(count*n+i) * ms, Stopped: "requests",
			Offered: rate / float64(n), Sent: int64(count)})
		res.Shard = &metrics.ShardResults{Index: i, Count: n, StartAt: p.Load.StartAt}
		hf, err := sum.HistFile()
		if err != nil {
			tb.Fatal(err)
		}
		q := p
		q.Load.Shard, q.Output.Dir = &plan.Shard{Index: i, Count: n}, d
		for name, v := range map[string]any{
			"summary.json":    res,
			"histograms.json": hf,
			"run.json":        plan.RunFile{Plan: q, Tool: "aoaibench", Version: "test", Start: p.Load.StartAt},
		} {
			js, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, name), js, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
		dirs = append(dirs, d)
	}
	return dirs, start.Add(time.Duration(n*count)*ms + time.Minute)
}

// TestWrittenShards: the benchmark's shards are shards the merge takes,
// with the figures made.
func TestWrittenShards(t *testing.T) {
	t.Parallel()
	dirs, now := writeShards(t, t.TempDir(), 3, 1000)
	o, err := mergeAt(dirs, filepath.Join(t.TempDir(), "m"), now)
	if err != nil {
		t.Fatal(err)
	}
	if q := o.Results.Requests; o.Records != 3000 || q.Sent != 3000 || q.Throttled != 60 || q.OK != 2940 || !o.Results.Valid {
		t.Errorf("%d records: %+v, valid %v %v", o.Records, q, o.Results.Valid, o.Results.Invalid)
	}
}

// BenchmarkMerge merges 4 shards of 250,000 records each, a million
// records (made once, before the clock starts). Besides the time, it
// reports the process's peak RSS during each merge (Linux: the peak is
// reset before it), in MB.
//
//	go test -run '^$' -bench Merge -benchtime 3x ./internal/merge/
func BenchmarkMerge(b *testing.B) {
	dir := b.TempDir()
	dirs, now := writeShards(b, dir, 4, 250_000)
	peak := 0.0
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(dir, "merged-"+strconv.Itoa(i))
		b.StopTimer()
		resetPeak()
		b.StartTimer()
		o, err := mergeAt(dirs, out, now)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if o.Records != 1_000_000 {
			b.Fatalf("%d records", o.Records)
		}
		peak = max(peak, peakRSS())
		os.RemoveAll(out)
		b.StartTimer()
	}
	if peak > 0 {
		b.ReportMetric(peak, "peak-RSS-MB")
	}
}

// resetPeak frees what the heap holds and resets the process's peak RSS
// (Linux: /proc/self/clear_refs).
func resetPeak() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's peak RSS since resetPeak, in MB (0 where
// /proc does not say).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(l, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseFloat(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkRecordLine reads a record line with the merge's scanner and,
// for comparison, with encoding/json into a struct of the keys the merge
// reads (which is less than the scanner does: encoding/json matches keys
// without regard to case and takes a key twice). The scanner is there
// because it is the faster by far; this shows by how much.
//
//	go test -run '^$' -bench RecordLine -benchmem ./internal/merge/
func BenchmarkRecordLine(b *testing.B) {
	dirs, _ := writeShards(b, b.TempDir(), 1, 1000)
	data, err := os.ReadFile(filepath.Join(dirs[0], "requests.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	b.Run("scanner", func(b *testing.B) {
		var r rec
		for i := 0; b.Loop(); i++ {
			if err := r.parse(lines[i%len(lines)], false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			var v struct {
				ID            int64    `json:"id"`
				Class         string   `json:"class"`
				Warmup        bool     `json:"warmup"`
				Proto         *string  `json:"proto"`
				Attempts      *int64   `json:"attempts"`
				Throttles     *int64   `json:"throttles"`
				NewConns      *int64   `json:"new_conns"`
				Prompt        *int64   `json:"prompt_tokens"`
				Output        *int64   `json:"output_tokens"`
				Visible       *int64   `json:"visible_tokens"`
				Quota         *int64   `json:"quota_tokens"`
				Reasoning     *int64   `json:"reasoning_tokens"`
				Cached        *int64   `json:"cached_tokens"`
				Choices       *int64   `json:"choices"`
				Events        *int64   `json:"events"`
				Sched         *float64 `json:"sched"`
				Send          *float64 `json:"send"`
				End           *float64 `json:"end"`
				Lag           *float64 `json:"lag"`
				Headers       *float64 `json:"headers"`
				TTFT          *float64 `json:"ttft"`
				TTFTSched     *float64 `json:"ttft_sched"`
				TPOT          *float64 `json:"tpot"`
				E2E           *float64 `json:"e2e"`
				E2ESched      *float64 `json:"e2e_sched"`
				TTFTContent   *float64 `json:"ttft_content"`
				TTFTReasoning *float64 `json:"ttft_reasoning"`
			}
			if err := json.Unmarshal(lines[i%len(lines)], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
