// Package scrape reads an inference server's own Prometheus metrics
// while a run goes (vLLM's vllm:*, SGLang's sglang:*, TGI's tgi_*), so
// that what the server says (its queue, its KV cache, its own TTFT) is
// kept next to what the client measured: their difference is the network
// and everything in front of the model.
package scrape

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Prefixes are the metric families kept: the inference servers' own.
func prefixes() []string { return []string{"vllm:", "sglang:", "tgi_"} }

// Sample is one scrape of one target: series (name{labels}) to value,
// at T seconds from the run's start. A line of server-metrics.jsonl.
type Sample struct {
	T      float64            `json:"t"`
	Target int                `json:"target"`
	Err    string             `json:"error,omitempty"`
	Series map[string]float64 `json:"series,omitempty"`
}

// Scraper scrapes its targets every interval until Stop.
type Scraper struct {
	// Model, when set, keeps the figures to the series labelled with it
	// (model_name, vLLM's; model) when a target labels any so.
	Model string

	targets  []string
	hc       *http.Client
	interval time.Duration
	start    time.Time
	out      *bufio.Writer // server-metrics.jsonl, or nil
	redact   func(string) string

	mu    sync.Mutex
	first []Sample // each target's first good scrape
	last  []Sample // and its last
	peak  []map[string]float64
	errs  []string
	err   error // writing the file

	stop chan struct{}
	done chan struct{}
}

// New returns a scraper of the targets (URLs of /metrics) that writes
// each scrape to out (nil: keeps only what the summary needs); redact
// clears secrets from error texts.
func New(targets []string, interval time.Duration, out io.Writer, redact func(string) string) *Scraper {
	s := &Scraper{targets: targets, interval: interval, redact: redact,
		// A redirect is not followed: it would take the URL's password
		// (as basic credentials) and the scrape to another host.
		hc:    &http.Client{Timeout: max(interval, time.Second), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		first: make([]Sample, len(targets)), last: make([]Sample, len(targets)),
		peak: make([]map[string]float64, len(targets)), errs: make([]string, len(targets))}
	if out != nil {
		s.out = bufio.NewWriter(out)
	}
	return s
}

// Start scrapes once now (the baseline the run's deltas start from) and
// then every interval, in the background.
func (s *Scraper) Start(start time.Time) {
	s.start = start
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.scrapeAll()
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.scrapeAll()
			}
		}
	}()
}

// Stop scrapes a last time and stops; it returns the error of writing
// the samples, if any.
func (s *Scraper) Stop() error {
	if s.stop == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	s.scrapeAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out != nil && s.err == nil {
		if err := s.out.Flush(); err != nil {
			s.err = fmt.Errorf("writing server-metrics.jsonl: %w", err)
		}
	}
	return s.err
}

func (s *Scraper) scrapeAll() {
	for i, u := range s.targets {
		smp := s.scrape(i, u)
		s.mu.Lock()
		if smp.Err == "" {
			if s.first[i].Series == nil {
				s.first[i] = smp
			}
			s.last[i] = smp
			if s.peak[i] == nil {
				s.peak[i] = map[string]float64{}
			}
			for k, v := range smp.Series {
				if p, ok := s.peak[i][k]; !ok || v > p {
					s.peak[i][k] = v
				}
			}
		} else if s.errs[i] == "" {
			s.errs[i] = smp.Err
		}
		if s.out != nil && s.err == nil {
			b, _ := json.Marshal(smp)
			if _, err := s.out.Write(append(b, '\n')); err != nil {
				s.err = fmt.Errorf("writing server-metrics.jsonl: %w", err)
			}
		}
		s.mu.Unlock()
	}
}

// scrape reads target i once.
func (s *Scraper) scrape(i int, u string) Sample {
	smp := Sample{T: math.Round(time.Since(s.start).Seconds()*1e3) / 1e3, Target: i}
	ctx, cancel := context.WithTimeout(context.Background(), s.hc.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		smp.Err = s.redact(err.Error())
		return smp
	}
	// The text format: a client_golang server would otherwise answer in
	// protobuf.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.hc.Do(req)
	if err != nil {
		smp.Err = s.redact(err.Error())
		return smp
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		smp.Err = fmt.Sprintf("%d %s: redirects are not followed (give the URL it points to)", resp.StatusCode, http.StatusText(resp.StatusCode))
		return smp
	}
	if resp.StatusCode != http.StatusOK {
		smp.Err = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		return smp
	}
	series, err := Parse(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		smp.Err = s.redact(err.Error())
		return smp
	}
	// Label values are the server's text, written to
	// server-metrics.jsonl: they go through the redactor as every
	// server's text does.
	for k, v := range series {
		if r := s.redact(k); r != k {
			delete(series, k)
			series[r] = v
		}
	}
	smp.Series = series
	return smp
}

