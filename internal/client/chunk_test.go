package client

import (
	"encoding/json"
	"strings"
	"testing"
)

// reference parses a chunk with encoding/json, the way the fast parser
// must agree with.
func reference(data []byte) (chunk, bool) {
	var v struct {
		Choices []struct {
			Delta *struct {
				Content          *string `json:"content"`
				Refusal          *string `json:"refusal"`
				ReasoningContent *string `json:"reasoning_content"`
				ToolCalls        []struct {
					Function *struct {
						Name      *string `json:"name"`
						Arguments *string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     *float64 `json:"prompt_tokens"`
			CompletionTokens *float64 `json:"completion_tokens"`
		} `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return chunk{}, false
	}
	var c chunk
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, ch := range v.Choices {
		if d := ch.Delta; d != nil {
			for _, s := range []*string{d.Content, d.Refusal, d.ReasoningContent} {
				if str(s) != "" {
					c.output = true
				}
				c.text = append(c.text, str(s)...)
			}
			for _, tc := range d.ToolCalls {
				c.output = true
				if tc.Function != nil {
					c.text = append(c.text, str(tc.Function.Name)+str(tc.Function.Arguments)...)
				}
			}
		}
		if ch.FinishReason != nil {
			c.finish = *ch.FinishReason
		}
	}
	if v.Usage != nil {
		c.hasUsage = true
		if v.Usage.PromptTokens != nil {
			c.prompt = int(*v.Usage.PromptTokens)
		}
		if v.Usage.CompletionTokens != nil {
			c.completion = int(*v.Usage.CompletionTokens)
		}
	}
	if len(v.Error) > 0 && string(v.Error) != "null" {
		c.hasError = true
		var e struct {
			Message string `json:"message"`
		}
		var s string
		if json.Unmarshal(v.Error, &e) == nil {
			c.errMessage = e.Message
		} else if json.Unmarshal(v.Error, &s) == nil {
			c.errMessage = s
		}
	}
	return c, true
}

func same(a, b chunk) bool {
	return a.output == b.output && string(a.text) == string(b.text) && a.finish == b.finish && a.hasUsage == b.hasUsage &&
		a.prompt == b.prompt && a.completion == b.completion && a.hasError == b.hasError && a.errMessage == b.errMessage
}

var chunkSeeds = []string{
	`{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}`,
	`{"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1,"id":"x","model":"m","object":"chat.completion.chunk","system_fingerprint":"fp"}`,
	`{"choices":[{"delta":{"content":" word"},"finish_reason":null,"index":0}]}`,
	`{"choices":[{"delta":{"content":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}}]}`,
	`{"choices":[{"delta":{},"finish_reason":"length","index":0}]}`,
	`{"choices":[],"usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}}`,
	`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"x\":1}"}}]}}]}`,
	`{"choices":[{"delta":{"reasoning_content":"thinking"}}]}`,
	`{"error":{"message":"The server had an error","code":500}}`,
	`{"error":"plain"}`,
	` { "choices" : [ { "delta" : { "content" : "x" } } ] , "usage" : null } `,
	`{"choices":[{"delta":{"content":"x"}}],"extra":[1,-2.5e3,true,false,null,{"a":[]}]}`,
	`{"choices":[{"delta":{"content":"x"}}`, `{"choices":[{"delta":{"content":"x}]}`, `[1]`, `{}`, `{"a":tru}`,
}

func TestParseChunk(t *testing.T) {
	var c chunk
	for _, s := range chunkSeeds {
		want, ok := reference([]byte(s))
		err := parseChunk([]byte(s), &c)
		if ok != (err == nil) {
			t.Errorf("%s: parse error %v, reference ok %v", s, err, ok)
			continue
		}
		if ok && !same(c, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", s, c, want)
		}
	}
}

func FuzzParseChunk(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add(s)
	}
	keys := []string{"choices", "delta", "content", "refusal", "reasoning_content", "tool_calls", "function", "name",
		"arguments", "finish_reason", "usage", "prompt_tokens", "completion_tokens", "error", "message"}
	f.Fuzz(func(t *testing.T, s string) {
		// encoding/json matches keys case-insensitively; servers send
		// lowercase keys, and the fast parser matches them exactly.
		low := strings.ToLower(s)
		for _, k := range keys {
			if strings.Count(low, `"`+k+`"`) != strings.Count(s, `"`+k+`"`) {
				t.Skip()
			}
		}
		var c chunk
		err := parseChunk([]byte(s), &c)
		want, ok := reference([]byte(s))
		// The fast parser may accept a little more than encoding/json
		// (it does not check every number form) but must never reject
		// valid JSON, and must agree on everything it reads.
		if ok && err != nil {
			t.Fatalf("%q: rejected valid JSON: %v", s, err)
		}
		if ok && !same(c, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", s, c, want)
		}
	})
}

func BenchmarkParseChunk(b *testing.B) {
	data := []byte(`{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},"delta":{"content":" word"},"finish_reason":null,"index":0,"logprobs":null}],"created":1795794179,"id":"chatcmpl-0613025e83445143eaca01b6ef8dd","model":"gpt-4o-mini","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}`)
	b.Run("fast", func(b *testing.B) {
		var c chunk
		b.ReportAllocs()
		for range b.N {
			parseChunk(data, &c)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			reference(data)
		}
	})
}
