package size

import (
	"slices"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// Latency is the generation time the model's latency target implies for
// the workload's output lengths: 99% of requests generate at least
// latency_tps tokens a second, so these are the times they stay under.
type Latency struct {
	LatencyTPS      float64 `json:"latency_tps"`
	OutputTokensP50 int     `json:"output_tokens_p50"`
	OutputTokensP95 int     `json:"output_tokens_p95"`
	OutputTokensMax int     `json:"output_tokens_max"`
	P50Seconds      float64 `json:"p50_seconds"`
	P95Seconds      float64 `json:"p95_seconds"`
	MaxSeconds      float64 `json:"max_seconds"`
}

func latency(reqs []Request, m ptu.Model) Latency {
	out := make([]int32, len(reqs))
	for i, r := range reqs {
		out[i] = r.Output
	}
	slices.Sort(out)
	q := func(p float64) int {
		i := min(int(p*float64(len(out))), len(out)-1)
		return int(out[i])
	}
	l := Latency{LatencyTPS: m.LatencyTPS, OutputTokensP50: q(0.5), OutputTokensP95: q(0.95), OutputTokensMax: int(out[len(out)-1])}
	l.P50Seconds = round(float64(l.OutputTokensP50)/m.LatencyTPS, 3)
	l.P95Seconds = round(float64(l.OutputTokensP95)/m.LatencyTPS, 3)
	l.MaxSeconds = round(float64(l.OutputTokensMax)/m.LatencyTPS, 3)
	return l
}
