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
	t.Parallel()
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
	t.Parallel()
	seen := map[string]bool{}
	for _, w := range NewWords() {
		if seen[w] {
			t.Errorf("%q is listed twice: requests' unique words would collide", w)
		}
		seen[w] = true
	}
}

func TestCountMatchesCodec(t *testing.T) {
	t.Parallel()
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

func TestGetUnknown(t *testing.T) {
	t.Parallel()
	if _, err := Get("p50k_base"); err == nil {
		t.Error("Get(p50k_base): want error")
	}
}

// TestOffsets checks that token end offsets cut a text into exactly the
// codec's tokens, on the word list's fast path and off it.
func TestOffsets(t *testing.T) {
	t.Parallel()
	for name, c := range codecs(t) {
		tok, _ := Get(name)
		for _, s := range []string{"time year people", " time year", "The quick brown fox, jumped!", "naïve café — 東京 😀 ok", "hello\n\nworld  two"} {
			_, want, _ := c.Encode(s)
			off := tok.Offsets(nil, s)
			if len(off) != len(want) {
				t.Fatalf("%s: Offsets(%q) has %d tokens, codec %d", name, s, len(off), len(want))
			}
			prev := 0
			for i, end := range off {
				if s[prev:end] != want[i] {
					t.Errorf("%s: token %d of %q is %q, codec %q", name, i, s, s[prev:end], want[i])
				}
				prev = end
			}
		}
	}
}

func TestCountMessages(t *testing.T) {
	t.Parallel()
	tok, _ := Get(O200k)
	// role "user" is one token: 3 + 1 + 2 + 3.
	if got := tok.CountMessages([]Message{{Role: "user", Content: "hello world"}}); got != 9 {
		t.Errorf("CountMessages = %d, want 9", got)
	}
}