// Parse reads Prometheus text and returns the inference servers' series:
// gauges and counters by name{labels}, histograms as their _bucket
// (with le), _sum and _count.
func Parse(r io.Reader) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := map[string]float64{}
	for name, mf := range fams {
		keep := false
		for _, pre := range prefixes() {
			keep = keep || strings.HasPrefix(name, pre)
		}
		if !keep {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := m.GetLabel()
			switch {
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				out[Series(name+"_sum", labels)] = h.GetSampleSum()
				out[Series(name+"_count", labels)] = float64(h.GetSampleCount())
				for _, b := range h.GetBucket() {
					le := &dto.LabelPair{Name: proto("le"), Value: proto(strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))}
					out[Series(name+"_bucket", append(slices.Clone(labels), le))] = float64(b.GetCumulativeCount())
				}
			case m.GetCounter() != nil:
				out[Series(name, labels)] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[Series(name, labels)] = m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				out[Series(name, labels)] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}

func proto(s string) *string { return &s }

// Series names a series: name{a="x",b="y"}, labels sorted.
func Series(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	slices.Sort(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Figures are what a target's metrics said over the run.
type Figures struct {
	Target string
	Err    string // the first scrape error, if any
	// Means over the run, from the deltas of the histograms' sums and
	// counts (NaN when the server has no such histogram), and how many
	// requests they are over.
	TTFT, ITL, E2E, Queue float64
	Requests              float64
	Of                    string // " of MODEL" when the figures are one model's
	// Peaks of the gauges.
	Running, Waiting, KVCache float64
}

// Figures returns each target's figures over the run.
func (s *Scraper) Figures() []Figures {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Figures
	for i := range s.targets {
		f := Figures{Target: s.redact(s.targets[i]), Err: s.errs[i], TTFT: math.NaN(), ITL: math.NaN(), E2E: math.NaN(), Queue: math.NaN(),
			Running: math.NaN(), Waiting: math.NaN(), KVCache: math.NaN()}
		a, b := s.first[i].Series, s.last[i].Series
		pk := s.peak[i]
		if s.Model != "" && labelled(b, s.Model) {
			a, b, pk = only(a, s.Model), only(b, s.Model), only(pk, s.Model)
			f.Of = " of " + s.Model
		}
		mean := func(hist string) (float64, float64) {
			sum, n := delta(a, b, hist+"_sum"), delta(a, b, hist+"_count")
			if n > 0 {
				return sum / n, n
			}
			return math.NaN(), 0
		}
		f.TTFT, f.Requests = mean("vllm:time_to_first_token_seconds")
		if math.IsNaN(f.TTFT) {
			f.TTFT, f.Requests = mean("sglang:time_to_first_token_seconds")
		}
		f.ITL, _ = mean("vllm:inter_token_latency_seconds")
		f.E2E, _ = mean("vllm:e2e_request_latency_seconds")
		f.Queue, _ = mean("vllm:request_queue_time_seconds")
		f.Running = peak(pk, "vllm:num_requests_running", "sglang:num_running_reqs", "tgi_batch_current_size")
		f.Waiting = peak(pk, "vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size")
		f.KVCache = peak(pk, "vllm:kv_cache_usage_perc", "sglang:token_usage")
		out = append(out, f)
	}
	return out
}

// modelLabels are the labels servers name a model by.
func modelLabels(model string) []string {
	q := strconv.Quote(model)
	return []string{"model_name=" + q, "model=" + q}
}

// labelled reports whether any series is labelled with the model.
func labelled(series map[string]float64, model string) bool {
	for k := range series {
		for _, l := range modelLabels(model) {
			if strings.Contains(k, l) {
				return true
			}
		}
	}
	return false
}

// only keeps the series labelled with the model.
func only(series map[string]float64, model string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range series {
		for _, l := range modelLabels(model) {
			if strings.Contains(k, l) {
				out[k] = v
				break
			}
		}
	}
	return out
}

// Sum adds up the series of the first of the families (any labels) that
// the scrape has, histogram buckets left out, and says whether it had
// one.
func Sum(series map[string]float64, families ...string) (float64, bool) {
	for _, name := range families {
		v, found := 0.0, false
		for k, x := range series {
			if (k == name || strings.HasPrefix(k, name+"{")) && !strings.Contains(k, `le="`) {
				v, found = v+x, true
			}
		}
		if found {
			return v, true
		}
	}
	return 0, false
}

// delta is a family's change from scrape a to scrape b.
func delta(a, b map[string]float64, name string) float64 {
	x, _ := Sum(a, name)
	y, _ := Sum(b, name)
	return y - x
}

// peak is the first present family's peaks (of each series) added up.
func peak(p map[string]float64, names ...string) float64 {
	if v, ok := Sum(p, names...); ok {
		return v
	}
	return math.NaN()
}
