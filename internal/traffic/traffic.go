// Package traffic builds the chat-completion requests a load test sends.
//
// Prompts are made of words that are each exactly one token in both
// cl100k_base and o200k_base (see tokenizer.Words), so a prompt of exactly N
// tokens, chat overhead included, is built without running the tokenizer.
// Every request starts with its own run of words, so no prompt cache can
// serve one request from another. A body is two precomputed byte slices with
// the unique words between them: building one costs well under a
// microsecond.
package traffic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Shape is a named prompt and generation size.
type Shape struct {
	Context   int // prompt tokens, chat overhead included
	MaxTokens int // max_tokens sent; 0 sends none
}

// Shapes are the original tool's shape profiles.
var Shapes = map[string]Shape{
	"balanced":   {500, 500},
	"context":    {2000, 200},
	"generation": {500, 1000},
}

// overhead is the chat overhead of one user message: per-message tokens, the
// role "user" (one token) and the reply priming.
const overhead = tokenizer.PerMessage + 1 + tokenizer.PerReply

// prefixWords is how many words make a request unique: 236^4 is over three
// billion requests.
const prefixWords = 4

// instruction asks for a long answer; every word is one token.
const instruction = "please write a very long essay about all of these words and do not stop"

// jsonInstruction asks for a long answer in JSON, in as many tokens as
// instruction (a test holds both to it): OpenAI's json_object format
// refuses a prompt that does not say "json".
const jsonInstruction = "please write a very long json about all of these words and do not stop"

// MinContext is the smallest prompt the builder can make: the plan's
// (a test holds it to overhead + 1).
const MinContext = plan.MinContext

// Spec describes the requests to build.
type Spec struct {
	Model            string // sent as "model" when not empty
	Context          int    // prompt tokens, chat overhead included
	MaxTokens        int    // 0 sends no limit
	Reasoning        bool   // send max_completion_tokens (o-series)
	Completions      int    // n; 0 or 1 sends none
	FrequencyPenalty *float64
	PresencePenalty  *float64
	Temperature      *float64
	TopP             *float64
	Seed             uint64 // varies the unique words between runs
}

// Builder builds request bodies. It is safe for concurrent use.
type Builder struct {
	spec   Spec
	words  tokenizer.Words
	nwords int       // unique words per request
	head   [2][]byte // [without, with] stream_options, up to the unique words
	tail   [2][]byte
}

type body struct {
	Messages            []tokenizer.Message `json:"messages"`
	Model               string              `json:"model,omitempty"`
	MaxTokens           int                 `json:"max_tokens,omitempty"`
	MaxCompletionTokens int                 `json:"max_completion_tokens,omitempty"`
	N                   int                 `json:"n,omitempty"`
	FrequencyPenalty    *float64            `json:"frequency_penalty,omitempty"`
	PresencePenalty     *float64            `json:"presence_penalty,omitempty"`
	Temperature         *float64            `json:"temperature,omitempty"`
	TopP                *float64            `json:"top_p,omitempty"`
	Stream              bool                `json:"stream"`
	StreamOptions       *streamOptions      `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

const mark = "UNIQUEWORDS"

// New returns a Builder for spec.
func New(spec Spec) (*Builder, error) {
	if spec.Context < MinContext {
		return nil, fmt.Errorf("must be at least %d (the chat overhead is %d), got %d", MinContext, overhead, spec.Context)
	}
	b := &Builder{spec: spec, words: tokenizer.NewWords()}
	avail := spec.Context - overhead
	b.nwords = min(prefixWords, avail)
	avail -= b.nwords
	var rest []string
	instr := strings.Fields(instruction)
	if avail >= len(instr) {
		avail -= len(instr)
	} else {
		instr = nil
	}
	// Filler: the word list in a fixed order, offset so that it does not
	// repeat the unique words' pattern.
	for i := range avail {
		rest = append(rest, b.words[(i*7+3)%len(b.words)])
	}
	rest = append(rest, instr...)
	content := mark
	if len(rest) > 0 {
		content += " " + strings.Join(rest, " ")
	}
	for k, usage := range []bool{false, true} {
		v := body{
			Messages:         []tokenizer.Message{{Role: "user", Content: content}},
			Model:            spec.Model,
			FrequencyPenalty: spec.FrequencyPenalty,
			PresencePenalty:  spec.PresencePenalty,
			Temperature:      spec.Temperature,
			TopP:             spec.TopP,
			Stream:           true,
		}
		if spec.Reasoning {
			v.MaxCompletionTokens = spec.MaxTokens
		} else {
			v.MaxTokens = spec.MaxTokens
		}
		if spec.Completions > 1 {
			v.N = spec.Completions
		}
		if usage {
			v.StreamOptions = &streamOptions{IncludeUsage: true}
		}
		js, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("building request body: %w", err)
		}
		i := bytes.Index(js, []byte(mark))
		b.head[k], b.tail[k] = js[:i], js[i+len(mark):]
	}
	return b, nil
}

// PromptTokens returns the prompt tokens of every request, chat overhead
// included, as the model's tokenizer counts them.
func (b *Builder) PromptTokens() int { return b.spec.Context }

// Body appends to dst the JSON body of request i and returns it. With usage,
// it asks for a usage frame (stream_options.include_usage).
func (b *Builder) Body(dst []byte, i int64, usage bool) []byte {
	k := 0
	if usage {
		k = 1
	}
	if dst == nil {
		// One allocation of the right size, not a series of growths.
		dst = make([]byte, 0, len(b.head[k])+len(b.tail[k])+b.nwords*16)
	}
	dst = append(dst, b.head[k]...)
	// The unique words are the digits of (i + seed) in base len(words).
	n := uint64(i) + b.spec.Seed
	base := uint64(len(b.words))
	for j := range b.nwords {
		if j > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, b.words[n%base]...)
		n /= base
	}
	return append(dst, b.tail[k]...)
}
