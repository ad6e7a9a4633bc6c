package run

import (
	"bytes"
	"testing"

	"github.com/aoaibench/aoaibench/internal/traffic"
)

// TestShardSource: shard i of n sends the single run's requests i, i+n,
// ... prompt for prompt, from a source read in order (random draws) and
// from the fixed shape's random-access builder alike.
func TestShardSource(t *testing.T) {
	dist := traffic.Dist{Mean: 300, Stdev: 100, Min: 50, Max: 900}
	out := traffic.Dist{Mean: 50}
	newSyn := func() traffic.Source {
		s, err := traffic.NewSynthetic(dist, out, 0, 0, 42)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	newFixed := func() traffic.Source {
		b, err := traffic.New(traffic.Spec{Context: 200, MaxTokens: 20, Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var p traffic.Params
	for name, mk := range map[string]func() traffic.Source{"synthetic": newSyn, "fixed": newFixed} {
		one := mk()
		var want [][]byte
		for k := range int64(12) {
			it, _ := one.Next(k, nil)
			want = append(want, p.Body(nil, it, true))
		}
		const n = 3
		for i := range n {
			s := &shardSource{src: mk(), i: int64(i), n: n}
			for k := range int64(4) {
				it, err := s.Next(k, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := p.Body(nil, it, true); !bytes.Equal(got, want[k*n+int64(i)]) {
					t.Fatalf("%s: shard %d request %d is not request %d of the single run", name, i, k, k*n+int64(i))
				}
			}
		}
	}
}
