// Package tokenizer counts tokens the way OpenAI models do, using the
// tiktoken vocabularies embedded in github.com/tiktoken-go/tokenizer.
//
// Vocabularies take tens of milliseconds to load, so a Tokenizer loads its
// vocabulary on first use, and text made only of the single-token word
// list (see words.go) is counted without it.
package tokenizer

import (
	"fmt"
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
	enc   string
	codec func() (tk.Codec, error)
	// longest is longestTokens, read once when a long run needs it.
	longest func() [classes]int
	// long lets one long run at a time be counted (CountUpTo).
	long sync.Mutex
}

// Get returns the tokenizer for a tiktoken encoding name.
func Get(encoding string) (*Tokenizer, error) {
	switch encoding {
	case O200k, Cl100k:
	default:
		return nil, fmt.Errorf("unknown tokenizer %q (want %s or %s)", encoding, O200k, Cl100k)
	}
	t := &Tokenizer{
		enc:   encoding,
		codec: sync.OnceValues(func() (tk.Codec, error) { return tk.Get(tk.Encoding(encoding)) }),
	}
	t.longest = sync.OnceValue(t.longestTokens)
	return t, nil
}

// Encoding is the tiktoken encoding's name (O200k or Cl100k).
func (t *Tokenizer) Encoding() string { return t.enc }

// Warm loads the vocabulary now, so that the first count does not wait
// for it: call it in a goroutine.
func (t *Tokenizer) Warm() { t.codec() }

// Count returns the number of tokens in s.
func (t *Tokenizer) Count(s string) int {
	if s == "" {
		return 0
	}
	if n, ok := countWords(s); ok {
		return n
	}
	return t.codecCount(s)
}

// codecCount counts the tokens of s with the codec.
func (t *Tokenizer) codecCount(s string) int {
	c, err := t.codec()
	if err != nil {
		// Get only accepts encodings the library embeds, so this cannot
		// happen; count nothing rather than panic.
		return 0
	}
	n, _ := c.Count(s)
	return n
}

// Offsets appends to dst the end byte offset of each token of s, in
// order, and returns it: token i is s[offsets[i-1]:offsets[i]]. s must be
// valid UTF-8 (the codec would replace invalid bytes and shift offsets).
func (t *Tokenizer) Offsets(dst []int, s string) []int {
	if s == "" {
		return dst
	}
	if out, ok := appendWordOffsets(dst, s); ok {
		return out
	}
	c, err := t.codec()
	if err != nil {
		return dst // as in Count: cannot happen for embedded encodings
	}
	_, toks, _ := c.Encode(s)
	end := 0
	for _, tok := range toks {
		end += len(tok)
		dst = append(dst, end)
	}
	return dst
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
