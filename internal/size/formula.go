package size

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// Formula is Azure's published sizing method applied to the input.
type Formula struct {
	// PeakRPM is the most requests in any 60-s window; PeakAt when that
	// window starts, in seconds from the input's start.
	PeakRPM         int     `json:"peak_rpm"`
	PeakAt          float64 `json:"peak_at_seconds"`
	AvgPromptTokens float64 `json:"avg_prompt_tokens"`
	AvgOutputTokens float64 `json:"avg_output_tokens"`
	// CacheRate is the share of prompt tokens served from the cache.
	CacheRate     float64 `json:"cache_rate"`
	NormalizedTPM float64 `json:"normalized_tpm"`
	PTUExact      float64 `json:"ptu_exact"`
	PTU           int     `json:"ptu"`
}

// formula applies Azure's method: the peak minute's requests at the mean
// lengths.
func formula(reqs []Request, m ptu.Model, t ptu.Type) Formula {
	var f Formula
	var prompt, cached, output float64
	for _, r := range reqs {
		prompt += float64(r.Prompt)
		cached += float64(r.Cached)
		output += float64(r.Output)
	}
	n := float64(len(reqs))
	f.AvgPromptTokens, f.AvgOutputTokens = prompt/n, output/n
	if prompt > 0 {
		f.CacheRate = cached / prompt
	}
	peak, start := busiest(reqs, time.Minute)
	f.PeakRPM, f.PeakAt = peak, time.Duration(start).Seconds()
	e := m.Formula(ptu.Workload{PeakRPM: float64(peak), AvgPrompt: f.AvgPromptTokens, AvgOutput: f.AvgOutputTokens, CacheRate: f.CacheRate}, t)
	f.NormalizedTPM, f.PTUExact, f.PTU = e.NormalizedTPM, e.Exact, e.PTU
	return f
}

// busiest returns the most requests arriving in any window of length w
// (sorted requests), and when the first such window starts.
func busiest(reqs []Request, w time.Duration) (most int, start int64) {
	j := 0
	for i := range reqs {
		for j < len(reqs) && reqs[j].At < reqs[i].At+int64(w) {
			j++
		}
		if j-i > most {
			most, start = j-i, reqs[i].At
		}
	}
	return most, start
}
