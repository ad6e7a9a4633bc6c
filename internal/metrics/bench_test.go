package metrics

import (
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// BenchmarkDerive derives the record of a typical streamed answer: 50
// events of one word each, with the server's usage. It is work every
// request pays once its stream ends.
func BenchmarkDerive(b *testing.B) {
	tok, err := tokenizer.Get(tokenizer.O200k)
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]ev, 50)
	for i := range evs {
		evs[i] = ev{0, Content, " word", 20 * time.Millisecond}
	}
	u := NoUsage
	u.Prompt, u.Completion = 42, 50
	w := wireOf(evs, u)
	r := NewRecord(0, t0)
	r.Derive(w, tok, false) // the tokenizer's tables, once
	b.ReportAllocs()
	for b.Loop() {
		r.Derive(w, tok, false)
	}
}
