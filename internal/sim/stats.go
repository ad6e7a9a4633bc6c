package sim

import (
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// depStats is a deployment's ground truth, guarded by deployment.mu.
type depStats struct {
	Accepted, Failed, Invalid, Completed, Cut int64
	Spilled                                   int64 // throttled here and served by the spillover deployment
	Throttled                                 map[string]int64
	PromptTokens, CompletionTokens            int64
	CachedTokens                              int64
	ToolCalls, Structured                     int64         // completed answers of these kinds
	Images, ImageTokens                       int64         // of completed requests
	timing                                    *metrics.Hist // write time minus due time, per chunk
	classes                                   map[string]*classStats
}

func newDepStats() depStats {
	return depStats{Throttled: map[string]int64{}, timing: metrics.NewDurations(), classes: map[string]*classStats{}}
}

// classStats are the timings of the completed requests of one shape.
type classStats struct {
	prompt, output int
	answer         string // "" (text), "tool_call" or "structured"
	n              int64
	cfgTTFT, queue time.Duration // sums
	cfgTPOT        float64       // sum, seconds
	ttft, tpot     *metrics.Hist // measured at the server's writes
}

func newClassStats(prompt, output int) *classStats {
	return &classStats{prompt: prompt, output: output, ttft: metrics.NewDurations(), tpot: metrics.NewDurations()}
}

func (c *classStats) add(st *stream, ttft, queued time.Duration, first, last time.Time) {
	c.n++
	c.cfgTTFT += st.ttft
	c.queue += queued
	c.ttft.Add(ttft)
	c.cfgTPOT += time.Duration(st.d.cfg.ITL).Seconds() * st.itlScale
	// A tool call's first chunk (its name) comes one time per token
	// before its arguments' first.
	if gaps := st.output - 1 + st.lead; gaps >= 1 && !first.IsZero() {
		c.tpot.Add(last.Sub(first) / time.Duration(gaps))
	}
}

// Stats is the simulator's ground truth, served at GET /sim/stats.
type Stats struct {
	UptimeSeconds float64 `json:"uptime_s"`
	// FirstRequest is the wall-clock arrival of the first request, if any.
	FirstRequest *time.Time                 `json:"first_request,omitempty"`
	Deployments  map[string]DeploymentStats `json:"deployments"`
	// Tokens are the Microsoft Entra ID tokens issued, and the requests
	// refused for a token not issued or expired (with Identity).
	TokensIssued   int64 `json:"tokens_issued,omitempty"`
	TokensRejected int64 `json:"tokens_rejected,omitempty"`
}

// DeploymentStats is one deployment's ground truth.
type DeploymentStats struct {
	Model     string           `json:"model"`
	Type      string           `json:"type"`
	Accepted  int64            `json:"accepted"`
	Throttled map[string]int64 `json:"throttled"`
	Failed    int64            `json:"failed"`
	Invalid   int64            `json:"invalid"`
	Completed int64            `json:"completed"`
	Cut       int64            `json:"cut"`
	// Spilled counts requests this provisioned deployment passed to its
	// spillover deployment instead of throttling them.
	Spilled          int64 `json:"spilled,omitempty"`
	Active           int64 `json:"active"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// CachedTokens are the prompt tokens the prompt cache served.
	CachedTokens int64 `json:"cached_tokens"`
	// ToolCalls and Structured count the completed answers that were a
	// tool call, or structured (JSON asked by a response format); the
	// rest were text.
	ToolCalls  int64 `json:"tool_calls"`
	Structured int64 `json:"structured"`
	// Images and ImageTokens are the completed requests' images and the
	// prompt tokens they counted (in PromptTokens too).
	Images      int64 `json:"images"`
	ImageTokens int64 `json:"image_tokens"`
	// StreamedTokens counts output tokens as they are written.
	StreamedTokens int64 `json:"streamed_tokens"`
	// TimingError is how late each chunk was written after its due time,
	// in seconds.
	TimingError Figures                 `json:"timing_error"`
	Classes     map[string]ClassFigures `json:"classes"`
}

// Figures are a distribution's summary in seconds; NaN is written as null
// by using pointers.
type Figures struct {
	Count int64    `json:"count"`
	Mean  *float64 `json:"mean"`
	P50   *float64 `json:"p50"`
	P90   *float64 `json:"p90"`
	P99   *float64 `json:"p99"`
	Max   *float64 `json:"max"`
}

func figures(h *metrics.Hist) Figures {
	st := h.Stats()
	p := func(n metrics.Num) *float64 {
		v := n.F()
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	return Figures{Count: st.Count, Mean: p(st.Mean), P50: p(st.P50), P90: p(st.P90), P99: p(st.P99), Max: p(st.Max)}
}

// ClassFigures compare configured and produced timings for requests of one
// prompt and output size. Produced timings are measured at the server's
// writes: TTFT from the request's arrival to the first content write.
type ClassFigures struct {
	// Answer is the requests' answer kind when not text: "tool_call"
	// (OutputTokens are then its arguments' tokens; TTFT is at the
	// call's id and name) or "structured".
	Answer         string  `json:"answer,omitempty"`
	PromptTokens   int     `json:"prompt_tokens"`
	OutputTokens   int     `json:"output_tokens"`
	Count          int64   `json:"count"`
	TTFTConfigured float64 `json:"ttft_configured_mean"`
	QueueMean      float64 `json:"queue_mean"`
	TTFT           Figures `json:"ttft_actual"`
	TPOTConfigured float64 `json:"tpot_configured_mean"`
	TPOT           Figures `json:"tpot_actual"`
}

// Reset zeroes the ground truth (counters, tokens, timings), so that a
// measurement can leave out a ramp-up. Quota state is kept.
func (s *Server) Reset() {
	for _, d := range s.deps {
		d.mu.Lock()
		d.stats = newDepStats()
		d.streamed.Store(0)
		d.mu.Unlock()
	}
}

// Stats returns a snapshot of the ground truth.
func (s *Server) Stats() Stats {
	out := Stats{UptimeSeconds: time.Since(s.start).Seconds(), Deployments: map[string]DeploymentStats{}}
	if ns := s.first.Load(); ns != 0 {
		t := time.Unix(0, ns)
		out.FirstRequest = &t
	}
	if is := s.issuer; is != nil {
		is.mu.Lock()
		out.TokensIssued, out.TokensRejected = is.issued, is.rejected
		is.mu.Unlock()
	}
	for _, name := range s.names {
		d := s.deps[name]
		d.mu.Lock()
		x := &d.stats
		ds := DeploymentStats{
			Model: d.cfg.Model, Type: d.cfg.Type, Accepted: x.Accepted, Throttled: map[string]int64{},
			Failed: x.Failed, Invalid: x.Invalid, Completed: x.Completed, Cut: x.Cut, Spilled: x.Spilled, Active: d.run.Load(),
			PromptTokens: x.PromptTokens, CompletionTokens: x.CompletionTokens, CachedTokens: x.CachedTokens, StreamedTokens: d.streamed.Load(),
			ToolCalls: x.ToolCalls, Structured: x.Structured, Images: x.Images, ImageTokens: x.ImageTokens,
			TimingError: figures(x.timing), Classes: map[string]ClassFigures{},
		}
		for k, v := range x.Throttled {
			ds.Throttled[k] = v
		}
		for k, c := range x.classes {
			ds.Classes[k] = ClassFigures{
				Answer: c.answer, PromptTokens: c.prompt, OutputTokens: c.output, Count: c.n,
				TTFTConfigured: (c.cfgTTFT / time.Duration(c.n)).Seconds(), QueueMean: (c.queue / time.Duration(c.n)).Seconds(),
				TTFT: figures(c.ttft), TPOTConfigured: c.cfgTPOT / float64(c.n), TPOT: figures(c.tpot),
			}
		}
		d.mu.Unlock()
		out.Deployments[name] = ds
	}
	return out
}

// ThrottledTotal returns the total throttled requests of a stats snapshot.
func (d DeploymentStats) ThrottledTotal() int64 {
	var n int64
	for _, v := range d.Throttled {
		n += v
	}
	return n
}
