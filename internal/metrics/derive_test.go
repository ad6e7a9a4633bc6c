package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// wire builds a Wire from events of (choice, text, gap after the previous
// event), all starting at t0 + 100 ms.
type ev struct {
	choice int
	kind   Kind
	text   string
	gap    time.Duration
}

func wireOf(evs []ev, usage Usage) *Wire {
	w := &Wire{}
	w.Reset()
	w.Send, w.Class, w.Usage = t0, OK, usage
	at := t0.Add(100 * time.Millisecond)
	for _, e := range evs {
		at = at.Add(e.gap)
		w.Grow(e.choice)
		w.Text[e.choice] = append(w.Text[e.choice], e.text...)
		w.Events = append(w.Events, Event{At: at, Choice: int32(e.choice), Kinds: Kinds(0).With(e.kind), End: int32(len(w.Text[e.choice])), Usage: -1})
	}
	w.End = at
	return w
}

func o200k(t *testing.T) *tokenizer.Tokenizer {
	tok, err := tokenizer.Get(tokenizer.O200k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOneTokenPerEvent is a vLLM-style stream: one token per event, each
// event's text with a trailing space ("The " alone is two tokens). Tokens
// per event come from the whole text's token boundaries, so each gap is one
// token and ITL is the true gap.
func TestOneTokenPerEvent(t *testing.T) {
	t.Parallel()
	words := []string{"The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog."}
	var evs []ev
	for i, w := range words {
		gap := 20800 * time.Microsecond
		if i == 0 {
			gap = 0
		}
		evs = append(evs, ev{0, Content, w, gap})
	}
	r := NewRecord(0, t0)
	u := NoUsage
	u.Completion = len(words)
	r.Derive(wireOf(evs, u), o200k(t), false)
	if len(r.Gaps) != len(words)-1 {
		t.Fatalf("%d gaps, want %d: %v", len(r.Gaps), len(words)-1, r.Gaps)
	}
	var tokens float64
	for _, g := range r.Gaps {
		tokens += g.Tokens
		if g.Tokens != 1 || g.D != 20800*time.Microsecond {
			t.Errorf("gap %v, want 20.8ms for 1 token", g)
		}
	}
	if d, _ := r.TPOT(); d != 20800*time.Microsecond {
		t.Errorf("TPOT %v", d)
	}
	s := NewSummary(SLO{})
	s.Add(r)
	if s.Hist("itl").Count() != int64(len(words)-1) {
		t.Errorf("ITL samples %d, want %d (one per gap)", s.Hist("itl").Count(), len(words)-1)
	}
	// Without usage the client's count is the total.
	r = NewRecord(0, t0)
	r.Derive(wireOf(evs, NoUsage), o200k(t), false)
	if r.ClientOutput != r.Visible || r.Visible < len(words) {
		t.Errorf("client %d visible %d", r.ClientOutput, r.Visible)
	}
}

// TestChoicesTimedApart: n=2 with choices interleaved, 18.9 ms per token
// each. Merged, the events would be 9.45 ms apart.
func TestChoicesTimedApart(t *testing.T) {
	t.Parallel()
	var evs []ev
	for i := range 20 {
		gap := 9450 * time.Microsecond
		if i == 0 {
			gap = 0
		}
		evs = append(evs, ev{i % 2, Content, " time", gap})
	}
	r := NewRecord(0, t0)
	u := NoUsage
	u.Completion = 20
	r.Derive(wireOf(evs, u), o200k(t), false)
	if len(r.Choices) != 2 || r.Choices[0].Tokens != 10 || r.Choices[1].Tokens != 10 {
		t.Fatalf("choices %+v", r.Choices)
	}
	if d, _ := r.TPOT(); d != 18900*time.Microsecond {
		t.Errorf("TPOT %v, want 18.9ms", d)
	}
	s := NewSummary(SLO{})
	s.Add(r)
	if s.Hist("tpot").Count() != 2 || s.Hist("itl").Count() != 18 {
		t.Errorf("TPOT samples %d (one per choice), ITL %d", s.Hist("tpot").Count(), s.Hist("itl").Count())
	}
	if p := s.Hist("itl").Quantile(50); p < 0.0188 || p > 0.0190 {
		t.Errorf("ITL p50 %v", p)
	}
	if ttft, _ := r.TTFT(); ttft != 100*time.Millisecond {
		t.Errorf("TTFT %v (first output of any choice)", ttft)
	}
}

// TestHiddenReasoning: a reasoning model reports 256 hidden reasoning
// tokens in completion_tokens; TPOT uses the 44 streamed tokens, and the
// client's 44 are no mismatch.
func TestHiddenReasoning(t *testing.T) {
	t.Parallel()
	var evs []ev
	for i := range 44 {
		gap := 10 * time.Millisecond
		if i == 0 {
			gap = 0
		}
		evs = append(evs, ev{0, Content, " time", gap})
	}
	u := Usage{Prompt: 20, Completion: 300, Reasoning: 256, Cached: 0}
	r := NewRecord(0, t0)
	r.Derive(wireOf(evs, u), o200k(t), false)
	if r.Visible != 44 || r.OutputTokens() != 300 || r.ServerReasoning != 256 {
		t.Fatalf("visible %d output %d reasoning %d", r.Visible, r.OutputTokens(), r.ServerReasoning)
	}
	if d, _ := r.TPOT(); d != 10*time.Millisecond {
		t.Errorf("TPOT %v, want 10ms", d)
	}
	if diff, both := r.TokenMismatch(); !both || diff != 0 {
		t.Errorf("mismatch %d %v", diff, both)
	}
	// Streamed reasoning is visible output: both first times are kept.
	evs = append([]ev{{0, Reasoning, " think", 0}, {0, Reasoning, " more", 50 * time.Millisecond}}, evs...)
	evs[2].gap = 30 * time.Millisecond
	u.Completion, u.Reasoning = 46, 2
	r = NewRecord(0, t0)
	r.Derive(wireOf(evs, u), o200k(t), false)
	if r.Visible != 46 {
		t.Errorf("visible %d with streamed reasoning", r.Visible)
	}
	if d, _ := r.TTFTReasoning(); d != 100*time.Millisecond {
		t.Errorf("time to reasoning %v", d)
	}
	if d, _ := r.TTFTContent(); d != 180*time.Millisecond {
		t.Errorf("time to content %v", d)
	}
}

// TestGapPassedOn: an event that completes no token (half a word) passes
// its gap to the next.
func TestGapPassedOn(t *testing.T) {
	t.Parallel()
	evs := []ev{{0, Content, "Hello", 0}, {0, Content, " wor", 10 * time.Millisecond}, {0, Content, "ld", 10 * time.Millisecond}}
	r := NewRecord(0, t0)
	r.Derive(wireOf(evs, NoUsage), o200k(t), false)
	if r.ClientOutput != 2 || len(r.Gaps) != 1 || r.Gaps[0] != (Gap{20 * time.Millisecond, 1}) {
		t.Fatalf("client %d gaps %v", r.ClientOutput, r.Gaps)
	}
}

// TestLongOutputBounded: output past MaxText is tokenized only as far as
// MaxText and extrapolated; with quick, not at all.
func TestLongOutputBounded(t *testing.T) {
	t.Parallel()
	chunk := strings.Repeat("x", 1<<20) // one "word" of a megabyte, 4 events
	var evs []ev
	for i := range 4 {
		evs = append(evs, ev{0, Content, chunk[:1<<18], time.Duration(i) * time.Millisecond})
	}
	w := wireOf(evs, NoUsage)
	for i := range w.Text {
		w.Text[i] = w.Text[i][:MaxText] // the client keeps MaxText bytes
	}
	r := NewRecord(0, t0)
	start := time.Now()
	r.Derive(w, o200k(t), false)
	if !r.ClientEstimated || r.ClientOutput <= 0 {
		t.Errorf("estimated %v, client %d", r.ClientEstimated, r.ClientOutput)
	}
	if _, both := r.TokenMismatch(); both {
		t.Error("an estimate compared with the server's count")
	}
	u := NoUsage
	u.Completion = 1000
	r = NewRecord(0, t0)
	r.Derive(wireOf(evs[:1], u), o200k(t), true)
	if r.ClientOutput != -1 || r.Visible != 1000 {
		t.Errorf("quick: client %d visible %d", r.ClientOutput, r.Visible)
	}
	t.Logf("derived in %v", time.Since(start))
}

// TestHistogramsMergeExactly: two runs' histograms, written and read back
// as histograms.json, merge into the same percentiles as one summary over
// every record of both.
func TestHistogramsMergeExactly(t *testing.T) {
	t.Parallel()
	a, b, all := NewSummary(SLO{}), NewSummary(SLO{}), NewSummary(SLO{})
	for i := range 3000 {
		// Two differently shaped runs: their percentiles differ, and
		// averaging them would be wrong.
		first := time.Duration(100+i%97) * time.Millisecond
		s := a
		if i%3 == 0 {
			first = time.Duration(400+i%301) * time.Millisecond
			s = b
		}
		r := okRecord(0, first, first+time.Duration(i%50)*time.Second/10, first+6*time.Second, 60)
		r.Gaps = []Gap{{time.Duration(10+i%13) * time.Millisecond, 1}, {time.Duration(30+i%7) * time.Millisecond, 2}}
		s.Add(r)
		all.Add(r)
	}
	merged := NewSummary(SLO{})
	for _, s := range []*Summary{a, b} {
		f, err := s.HistFile()
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.AddHistFile(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ttft", "tpot", "itl", "e2e"} {
		got, want := merged.Hist(name).Stats(), all.Hist(name).Stats()
		if got.Count == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s merged %+v, one run %+v", name, got, want)
		}
	}
	if merged.Hist("ttft").Stats().P99 == a.Hist("ttft").Stats().P99 {
		t.Error("the test's runs should differ")
	}
}

// TestMismatchSpreadEvenly: a tokenizer that is not the model's counts
// 1,000 tokens where the server reports 900: each event gets 0.9 of a
// token, and ITL stays even (20 ms a gap, 22.2 ms a token), with no
// made-up gap at the end.
func TestMismatchSpreadEvenly(t *testing.T) {
	t.Parallel()
	var evs []ev
	for i := range 1000 {
		gap := 20 * time.Millisecond
		if i == 0 {
			gap = 0
		}
		evs = append(evs, ev{0, Content, " time", gap})
	}
	u := NoUsage
	u.Completion = 900
	r := NewRecord(0, t0)
	r.Derive(wireOf(evs, u), o200k(t), false)
	s := NewSummary(SLO{})
	s.Add(r)
	itl := s.Hist("itl").Stats()
	if itl.Count < 898 || itl.Count > 900 || itl.Max.F() > 0.0223 || itl.Min.F() < 0.0222 {
		t.Errorf("ITL %+v", itl)
	}
	if c := s.Hist("chunk_gap").Stats(); c.Count != 999 || c.Max.F() > 0.0201 {
		t.Errorf("chunk gaps %+v", c)
	}
	if r.Choices[0].Tokens != 900 {
		t.Errorf("tokens %d", r.Choices[0].Tokens)
	}
}

// TestChunkGapsRaw: chunk gaps are every raw gap, even of events that
// complete no token; ITL merges those into the next token's gap.
func TestChunkGapsRaw(t *testing.T) {
	t.Parallel()
	evs := []ev{{0, Content, "Hello", 0}, {0, Content, " wor", 10 * time.Millisecond}, {0, Content, "ld", 10 * time.Millisecond}, {0, Content, "!", 10 * time.Millisecond}}
	r := NewRecord(0, t0)
	r.Derive(wireOf(evs, NoUsage), o200k(t), false)
	if len(r.Chunks) != 3 || len(r.Gaps) != 2 || r.Gaps[0].D != 20*time.Millisecond {
		t.Errorf("chunks %v gaps %v", r.Chunks, r.Gaps)
	}
}
