package sim

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The simulator's /metrics speaks vLLM's names (model_name is the
// deployment), so that a tool that scrapes an inference server's own
// figures, aoaibench's --server-metrics among them, works against it
// without a GPU. The histograms use vLLM's buckets; their sums are exact,
// so a mean over any span (the sums' and counts' deltas) is the
// simulator's own.

// vllmMetrics are one deployment's observers.
type vllmMetrics struct {
	ttft, itl, e2e, queue     prometheus.Observer
	prompt, generation        prometheus.Counter
	cacheQueries, cacheHits   prometheus.Counter
	successStop, successLimit prometheus.Counter
}

// newMetrics registers the simulator's metrics; each deployment gets its
// observers in d.prom.
func (s *Server) newMetrics() {
	reg := prometheus.NewRegistry()
	s.reg = reg
	labels := []string{"model_name"}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		reg.MustRegister(h)
		return h
	}
	counter := func(name, help string, extra ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append(labels, extra...))
		reg.MustRegister(c)
		return c
	}
	ttft := hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
		[]float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0})
	itl := hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
		[]float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0})
	e2e := hist("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.",
		[]float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0})
	queue := hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
		[]float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0})
	prompt := counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	gen := counter("vllm:generation_tokens_total", "Number of generation tokens processed.")
	queries := counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.")
	hits := counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.")
	success := counter("vllm:request_success_total", "Count of successfully processed requests.", "finished_reason")
	for _, name := range s.names {
		d := s.deps[name]
		d.prom = vllmMetrics{
			ttft: ttft.WithLabelValues(name), itl: itl.WithLabelValues(name), e2e: e2e.WithLabelValues(name), queue: queue.WithLabelValues(name),
			prompt: prompt.WithLabelValues(name), generation: gen.WithLabelValues(name),
			cacheQueries: queries.WithLabelValues(name), cacheHits: hits.WithLabelValues(name),
			successStop: success.WithLabelValues(name, "stop"), successLimit: success.WithLabelValues(name, "length"),
		}
		gauge := func(metric, help string, f func() float64) {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metric, Help: help,
				ConstLabels: prometheus.Labels{"model_name": name}}, f))
		}
		gauge("vllm:num_requests_running", "Number of requests in model execution batches.", func() float64 { return float64(d.run.Load()) })
		gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", func() float64 { return float64(d.waiting.Load()) })
		gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", func() float64 {
			if d.cfg.MaxConcurrency <= 0 {
				return 0
			}
			return min(float64(d.run.Load())/float64(d.cfg.MaxConcurrency), 1)
		})
	}
}

// metricsHandler serves /metrics. The first scrape turns the per-chunk
// and per-request observations on: until someone reads them, the
// simulator's clock does not pay for them (a chunk's write is its hot
// path), and the figures count from the first scrape, as a delta does.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.scraped.Store(true)
		h.ServeHTTP(w, r)
	})
}
