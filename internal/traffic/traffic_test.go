package traffic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

type parsed struct {
	Messages            []tokenizer.Message `json:"messages"`
	Model               string              `json:"model"`
	MaxTokens           int                 `json:"max_tokens"`
	MaxCompletionTokens int                 `json:"max_completion_tokens"`
	Stream              bool                `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature *float64 `json:"temperature"`
}

func parse(t *testing.T, js []byte) parsed {
	t.Helper()
	var p parsed
	if err := json.Unmarshal(js, &p); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, js)
	}
	return p
}

// TestMinContext: the plan's least prompt is the builder's, a chat
// message's overhead and a word.
func TestMinContext(t *testing.T) {
	t.Parallel()
	if MinContext != overhead+1 {
		t.Errorf("plan.MinContext %d, the builder's least %d", MinContext, overhead+1)
	}
	if _, err := New(Spec{Context: MinContext - 1}); err == nil {
		t.Error("a prompt under the least was built")
	}
}

func TestExactPromptTokens(t *testing.T) {
	t.Parallel()
	for _, enc := range []string{tokenizer.O200k, tokenizer.Cl100k} {
		tok, _ := tokenizer.Get(enc)
		for _, n := range []int{MinContext, 9, 11, 12, 30, 500, 4500} {
			b, err := New(Spec{Context: n, MaxTokens: 500})
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int64{0, 1, 12345678} {
				p := parse(t, b.Body(nil, i, true))
				// Count with the real tokenizer, not the word fast path:
				// this is what the server will bill.
				got := tokenizer.PerReply
				for _, m := range p.Messages {
					got += tokenizer.PerMessage + realCount(t, enc, m.Role) + realCount(t, enc, m.Content)
				}
				if got != n || b.PromptTokens() != n || tok.CountMessages(p.Messages) != n {
					t.Fatalf("%s: context %d request %d has %d tokens", enc, n, i, got)
				}
			}
		}
	}
}

func TestUniqueFromFirstToken(t *testing.T) {
	t.Parallel()
	b, _ := New(Spec{Context: 100, Seed: 42})
	seen := map[string]bool{}
	for i := range int64(100000) {
		p := parse(t, b.Body(nil, i, true))
		first := strings.Join(strings.Fields(p.Messages[0].Content)[:4], " ")
		if seen[first] {
			t.Fatalf("request %d repeats the unique words %q", i, first)
		}
		seen[first] = true
		if i > 300 {
			// Neighbouring requests differ in the very first word.
			prev := parse(t, b.Body(nil, i-1, true)).Messages[0].Content
			if strings.Fields(prev)[0] == strings.Fields(p.Messages[0].Content)[0] {
				t.Fatalf("requests %d and %d share a first token", i-1, i)
			}
		}
		if i > 2000 {
			break
		}
	}
}

func TestBodyFields(t *testing.T) {
	t.Parallel()
	temp := 0.7
	b, _ := New(Spec{Model: "gpt-4o", Context: 50, MaxTokens: 100, Temperature: &temp})
	p := parse(t, b.Body(nil, 0, true))
	if p.Model != "gpt-4o" || p.MaxTokens != 100 || !p.Stream || p.StreamOptions == nil || !p.StreamOptions.IncludeUsage || *p.Temperature != 0.7 {
		t.Fatalf("body %+v", p)
	}
	if p := parse(t, b.Body(nil, 0, false)); p.StreamOptions != nil {
		t.Fatal("stream_options sent when usage is off")
	}
	r, _ := New(Spec{Model: "o3-mini", Context: 50, MaxTokens: 100, Reasoning: true})
	if p := parse(t, r.Body(nil, 0, true)); p.MaxTokens != 0 || p.MaxCompletionTokens != 100 {
		t.Fatalf("o-series body %+v", p)
	}
}

func TestTooSmall(t *testing.T) {
	t.Parallel()
	if _, err := New(Spec{Context: MinContext - 1}); err == nil {
		t.Fatal("want error")
	}
}

func BenchmarkBody(b *testing.B) {
	w, _ := New(Spec{Context: 4500, MaxTokens: 500})
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for i := range b.N {
		buf = w.Body(buf[:0], int64(i), true)
	}
}

// TestSyntheticExact: prompts drawn from a distribution have exactly the
// tokens they say, chat overhead included, with and without a shared
// prefix, in both encodings; the draw is seeded.
func TestSyntheticExact(t *testing.T) {
	t.Parallel()
	p, o, err := ParseSynthetic("prompt_tokens=300,prompt_tokens_stdev=120,prompt_tokens_min=20,prompt_tokens_max=600,output_tokens=50,output_tokens_stdev=20")
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []int{0, 120} {
		if prefix > 0 {
			p.Min = 150
		}
		a, err := NewSynthetic(p, o, prefix, 2, 7)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewSynthetic(p, o, prefix, 2, 7)
		prm := &Params{Model: "m"}
		var sum float64
		for n := range int64(200) {
			it, _ := a.Next(n, nil)
			jt, _ := b.Next(n, nil)
			if it.Prompt != jt.Prompt || it.MaxTokens != jt.MaxTokens {
				t.Fatal("same seed, different requests")
			}
			if it.Prompt < int(p.Min) || it.Prompt > int(p.Max) || it.MaxTokens < 1 {
				t.Fatalf("request %d: %d prompt, %d output tokens", n, it.Prompt, it.MaxTokens)
			}
			sum += float64(it.Prompt)
			if n < 5 {
				var msgs []tokenizer.Message
				var body struct {
					Messages  []tokenizer.Message `json:"messages"`
					MaxTokens int                 `json:"max_tokens"`
				}
				if err := json.Unmarshal(prm.Body(nil, it, true), &body); err != nil {
					t.Fatal(err)
				}
				msgs = body.Messages
				for _, enc := range []string{tokenizer.O200k, tokenizer.Cl100k} {
					tok, _ := tokenizer.Get(enc)
					if got := tok.CountMessages(msgs); got != it.Prompt {
						t.Errorf("%s, prefix %d: request %d has %d tokens, says %d", enc, prefix, n, got, it.Prompt)
					}
				}
				if body.MaxTokens != it.MaxTokens {
					t.Errorf("max_tokens %d, item %d", body.MaxTokens, it.MaxTokens)
				}
				if prefix > 0 && (len(msgs) != 2 || msgs[0].Role != "system") {
					t.Errorf("prefix messages %+v", msgs)
				}
			}
		}
		if mean := sum / 200; mean < 250 || mean > 350 {
			t.Errorf("mean prompt %v, want about 300", mean)
		}
	}
	for _, bad := range []string{"prompt_tokens=0", "bogus=1", "prompt_tokens_stdev=5", "prompt_tokens=100,prompt_tokens_min=5,output_tokens=1", "prompt_tokens=1.5,output_tokens=1", "prompt_tokens=100"} {
		if _, _, err := ParseSynthetic(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if p, _, err := ParseSynthetic("prompt_tokens_min=10,prompt_tokens_max=20,output_tokens=5"); err != nil || p.Mean != 0 || p.Min != 10 {
		t.Errorf("uniform: %+v %v", p, err)
	}
}

// TestResponsesInput: chat messages become the Responses API's input:
// plain ones as they are, content parts as its parts, a tool's answer as
// a user's, fields it does not take dropped.
func TestResponsesInput(t *testing.T) {
	t.Parallel()
	plain := `[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]`
	if got := string(responsesInput([]byte(plain))); got != plain {
		t.Errorf("plain messages changed: %s", got)
	}
	in := `[{"role":"user","name":"ann","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x/i.png"}}]},` +
		`{"role":"assistant","content":[{"type":"text","text":"a cat"}]},{"role":"tool","tool_call_id":"c1","content":"42"}]`
	want := `[{"content":[{"text":"look","type":"input_text"},{"image_url":"https://x/i.png","type":"input_image"}],"role":"user"},` +
		`{"content":[{"text":"a cat","type":"output_text"}],"role":"assistant"},{"content":"42","role":"user"}]`
	if got := string(responsesInput([]byte(in))); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
