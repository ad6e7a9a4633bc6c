package tokenizer

import (
	"strings"
	"testing"

	tk "github.com/tiktoken-go/tokenizer"
)

func codecs(t testing.TB) map[string]tk.Codec {
	t.Helper()
	m := map[string]tk.Codec{}
	for _, e := range []string{O200k, Cl100k} {
		c, err := tk.Get(tk.Encoding(e))
		if err != nil {
			t.Fatal(err)
		}
		m[e] = c
	}
	return m
}

func TestWordsAreSingleTokens(t *testing.T) {
	for name, c := range codecs(t) {
		for _, w := range NewWords() {
			for _, s := range []string{w, " " + w} {
				if n, _ := c.Count(s); n != 1 {
					t.Errorf("%s: %q is %d tokens, want 1", name, s, n)
				}
			}
		}
		// A long run of words is as many tokens as words.
		ws := NewWords()
		text := strings.Join(append(ws, ws...), " ")
		if n, _ := c.Count(text); n != 2*len(ws) {
			t.Errorf("%s: joined words = %d tokens, want %d", name, n, 2*len(ws))
		}
	}
}

func TestWordsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range NewWords() {
		if seen[w] {
			t.Errorf("%q is listed twice: requests' unique words would collide", w)
		}
		seen[w] = true
	}
}

func TestCountMatchesCodec(t *testing.T) {
	cases := []string{
		"hello world", "time year people", " time year", "time  year", "time year ",
		"Time year", "time, year", "時間", "a\nb", "the quick brown fox jumps over 12345 lazy dogs!",
		"rate", " rate", "", "x",
	}
	for name, c := range codecs(t) {
		tok, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range cases {
			want, _ := c.Count(s)
			if got := tok.Count(s); got != want {
				t.Errorf("%s: Count(%q) = %d, want %d", name, s, got, want)
			}
		}
	}
}

func FuzzCount(f *testing.F) {
	for _, s := range []string{"time year", " time", "time ", "time  year", "hello", "rate\n"} {
		f.Add(s)
	}
	cs := codecs(f)
	tok, _ := Get(Cl100k)
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := cs[Cl100k].Count(s)
		if got := tok.Count(s); got != want {
			t.Fatalf("Count(%q) = %d, want %d", s, got, want)
		}
	})
}

func TestEncodingFor(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-35-turbo": Cl100k, "gpt-35-turbo-16k": Cl100k, "gpt-3.5-turbo": Cl100k, "gpt-4": Cl100k,
		"gpt-4-32k": Cl100k, "gpt-4o": O200k, "gpt-4o-mini": O200k, "gpt-4.1-nano": O200k,
		"gpt-5": O200k, "o1": O200k, "o3-mini": O200k, "o4-mini": O200k, "GPT-4o": O200k,
	} {
		got, err := EncodingFor(model)
		if err != nil || got != want {
			t.Errorf("EncodingFor(%q) = %q, %v; want %q", model, got, err, want)
		}
	}
	for _, m := range []string{"llama-3", "", "o2"} {
		if _, err := EncodingFor(m); err == nil {
			t.Errorf("EncodingFor(%q): want error", m)
		}
	}
	if _, err := Get("p50k_base"); err == nil {
		t.Error("Get(p50k_base): want error")
	}
}

func TestCountMessages(t *testing.T) {
	tok, _ := Get(O200k)
	// role "user" is one token: 3 + 1 + 2 + 3.
	if got := tok.CountMessages([]Message{{Role: "user", Content: "hello world"}}); got != 9 {
		t.Errorf("CountMessages = %d, want 9", got)
	}
}

func TestIsReasoning(t *testing.T) {
	for m, want := range map[string]bool{"o1": true, "o3-mini": true, "o4-mini": true, "gpt-4o": false, "o1x": false} {
		if IsReasoning(m) != want {
			t.Errorf("IsReasoning(%q) != %v", m, want)
		}
	}
}
