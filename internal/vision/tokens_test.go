package vision

import (
	"strings"
	"testing"
)

// The published worked examples, and the rule's edges.
func TestTokens(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		model  string
		w, h   int
		detail Detail
		want   int
	}{
		// Azure's overview, "Image input tokens": GPT-4o.
		{"gpt-4o", 1024, 1024, High, 765},
		{"gpt-4o", 2048, 4096, High, 1105},
		{"gpt-4o", 4096, 8192, Low, 85},
		// Auto counts as high.
		{"gpt-4o", 1024, 1024, Auto, 765},
		{"gpt-4o", 1024, 1024, "", 765},
		// Smaller than 768 on its short side: no scaling, one tile.
		{"gpt-4o", 512, 512, High, 255},
		{"gpt-4o", 513, 512, High, 425},
		// gpt-4o-mini: the same tiles at its own counts.
		{"gpt-4o-mini-2024-07-18", 1024, 1024, High, 2833 + 4*5667},
		{"gpt-4o-mini", 1024, 1024, Low, 2833},
		{"gpt-5", 1024, 1024, High, 70 + 4*140},
		{"o3", 1024, 1024, Low, 75},
		// OpenAI's patch examples: 1024x1024 is 1024 patches, 1800x2400
		// scales to 1452; times the family's multiplier, rounded up.
		{"gpt-4.1-mini", 1024, 1024, High, 1659},
		{"gpt-4.1-mini", 1800, 2400, Low, 2353},
		{"gpt-4.1-nano", 1024, 1024, High, 2520},
		{"o4-mini", 32, 32, High, 2},
	} {
		got, ok := Tokens(c.model, c.w, c.h, c.detail)
		if !ok || got != c.want {
			t.Errorf("Tokens(%s, %dx%d, %q) = %d, %v; want %d", c.model, c.w, c.h, c.detail, got, ok, c.want)
		}
	}
}

func TestPatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ w, h, want int }{
		{1024, 1024, 1024}, {1800, 2400, 1452}, {1, 1, 1}, {8192, 8192, 1521}, {8192, 32, 256},
	} {
		if got := patches(c.w, c.h); got != c.want || got > MaxPatches {
			t.Errorf("patches(%d, %d) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
}

func TestNoVision(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"gpt-35-turbo", "gpt-4", "gpt-4-32k", "o1-mini", "o3-mini", "llama-3"} {
		if _, ok := RuleOf(m); ok {
			t.Errorf("%s: has an image rule, takes no images", m)
		}
	}
	for _, m := range []string{"gpt-4o", "gpt-4.1", "gpt-5.2", "o1", "gpt-4-turbo-2024-04-09"} {
		if _, ok := RuleOf(m); !ok {
			t.Errorf("%s: no image rule", m)
		}
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	if _, err := rules(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"family\tmethod\n",
		"family\tmethod\tlow_tokens\tbase_tokens\ttile_tokens\tmultiplier\nx\tsquare\t1\t1\t1\t1\n",
		"family\tmethod\tlow_tokens\tbase_tokens\ttile_tokens\tmultiplier\nx\ttile\t-1\t1\t1\t1\n",
		"family\tmethod\tlow_tokens\tbase_tokens\ttile_tokens\tmultiplier\nx\tpatch\t0\t0\t0\tNaN\n",
		"family\tmethod\tlow_tokens\tbase_tokens\ttile_tokens\tmultiplier\nx\ttile\t0\t0\t0\t1\n",
	} {
		if _, err := parse([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), File+":") {
			t.Errorf("parse(%q) = %v, want an error naming the file:line", bad, err)
		}
	}
}
