package size

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// dayOfRequests makes n requests over a day: Poisson arrivals, lengths
// spread as production's, max_tokens above the outputs.
func dayOfRequests(n int) []Request {
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]Request, n)
	gap := float64(24*time.Hour) / float64(n)
	t := 0.0
	for i := range reqs {
		t += rng.ExpFloat64() * gap
		out := int32(1 + rng.IntN(400))
		reqs[i] = Request{At: int64(t), Prompt: int32(100 + rng.IntN(2000)), Output: out, MaxTokens: out + int32(rng.IntN(500))}
	}
	return reqs
}

// BenchmarkReplay replays a million requests at one PTU count: a size
// answer replays a dozen or so.
func BenchmarkReplay(b *testing.B) {
	m, _ := ptu.Default().Lookup("gpt-4o")
	reqs := dayOfRequests(1_000_000)
	s := newSearch(reqs, m, ptu.Global, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		replay(reqs, m, 100, s.units, 0)
	}
}
