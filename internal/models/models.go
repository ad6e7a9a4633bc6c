// Package models is the one table of what aoaibench knows about model
// families: the tokenizer, the context window, whether the model reasons
// (takes max_completion_tokens and spends hidden reasoning tokens). The
// load generator, the tokenizer and the simulator all read it, so they
// never disagree. Provisioned-throughput figures are package ptu's, read
// from Azure's published table.
package models

import (
	"strings"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

const (
	o200k  = tokenizer.O200k
	cl100k = tokenizer.Cl100k
)

// Model is what is known of one model family.
type Model struct {
	// Family is the name prefix the family is matched by.
	Family string
	// Encoding is the tiktoken encoding of its tokenizer.
	Encoding string
	// ContextWindow is the most tokens a request (prompt and output) may
	// hold.
	ContextWindow int
	// Reasoning models take max_completion_tokens instead of max_tokens
	// and count hidden reasoning tokens in completion_tokens.
	Reasoning bool
}

// table is matched in order: a more specific prefix comes before the
// prefix it extends.
var table = []Model{
	{"gpt-35-turbo-16k", cl100k, 16_384, false},
	{"gpt-3.5-turbo-16k", cl100k, 16_384, false},
	{"gpt-35", cl100k, 16_385, false},
	{"gpt-3.5", cl100k, 16_385, false},
	{"gpt-4o-mini", o200k, 128_000, false},
	{"gpt-4o", o200k, 128_000, false},
	{"chatgpt-4o", o200k, 128_000, false},
	{"gpt-4.1-nano", o200k, 1_047_576, false},
	{"gpt-4.1-mini", o200k, 1_047_576, false},
	{"gpt-4.1", o200k, 1_047_576, false},
	{"gpt-4-32k", cl100k, 32_768, false},
	{"gpt-4-turbo", cl100k, 128_000, false},
	{"gpt-4", cl100k, 8_192, false},
	{"gpt-5-chat", o200k, 128_000, false},
	{"gpt-5-nano", o200k, 400_000, true},
	{"gpt-5-mini", o200k, 400_000, true},
	{"gpt-5", o200k, 400_000, true},
	{"o1-mini", o200k, 128_000, true},
	{"o1", o200k, 200_000, true},
	{"o3-mini", o200k, 200_000, true},
	{"o3", o200k, 200_000, true},
	{"o4-mini", o200k, 200_000, true},
}

// Lookup returns the family of a model or Azure deployment-style name
// (gpt-35-turbo-16k, gpt-4o-mini-2024-07-18, o3), matched by prefix. A
// family name must be followed by the end of the name or a separator, so
// that "o1" does not match "o1x" and "gpt-4" does not match "gpt-40".
func Lookup(name string) (Model, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, m := range table {
		rest, ok := strings.CutPrefix(n, m.Family)
		if ok && (rest == "" || strings.ContainsAny(rest[:1], "-._:/ ") || m.Family[len(m.Family)-1] == '-') {
			return m, true
		}
	}
	return Model{}, false
}

// Known lists the families, for error messages.
const Known = "gpt-35-turbo, gpt-4, gpt-4o, gpt-4.1, gpt-5, o1, o3, o4-mini families"
