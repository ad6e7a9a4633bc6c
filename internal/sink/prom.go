package sink

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// Prom keeps a run's live figures as Prometheus metrics, named
// aoaibench_*, in a registry of its own, for --metrics-listen: a Grafana
// dashboard watches a long or sharded run as it goes. It counts what the
// summary counts (warmup left out): when the run ends, each histogram's
// count equals the summary's count of the same figure.
type Prom struct {
	reg                      *prometheus.Registry
	requests                 *prometheus.CounterVec
	tokens                   *prometheus.CounterVec
	attempts, throttles      prometheus.Counter
	inflight, offered        prometheus.Gauge
	ttft, tpot, e2e, lag, hd prometheus.Histogram
}

// NewProm returns the metrics of one run; labels (a shard's index) go on
// every series.
func NewProm(labels prometheus.Labels) *Prom {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	hist := func(name, help string, lo, hi float64, n int) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "aoaibench_" + name, Help: help, ConstLabels: labels,
			Buckets: prometheus.ExponentialBucketsRange(lo, hi, n),
			// Native histograms too, for a Prometheus that takes them:
			// buckets 10% apart, exact enough for percentiles.
			NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 160,
		})
		f(h)
		return h
	}
	p := &Prom{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aoaibench_requests_total", ConstLabels: labels,
			Help: "Requests ended, by class: ok, throttled, http, timeout, connection, stream, incomplete."}, []string{"class"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aoaibench_tokens_total", ConstLabels: labels,
			Help: "Tokens of successful requests: prompt, output (hidden reasoning included), cached (prompt tokens the cache served)."}, []string{"kind"}),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{Name: "aoaibench_attempts_total", ConstLabels: labels,
			Help: "Attempts of ended requests, retries included."}),
		throttles: prometheus.NewCounter(prometheus.CounterOpts{Name: "aoaibench_throttled_attempts_total", ConstLabels: labels,
			Help: "Attempts answered 429, retried or not."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aoaibench_requests_in_flight", ConstLabels: labels,
			Help: "Requests sent and not yet ended."}),
		offered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aoaibench_offered_rpm", ConstLabels: labels,
			Help: "The schedule's rate now, in requests per minute (NaN for a closed loop)."}),
	}
	f(p.requests)
	f(p.tokens)
	f(p.attempts)
	f(p.throttles)
	f(p.inflight)
	f(p.offered)
	p.ttft = hist("ttft_seconds", "Time to first token of successful requests.", 0.005, 120, 40)
	p.tpot = hist("tpot_seconds", "Time per output token, one sample per choice.", 0.0001, 5, 40)
	p.e2e = hist("e2e_seconds", "Send to end of successful requests.", 0.005, 1200, 40)
	p.lag = hist("schedule_lag_seconds", "How late requests left against their schedule.", 0.00001, 60, 40)
	p.hd = hist("headers_seconds", "Send to the response's headers.", 0.0001, 120, 40)
	return p
}

// ShardLabels are the labels of shard i of n: none for an undivided run.
func ShardLabels(i, n int) prometheus.Labels {
	if n <= 1 {
		return nil
	}
	return prometheus.Labels{"shard": strconv.Itoa(i), "shards": strconv.Itoa(n)}
}

// Handler serves the metrics in Prometheus' exposition formats.
func (p *Prom) Handler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg})
}

// Registry is the metrics' registry (tests gather from it).
func (p *Prom) Registry() *prometheus.Registry { return p.reg }

// Sink returns the sink that keeps the metrics.
func (p *Prom) Sink() Sink {
	obs := func(h prometheus.Histogram, figure func() (time.Duration, bool)) {
		if d, ok := figure(); ok {
			h.Observe(max(d, 0).Seconds())
		}
	}
	return Sink{
		Record: func(r *metrics.Record) {
			if r.Warmup {
				return
			}
			p.requests.WithLabelValues(string(r.Class)).Inc()
			p.attempts.Add(float64(r.Attempts))
			p.throttles.Add(float64(r.Throttles))
			obs(p.lag, r.Lag)
			obs(p.hd, r.HeadersTime)
			if r.Class != metrics.OK {
				return
			}
			p.tokens.WithLabelValues("prompt").Add(float64(r.PromptTokens()))
			p.tokens.WithLabelValues("output").Add(float64(r.OutputTokens()))
			p.tokens.WithLabelValues("cached").Add(float64(max(r.ServerCached, 0)))
			obs(p.ttft, r.TTFT)
			obs(p.e2e, r.E2E)
			r.ChoiceTPOTs(func(d time.Duration) { p.tpot.Observe(d.Seconds()) })
		},
		Tick: func(t Tick) {
			p.inflight.Set(float64(t.Processing))
			p.offered.Set(t.Offered)
		},
	}
}
