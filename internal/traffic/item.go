package traffic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/schema"
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
	// Expect is what the answer is checked by: the tools' argument
	// schemas, a structured answer's; nil for a plain request. Shared
	// between requests: read-only.
	Expect *schema.Expect
	// Images is how many images the request carries, ImageBytes the
	// upload bytes of their data URLs, ImageTokens their prompt tokens
	// by the model's rule (-1: not known, such as an image given by
	// address).
	Images, ImageBytes, ImageTokens int
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
	// Endpoint is the API the body is for: chat ("" too) takes messages,
	// responses input and max_output_tokens, completions a prompt
	// string, embeddings input strings and no stream.
	Endpoint         plan.Endpoint
	NoStream         bool   // ask for the whole answer at once
	Batch            int    // embeddings: inputs per request (0 is 1)
	Model            string // sent as "model" when not empty
	Reasoning        bool   // send max_completion_tokens
	Completions      int    // n; 0 or 1 sends none
	FrequencyPenalty *float64
	PresencePenalty  *float64
	Temperature      *float64
	TopP             *float64
}

// Chat reports whether the bodies are streamed chat completions (the
// fixed shape's fast path, the prompt counted exactly).
func (p *Params) Chat() bool { return (p.Endpoint == "" || p.Endpoint == plan.Chat) && !p.NoStream }

// MinResponsesTokens is the least max_output_tokens the Responses API
// takes: a smaller limit is sent as this.
const MinResponsesTokens = 16

// Body appends request it's JSON body to dst; with usage, it asks for a
// usage frame.
func (p *Params) Body(dst []byte, it *Item, usage bool) []byte {
	if it.body != nil && p.Chat() {
		return it.body(dst, usage) // the fixed shape's fast path
	}
	msgs := it.Messages()
	if dst == nil {
		dst = make([]byte, 0, len(msgs)*max(p.Batch, 1)+256)
	}
	switch p.Endpoint {
	case plan.Responses:
		// The Responses API takes chat messages as its input (easy input
		// messages); it has no n and no stream_options: usage comes in
		// response.completed.
		dst = append(dst, `{"input":`...)
		dst = append(dst, responsesInput(msgs)...)
		dst = p.model(dst)
		if it.MaxTokens > 0 {
			dst = append(dst, `,"max_output_tokens":`...)
			dst = strconv.AppendInt(dst, int64(max(it.MaxTokens, MinResponsesTokens)), 10)
		}
		dst = p.sampling(dst, false)
		if p.NoStream {
			return append(dst, `,"stream":false}`...)
		}
		return append(dst, `,"stream":true}`...)
	case plan.Completions:
		dst = append(dst, `{"prompt":`...)
		dst = appendJSONString(dst, promptText(msgs))
		dst = p.model(dst)
		if it.MaxTokens > 0 {
			dst = append(dst, `,"max_tokens":`...)
			dst = strconv.AppendInt(dst, int64(it.MaxTokens), 10)
		}
		dst = p.sampling(dst, true)
		return p.stream(dst, usage)
	case plan.Embeddings:
		// One text, Batch times: an embedding model has no prompt cache
		// to favour repeats, and every input is counted and embedded.
		text := appendJSONString(nil, promptText(msgs))
		dst = append(dst, `{"input":[`...)
		for i := range max(p.Batch, 1) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, text...)
		}
		dst = append(dst, ']')
		dst = p.model(dst)
		return append(dst, '}')
	}
	dst = append(dst, `{"messages":`...)
	dst = append(dst, msgs...)
	dst = p.model(dst)
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
	dst = p.sampling(dst, true)
	return p.stream(dst, usage)
}

func (p *Params) model(dst []byte) []byte {
	if p.Model == "" {
		return dst
	}
	dst = append(dst, `,"model":`...)
	return strconv.AppendQuote(dst, p.Model)
}

