package traffic

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Item is one request of a run: its messages, what it asks, and where it
// belongs.
type Item struct {
	// Prompt is the prompt's tokens, chat overhead included: exact for
	// synthetic prompts, the tokenizer's count for a dataset's.
	Prompt int
	// MaxTokens is the max_tokens asked (per choice); 0 sends none.
	MaxTokens int
	// Session numbers a multi-turn conversation (from 0); -1 for none.
	Session int64
	// Turn is the item's turn in its session, from 1.
	Turn int
	// messages is the JSON array of the messages, rendered; or body builds
	// the whole body (the fixed shape's fast path).
	messages []byte
	body     func(dst []byte, usage bool) []byte
	// Text is the prompt's text (its last user message), kept only for
	// --log-request-content.
	Text string
}

// Source yields the requests of a run. Next is called for n = 0, 1, 2...
// in order, by one goroutine; a source that may wait (a dataset read
// ahead) gives up with ErrStopped when stop closes.
type Source interface {
	Next(n int64, stop <-chan struct{}) (*Item, error)
}

// ErrStopped is a wait for the next request given up: the run stopped.
var ErrStopped = errors.New("stopped")

// Params are the fields of every request body but its messages and
// max_tokens.
type Params struct {
	Model            string // sent as "model" when not empty
	Reasoning        bool   // send max_completion_tokens
	Completions      int    // n; 0 or 1 sends none
	FrequencyPenalty *float64
	PresencePenalty  *float64
	Temperature      *float64
	TopP             *float64
}

// Body appends request it's JSON body to dst; with usage, it asks for a
// usage frame.
func (p *Params) Body(dst []byte, it *Item, usage bool) []byte {
	if it.body != nil {
		return it.body(dst, usage)
	}
	if dst == nil {
		dst = make([]byte, 0, len(it.messages)+256)
	}
	dst = append(dst, `{"messages":`...)
	dst = append(dst, it.messages...)
	if p.Model != "" {
		dst = append(dst, `,"model":`...)
		dst = strconv.AppendQuote(dst, p.Model)
	}
	if it.MaxTokens > 0 {
		if p.Reasoning {
			dst = append(dst, `,"max_completion_tokens":`...)
		} else {
			dst = append(dst, `,"max_tokens":`...)
		}
		dst = strconv.AppendInt(dst, int64(it.MaxTokens), 10)
	}
	if p.Completions > 1 {
		dst = append(dst, `,"n":`...)
		dst = strconv.AppendInt(dst, int64(p.Completions), 10)
	}
	for _, f := range []struct {
		key string
		v   *float64
	}{{"frequency_penalty", p.FrequencyPenalty}, {"presence_penalty", p.PresencePenalty}, {"temperature", p.Temperature}, {"top_p", p.TopP}} {
		if f.v != nil {
			dst = append(dst, `,"`...)
			dst = append(dst, f.key...)
			dst = append(dst, `":`...)
			dst = strconv.AppendFloat(dst, *f.v, 'g', -1, 64)
		}
	}
	dst = append(dst, `,"stream":true`...)
	if usage {
		dst = append(dst, `,"stream_options":{"include_usage":true}`...)
	}
	return append(dst, '}')
}

// appendMessage appends {"role":role,"content":content} to a messages
// array being rendered.
func appendMessage(dst []byte, first bool, role, content string) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"role":`...)
	dst = appendJSONString(dst, role)
	dst = append(dst, `,"content":`...)
	dst = appendJSONString(dst, content)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// LastUser returns the text of the item's last user message (its text
// parts joined, for a message of parts), for --log-request-content.
func (it *Item) LastUser() string {
	if it.Text != "" {
		return it.Text
	}
	var b []byte
	if it.body != nil {
		b = it.body(nil, false)
		var v struct {
			Messages json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(b, &v) != nil {
			return ""
		}
		b = v.Messages
	} else {
		b = it.messages
	}
	var msgs []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(b, &msgs) != nil {
		return ""
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(msgs[i].Content, &s) == nil {
			return s
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		json.Unmarshal(msgs[i].Content, &parts)
		var texts []string
		for _, p := range parts {
			if p.Text != "" {
				texts = append(texts, p.Text)
			}
		}
		return strings.Join(texts, "\n")
	}
	return ""
}
