package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/scrape"
)

// readServer reads server-metrics.jsonl (--server-metrics), if the run
// has one: the first target's scrapes.
func (r *Run) readServer(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // none
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		var s scrape.Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return plan.Errorf("%s:%d: %v", path, line, err)
		}
		if s.Target != 0 || s.Err != "" {
			continue
		}
		var c checker
		c.must("t", s.T, kTime)
		// Sorted, so that the first problem reported is the same each time.
		names := make([]string, 0, len(s.Series))
		for name := range s.Series {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			c.must("series."+name, s.Series[name], kFigure)
		}
		if err := c.err(path, line); err != nil {
			return err
		}
		r.Server = append(r.Server, s)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// serverCharts set what the servers said beside what the clients saw:
// requests running and waiting, the KV cache, and TTFT by the server's
// histogram (its mean between scrapes) against the client's.
func serverCharts(runs []*Run, ts []timeSeries, color func(int) string) []string {
	var load, kv, ttft []series
	any := false
	for i, r := range runs {
		if len(r.Server) == 0 {
			continue
		}
		any = true
		var run, wait, cache, mean []pt
		for k, s := range r.Server {
			if v, ok := scrape.Sum(s.Series, "vllm:num_requests_running", "sglang:num_running_reqs", "tgi_batch_current_size"); ok {
				run = append(run, pt{s.T, v})
			}
			if v, ok := scrape.Sum(s.Series, "vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size"); ok {
				wait = append(wait, pt{s.T, v})
			}
			if v, ok := scrape.Sum(s.Series, "vllm:kv_cache_usage_perc", "sglang:token_usage"); ok {
				cache = append(cache, pt{s.T, 100 * v})
			}
			if k == 0 {
				continue
			}
			prev := r.Server[k-1].Series
			s1, ok1 := scrape.Sum(s.Series, "vllm:time_to_first_token_seconds_sum", "sglang:time_to_first_token_seconds_sum")
			s0, _ := scrape.Sum(prev, "vllm:time_to_first_token_seconds_sum", "sglang:time_to_first_token_seconds_sum")
			c1, _ := scrape.Sum(s.Series, "vllm:time_to_first_token_seconds_count", "sglang:time_to_first_token_seconds_count")
			c0, _ := scrape.Sum(prev, "vllm:time_to_first_token_seconds_count", "sglang:time_to_first_token_seconds_count")
			if ok1 && c1 > c0 {
				mean = append(mean, pt{s.T, 1e3 * (s1 - s0) / (c1 - c0)})
			}
		}
		load = append(load, series{name: r.Name + " running", color: color(i), pts: run},
			series{name: r.Name + " waiting", color: color(i), dashed: true, pts: wait})
		kv = append(kv, series{name: r.Name, color: color(i), pts: cache})
		ttft = append(ttft, series{name: r.Name + " client (avg)", color: color(i), pts: ts[i].ttftAvg},
			series{name: r.Name + " server (its histogram, mean between scrapes)", color: color(i), dashed: true, pts: mean})
	}
	if !any {
		return nil
	}
	sec := "run seconds"
	return []string{
		chart("Server: requests running and waiting", sec, "requests", load),
		draw(spec{title: "Server: KV cache in use", xlab: sec, ylab: "percent", yMax: 100, ss: kv}),
		chart("TTFT: the client's (by send time) and the server's own", sec, "ms", ttft),
	}
}
