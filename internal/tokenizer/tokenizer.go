// Package tokenizer counts tokens the way OpenAI models do, using the
// tiktoken vocabularies embedded in github.com/tiktoken-go/tokenizer.
//
// Vocabularies take tens of milliseconds to load, so a Tokenizer loads its
// vocabulary on first use, and text made only of the single-token word
// list (see words.go) is counted without it.
package tokenizer

import (
	"fmt"
	"strings"
	"sync"

	tk "github.com/tiktoken-go/tokenizer"
)

// Encoding names accepted by Get and --tokenizer.
const (
	O200k  = "o200k_base"
	Cl100k = "cl100k_base"
)

// Chat-message overhead, from OpenAI's published counting recipe for the
// gpt-3.5-turbo-0613 and later chat models: every message costs
// PerMessage tokens plus its role and content, and every reply is primed with
// PerReply tokens.
const (
	PerMessage = 3
	PerReply   = 3
)

// Tokenizer counts tokens for one encoding. It is safe for concurrent use.
type Tokenizer struct {
	codec func() (tk.Codec, error)
}

// Get returns the tokenizer for a tiktoken encoding name.
func Get(encoding string) (*Tokenizer, error) {
	switch encoding {
	case O200k, Cl100k:
	default:
		return nil, fmt.Errorf("unknown tokenizer %q (want %s or %s)", encoding, O200k, Cl100k)
	}
	return &Tokenizer{
		codec: sync.OnceValues(func() (tk.Codec, error) { return tk.Get(tk.Encoding(encoding)) }),
	}, nil
}

// EncodingFor returns the encoding a model family uses: o200k_base for
// gpt-4o, gpt-4.1, gpt-5 and the o-series; cl100k_base for gpt-35-turbo,
// gpt-3.5-turbo and gpt-4. Azure deployment-style names (gpt-35-turbo-16k,
// gpt-4o-mini-2024-07-18) are matched by prefix.
func EncodingFor(model string) (string, error) {
	m := strings.ToLower(strings.TrimSpace(model))
	switch {
	case strings.HasPrefix(m, "gpt-4o"), strings.HasPrefix(m, "gpt-4.1"), strings.HasPrefix(m, "gpt-5"),
		strings.HasPrefix(m, "chatgpt-4o"), IsReasoning(m):
		return O200k, nil
	case strings.HasPrefix(m, "gpt-35"), strings.HasPrefix(m, "gpt-3.5"), strings.HasPrefix(m, "gpt-4"):
		return Cl100k, nil
	}
	return "", fmt.Errorf("unknown model %q (known: gpt-35-turbo, gpt-4, gpt-4o, gpt-4.1, gpt-5, o1, o3, o4-mini families)", model)
}

// IsReasoning reports whether model is an o-series reasoning model, which
// takes max_completion_tokens instead of max_tokens.
func IsReasoning(model string) bool {
	m := strings.ToLower(model)
	for _, p := range []string{"o1", "o3", "o4"} {
		if m == p || strings.HasPrefix(m, p+"-") {
			return true
		}
	}
	return false
}

// ForModel returns the tokenizer of a model family (see EncodingFor).
func ForModel(model string) (*Tokenizer, error) {
	enc, err := EncodingFor(model)
	if err != nil {
		return nil, err
	}
	return Get(enc)
}

// Count returns the number of tokens in s.
func (t *Tokenizer) Count(s string) int {
	if s == "" {
		return 0
	}
	if n, ok := countWords(s); ok {
		return n
	}
	c, err := t.codec()
	if err != nil {
		// Get only accepts encodings the library embeds, so this cannot
		// happen; count nothing rather than panic.
		return 0
	}
	n, _ := c.Count(s)
	return n
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// CountMessages returns the prompt tokens of a chat request: each message's
// role, content and name plus the per-message and per-reply overhead.
func (t *Tokenizer) CountMessages(msgs []Message) int {
	n := PerReply
	for _, m := range msgs {
		n += PerMessage + t.Count(m.Role) + t.Count(m.Content)
		if m.Name != "" {
			n += t.Count(m.Name) + 1
		}
	}
	return n
}