// sampling appends the sampling parameters; penalties only where the API
// has them (the Responses API has none).
func (p *Params) sampling(dst []byte, penalties bool) []byte {
	for _, f := range []struct {
		key string
		v   *float64
	}{{"frequency_penalty", p.FrequencyPenalty}, {"presence_penalty", p.PresencePenalty}, {"temperature", p.Temperature}, {"top_p", p.TopP}} {
		if f.v != nil && (penalties || !strings.HasSuffix(f.key, "_penalty")) {
			dst = append(dst, `,"`...)
			dst = append(dst, f.key...)
			dst = append(dst, `":`...)
			dst = strconv.AppendFloat(dst, *f.v, 'g', -1, 64)
		}
	}
	return dst
}

// stream ends a chat or completions body: a stream, with a usage frame
// asked for, or the whole answer.
func (p *Params) stream(dst []byte, usage bool) []byte {
	if p.NoStream {
		return append(dst, `,"stream":false}`...)
	}
	dst = append(dst, `,"stream":true`...)
	if usage {
		dst = append(dst, `,"stream_options":{"include_usage":true}`...)
	}
	return append(dst, '}')
}

// responsesInput is chat messages as the Responses API's input: plain
// messages pass as they are (easy input messages); content parts become
// its parts (text → input_text, or output_text for the assistant;
// image_url → input_image), a tool's answer a user's text, and fields it
// does not take (name, tool_call_id) are dropped.
func responsesInput(msgs []byte) []byte {
	if !bytes.Contains(msgs, []byte(`"type"`)) && !bytes.Contains(msgs, []byte(`"name"`)) && !bytes.Contains(msgs, []byte(`"tool`)) {
		return msgs
	}
	var list []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(msgs, &list) != nil {
		return msgs // the server will say what is wrong
	}
	type part map[string]any
	out := make([]map[string]any, 0, len(list))
	for _, m := range list {
		role := m.Role
		if role == "tool" || role == "function" {
			role = "user"
		}
		var text string
		if json.Unmarshal(m.Content, &text) == nil {
			out = append(out, map[string]any{"role": role, "content": text})
			continue
		}
		var parts []map[string]json.RawMessage
		json.Unmarshal(m.Content, &parts)
		var content []part
		for _, p := range parts {
			var typ, t string
			json.Unmarshal(p["type"], &typ)
			switch typ {
			case "text", "input_text", "output_text":
				json.Unmarshal(p["text"], &t)
				kind := "input_text"
				if role == "assistant" {
					kind = "output_text"
				}
				content = append(content, part{"type": kind, "text": t})
			case "image_url":
				var img struct {
					URL string `json:"url"`
				}
				if json.Unmarshal(p["image_url"], &img) != nil || img.URL == "" {
					json.Unmarshal(p["image_url"], &img.URL)
				}
				content = append(content, part{"type": "input_image", "image_url": img.URL})
			}
		}
		if content == nil {
			content = []part{}
		}
		out = append(out, map[string]any{"role": role, "content": content})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return msgs
	}
	return b
}

// Messages returns the item's messages as a JSON array.
func (it *Item) Messages() []byte {
	if it.messages != nil {
		return it.messages
	}
	if it.body == nil {
		return []byte("[]")
	}
	var v struct {
		Messages json.RawMessage `json:"messages"`
	}
	json.Unmarshal(it.body(nil, false), &v)
	return v.Messages
}

// promptText is a messages array as one text, for the APIs that take
// text: each message's text parts, a line between messages.
func promptText(msgs []byte) string {
	var list []struct {
		Content json.RawMessage `json:"content"`
	}
	json.Unmarshal(msgs, &list)
	var b strings.Builder
	for i, m := range list {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(contentText(m.Content))
	}
	return b.String()
}

// contentText is a message's content as text: the string, or its text
// parts joined.
func contentText(c json.RawMessage) string {
	var s string
	if json.Unmarshal(c, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(c, &parts)
	var texts []string
	for _, p := range parts {
		if p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
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
	b := it.Messages()
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
		return contentText(msgs[i].Content)
	}
	return ""
}
