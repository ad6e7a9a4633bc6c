package tokenizer

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// alphabet mixes every class the encodings' expressions tell apart:
// ASCII and other letters of each case, combining marks, contractions,
// digits and other numbers, white space of each kind, punctuation,
// symbols and emoji.
var alphabet = []string{
	"a", "b", "z", "Q", "The", "time", "hello", " hello", "é", "e\u0301", "Ж", "ж", "東", "京", "ไ", "ǅ", "ʰ", "क", "ि", "नमस्ते", "ं",
	"0", "7", "42", "٣", "½", "Ⅻ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2028", "\v",
	"'", "'s", "'T", "'ll", "!", ",", ".", "-", "/", "_", "$", "==", "😀", "\u200d", "\ufffd",
}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// TestCountUpToExact: counted in batches cut wherever cutBetween allows,
// a text has exactly the codec's count, in both encodings.
func TestCountUpToExact(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for name, c := range codecs(t) {
		tok, _ := Get(name)
		for i := range 300 {
			s := randomText(r, 1+r.IntN(400))
			if i%50 == 0 {
				s = randomText(r, 40000) // several batches of the real size
			}
			want, _ := c.Count(s)
			for _, size := range []int{1, 5, 64, batchSize} {
				if got, exact := tok.countUpTo(s, want, size); got != want || !exact {
					t.Fatalf("%s: countUpTo(%q, %d, batches of %d) = %d, %v; codec %d", name, s, want, size, got, exact, want)
				}
			}
		}
	}
}

// TestCountUpToStopsEarly: past the limit, the count stops with a number
// above the limit that is no more than the text's count.
func TestCountUpToStopsEarly(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for name, c := range codecs(t) {
		tok, _ := Get(name)
		for _, s := range []string{
			strings.Repeat("hello world, ", 20000),
			strings.Repeat("time year ", 30000), // the word list's fast path
			randomText(r, 300000),
			strings.Repeat("a", 300000),                          // one long run
			"short words first " + strings.Repeat("xyz", 100000), // then a long run
			strings.Repeat("1234567890", 30000),
			strings.Repeat("\u6771\u4eac", 50000),
		} {
			want, _ := c.Count(s)
			limit := want / 3
			got, exact := tok.CountUpTo(s, limit)
			if exact && got != want || got <= limit || got > want {
				t.Errorf("%s: CountUpTo(%.20q..., %d) = %d, %v; the text has %d", name, s, limit, got, exact, want)
			}
			if got, exact := tok.CountUpTo(s, want); got != want || !exact {
				t.Errorf("%s: CountUpTo(%.20q..., its count %d) = %d, %v", name, s, want, got, exact)
			}
		}
	}
}

// TestCountUpToBounded: an 8 MB prompt past a 128,000-token window is
// refused after reading a bounded part of it: the codec allocates tens of
// bytes per byte it counts, hundreds of megabytes for the whole of one.
// Not parallel: it reads the process's allocation total, which the other
// tests' work would add to (CI saw 165 MB when it ran beside them).
func TestCountUpToBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var letters strings.Builder
	for letters.Len() < 8<<20 {
		letters.WriteByte(byte('a' + r.IntN(26)))
	}
	tok, _ := Get(O200k)
	tok.CountUpTo(strings.Repeat("a", longRun+1), 10) // loads the vocabulary and its table
	for name, s := range map[string]string{
		"one word":       strings.Repeat("a", 8<<20),
		"random letters": letters.String(),
		"words":          strings.Repeat("hello ", 8<<20/6),
		"listed words":   strings.Repeat("time ", 8<<20/5),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, exact := tok.CountUpTo(s, 128000)
		runtime.ReadMemStats(&after)
		if exact || n <= 128000 {
			t.Errorf("%s: %d, %v: want more than 128000, inexact", name, n, exact)
		}
		// Counting 128,000 tokens of words allocates about 40 MB (80
		// with -race); the whole text, 300 to 500 MB.
		mb := (after.TotalAlloc - before.TotalAlloc) >> 20
		t.Logf("%s: %d MB allocated to refuse it", name, mb)
		if mb > 150 {
			t.Errorf("%s: %d MB allocated to refuse it", name, mb)
		}
	}
}

// TestLeast: a long run's lower bound never passes its count.
func TestLeast(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	for name, c := range codecs(t) {
		tok, _ := Get(name)
		if all := tok.longest()[classes-1]; all != 128 {
			t.Errorf("%s: longest token %d bytes, want 128", name, all)
		}
		for _, set := range []string{"a", "ab", "abcdefghijklmnopqrstuvwxyz", "=", "-=", " ", "9", "a1", "東京", "a 東"} {
			var b strings.Builder
			for b.Len() < 20000 {
				rs := []rune(set)
				b.WriteRune(rs[r.IntN(len(rs))])
			}
			s := b.String()
			want, _ := c.Count(s)
			if got := tok.least(s); got > want || got == 0 {
				t.Errorf("%s: least of %q-text %d, its count %d", name, set, got, want)
			}
		}
	}
}

func TestCountMessagesUpTo(t *testing.T) {
	t.Parallel()
	tok, _ := Get(O200k)
	msgs := []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: strings.Repeat("hello ", 1000), Name: "bob"}}
	want := tok.CountMessages(msgs)
	if got, exact := tok.CountMessagesUpTo(msgs, want); got != want || !exact {
		t.Errorf("CountMessagesUpTo(at its count %d) = %d, %v", want, got, exact)
	}
	if got, exact := tok.CountMessagesUpTo(msgs, want-1); exact && got != want || got <= want-1 || got > want {
		t.Errorf("CountMessagesUpTo(%d) = %d, %v; count %d", want-1, got, exact, want)
	}
	// A name counts too.
	msgs[1].Name = strings.Repeat("bob", 100000)
	if got, exact := tok.CountMessagesUpTo(msgs, 5000); exact || got <= 5000 {
		t.Errorf("a long name: %d, %v", got, exact)
	}
}

func FuzzCountUpTo(f *testing.F) {
	for _, s := range []string{"time year", "hello world's 123 things", "e\u0301a b", "a  b\n\n c", "東京 1½", "x'S y"} {
		f.Add(s, 3)
	}
	cs := codecs(f)
	toks := map[string]*Tokenizer{}
	for name := range cs {
		toks[name], _ = Get(name)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		for name, c := range cs {
			want, _ := c.Count(s)
			if got, exact := toks[name].countUpTo(s, want, 1); got != want || !exact {
				t.Fatalf("%s: countUpTo(%q, %d, 1) = %d, %v; codec %d", name, s, want, got, exact, want)
			}
			got, exact := toks[name].countUpTo(s, limit, 2)
			if exact && got != want || !exact && (got <= limit || got > want) {
				t.Fatalf("%s: countUpTo(%q, %d, 2) = %d, %v; codec %d", name, s, limit, got, exact, want)
			}
		}
	})
}

// BenchmarkCountUpTo prints what refusing an 8 MB prompt past a
// 128,000-token window costs, against counting it whole.
func BenchmarkCountUpTo(b *testing.B) {
	tok, _ := Get(O200k)
	tok.CountUpTo(strings.Repeat("a", longRun+1), 10) // loads the vocabulary and its table
	for _, c := range []struct{ name, s string }{
		{"one word", strings.Repeat("a", 8<<20)},
		{"words", strings.Repeat("hello ", 8<<20/6)},
	} {
		b.Run(c.name+"/up to the window", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tok.CountUpTo(c.s, 128000)
			}
		})
		b.Run(c.name+"/whole", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tok.Count(c.s)
			}
		})
	}
}
