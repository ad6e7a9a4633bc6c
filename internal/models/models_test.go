package models

import "testing"

func TestLookup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		family    string
		enc       string
		window    int
		reasoning bool
	}{
		{"gpt-35-turbo-16k", "gpt-35-turbo-16k", cl100k, 16_384, false},
		{"gpt-35-turbo", "gpt-35", cl100k, 16_385, false},
		{"GPT-4", "gpt-4", cl100k, 8_192, false},
		{"gpt-4-0613", "gpt-4", cl100k, 8_192, false},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini", o200k, 128_000, false},
		{"gpt-4o", "gpt-4o", o200k, 128_000, false},
		{"gpt-4.1-mini", "gpt-4.1-mini", o200k, 1_047_576, false},
		{"gpt-5-chat", "gpt-5-chat", o200k, 128_000, false},
		{"gpt-5", "gpt-5", o200k, 400_000, true},
		{"o1", "o1", o200k, 200_000, true},
		{"o3-mini", "o3-mini", o200k, 200_000, true},
		{"o4-mini-2025-04-16", "o4-mini", o200k, 200_000, true},
	}
	for _, c := range cases {
		m, ok := Lookup(c.name)
		if !ok || m.Family != c.family || m.Encoding != c.enc || m.ContextWindow != c.window || m.Reasoning != c.reasoning {
			t.Errorf("Lookup(%q) = %+v, %v", c.name, m, ok)
		}
	}
	for _, name := range []string{"", "llama-3", "o1x", "gpt-40", "my-gpt-4o", "claude"} {
		if m, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v, want unknown", name, m)
		}
	}
}
