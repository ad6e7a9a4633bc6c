package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Reading a request: its body, bounded; its JSON, checked as Azure checks
// it; the other APIs' requests put in the chat API's terms.

// MaxBody is the largest request body the simulator reads: room for an
// inline image of Azure's largest (20 MB, 27 MB of base64) or ten
// 2048x2048 photographs.
const MaxBody = 32 << 20

// chatRequest is the part of a request the simulator uses, in the chat
// API's terms: the other APIs' fields are read and turned into these.
type chatRequest struct {
	kind                kind
	texts               []string  // completions' prompt, embeddings' inputs: counted without chat overhead
	Messages            []message `json:"messages"`
	Model               string    `json:"model"`
	MaxTokens           *int      `json:"max_tokens"`
	MaxCompletionTokens *int      `json:"max_completion_tokens"`
	N                   *int      `json:"n"`
	Stream              bool      `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature      *float64 `json:"temperature"`
	TopP             *float64 `json:"top_p"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	// The Responses API's.
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	MaxOutputTokens *int            `json:"max_output_tokens"`
	// Legacy completions'.
	Prompt json.RawMessage `json:"prompt"`
	// Agents' (the chat API's and the Responses API's): read by
	// agentParams into ag. Text is the Responses API's text (its format).
	Tools          json.RawMessage `json:"tools"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	ResponseFormat json.RawMessage `json:"response_format"`
	Text           json.RawMessage `json:"text"`

	ag     *agentAsk  // nil: a plain request (no tools, no format)
	images imageCount // the messages' images
	hash   uint64     // the body's, when it has tools: decides auto's calls
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name"`
	// The Responses API's input items: an item's type, and a
	// function_call_output's output.
	Type   string          `json:"type"`
	Output json.RawMessage `json:"output"`
}

// readBody reads a request's body, of at most MaxBody bytes; it writes
// the error and returns false when it cannot (too large, or not whole
// within the server's read timeout).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= MaxBody {
		buf.Grow(int(n) + bytes.MinRead) // one allocation, not a doubling series
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBody)); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			invalid(w, "", "Request body too large: the limit is %d bytes.", MaxBody)
		case errors.Is(err, os.ErrDeadlineExceeded):
			writeError(w, http.StatusRequestTimeout, apiError{Code: "408",
				Message: "The request body did not arrive in time."})
		default:
			invalid(w, "", "Could not read the request body: %v", err)
		}
		return nil, false
	}
	return buf.Bytes(), true
}

// parse validates a request's body; it writes the error and returns false
// on bad input.
func (s *Server) parse(w http.ResponseWriter, body []byte, d *deployment, k kind) (*chatRequest, []tokenizer.Message, bool) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			invalid(w, te.Field, "Invalid type for '%s': expected %s, but got %s.", te.Field, jsonType(te.Type.String()), te.Value)
		} else {
			invalid(w, "", "We could not parse the JSON body of your request: %v", err)
		}
		return nil, nil, false
	}
	req.kind = k
	if !s.translate(w, &req) {
		return nil, nil, false
	}
	// Inputs to embed have no messages (req.texts); other requests are
	// chat messages by now.
	if len(req.Messages) == 0 && k != kindEmbeddings {
		invalid(w, "messages", "'messages' is a required property and must be a non-empty array.")
		return nil, nil, false
	}
	msgs, ok := chatMessages(w, req.Messages, d.cfg.Model, &req.images)
	if !ok || !checkParams(w, &req, d.reasoning) || !d.agentParams(w, &req, body) {
		return nil, nil, false
	}
	return &req, msgs, true
}

// chatMessages checks the messages' roles and contents and returns them
// as the tokenizer counts them, their images (for model) counted in im;
// it writes the error and returns false on bad input.
func chatMessages(w http.ResponseWriter, in []message, model string, im *imageCount) ([]tokenizer.Message, bool) {
	msgs := make([]tokenizer.Message, len(in))
	for i, m := range in {
		switch m.Role {
		case "system", "user", "assistant", "tool", "developer":
		default:
			invalid(w, fmt.Sprintf("messages[%d].role", i), "Invalid value for 'messages[%d].role': %q is not one of system, user, assistant, tool, developer.", i, m.Role)
			return nil, false
		}
		text, imgs, ok := contentText(m.Content)
		if !ok {
			invalid(w, fmt.Sprintf("messages[%d].content", i), "Invalid type for 'messages[%d].content': expected a string or an array of text parts.", i)
			return nil, false
		}
		if imgs != nil && !im.add(w, model, i, imgs) {
			return nil, false
		}
		msgs[i] = tokenizer.Message{Role: m.Role, Content: text, Name: m.Name}
	}
	return msgs, true
}

// checkParams checks the request's sampling and length parameters, as
// Azure does for a model that reasons or not; it writes the error and
// returns false on bad input.
func checkParams(w http.ResponseWriter, req *chatRequest, reasoning bool) bool {
	if reasoning && req.MaxTokens != nil {
		writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param("max_tokens"), Code: "unsupported_parameter",
			Message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."})
		return false
	}
	for name, v := range map[string]*int{"max_tokens": req.MaxTokens, "max_completion_tokens": req.MaxCompletionTokens} {
		if v != nil && *v < 1 {
			invalid(w, name, "Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", name, *v)
			return false
		}
	}
	if req.N != nil && (*req.N < 1 || *req.N > 128) {
		invalid(w, "n", "Invalid 'n': expected a value between 1 and 128, but got %d instead.", *req.N)
		return false
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
	}{{"temperature", req.Temperature, 0, 2}, {"top_p", req.TopP, 0, 1}, {"frequency_penalty", req.FrequencyPenalty, -2, 2}, {"presence_penalty", req.PresencePenalty, -2, 2}} {
		if c.v != nil && (*c.v < c.lo || *c.v > c.hi) {
			invalid(w, c.name, "Invalid '%s': expected a value between %g and %g, but got %g instead.", c.name, c.lo, c.hi, *c.v)
			return false
		}
	}
	if req.StreamOptions != nil && !req.Stream {
		invalid(w, "stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		return false
	}
	return true
}

// translate turns a Responses, completions or embeddings request into
// the chat terms the simulator runs on; it writes the error and returns
// false on bad input.
func (s *Server) translate(w http.ResponseWriter, req *chatRequest) bool {
	switch req.kind {
	case kindResponses:
		return fromResponses(w, req)
	case kindCompletions:
		texts, ok := stringOrStrings(req.Prompt)
		if !ok || len(texts) != 1 {
			invalid(w, "prompt", "'prompt' is a required property: one string (the simulator takes no batch of prompts).")
			return false
		}
		req.texts = texts
		b, _ := json.Marshal(texts[0])
		req.Messages = []message{{Role: "user", Content: b}}
	case kindEmbeddings:
		texts, ok := stringOrStrings(req.Input)
		if !ok || len(texts) == 0 || len(texts) > 2048 {
			invalid(w, "input", "'input' is a required property: a string or an array of 1 to 2048 strings.")
			return false
		}
		if req.Stream {
			invalid(w, "stream", "Embeddings are not streamed.")
			return false
		}
		// Counted as they are, not as messages: no copy of them.
		req.texts, req.Messages = texts, nil
	}
	return true
}

// fromResponses turns a Responses API request into chat terms: its
// instructions a system message, its input user messages (or its own
// items), max_output_tokens the limit. It writes the error and returns
// false on bad input.
func fromResponses(w http.ResponseWriter, req *chatRequest) bool {
	if req.Messages != nil || req.MaxTokens != nil || req.N != nil || req.StreamOptions != nil {
		name := map[bool]string{true: "messages", false: "max_tokens"}[req.Messages != nil]
		if req.N != nil {
			name = "n"
		} else if req.StreamOptions != nil {
			name = "stream_options"
		}
		writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param(name), Code: "unknown_parameter",
			Message: fmt.Sprintf("Unknown parameter: '%s'.", name)})
		return false
	}
	if req.Instructions != "" {
		req.Messages = append(req.Messages, message{Role: "system", Content: json.RawMessage(strconv.Quote(req.Instructions))})
	}
	var text string
	if json.Unmarshal(req.Input, &text) == nil {
		b, _ := json.Marshal(text)
		req.Messages = append(req.Messages, message{Role: "user", Content: b})
	} else {
		var items []message
		if len(req.Input) == 0 || json.Unmarshal(req.Input, &items) != nil || len(items) == 0 {
			invalid(w, "input", "'input' is a required property: a string or a non-empty array of input items.")
			return false
		}
		for i := range items {
			callItem(&items[i])
		}
		req.Messages = append(req.Messages, items...)
	}
	if v := req.MaxOutputTokens; v != nil && *v < 16 {
		invalid(w, "max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got %d instead.", *v)
		return false
	}
	req.MaxTokens, req.MaxOutputTokens = req.MaxOutputTokens, nil
	if req.MaxTokens != nil && req.MaxCompletionTokens == nil {
		// One limit for reasoning models and others alike.
		req.MaxCompletionTokens, req.MaxTokens = req.MaxTokens, nil
	}
	return true
}

// callItem puts a Responses API function_call or function_call_output
// input item in chat terms: an assistant message (its call not counted,
// as a chat message's tool_calls are not) or a tool message of its
// output.
func callItem(m *message) {
	switch m.Type {
	case "function_call":
		m.Role, m.Content, m.Name = "assistant", nil, "" // its name is the function's
	case "function_call_output":
		m.Role, m.Content, m.Name = "tool", m.Output, ""
	}
}

// stringOrStrings reads a string or an array of strings.
func stringOrStrings(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many, true
	}
	return nil, false
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	case goType == "string":
		return "a string"
	}
	return "an object"
}

// contentText returns a message's text: a string, or text parts; and
// its parts when it has an image among them.
func contentText(raw json.RawMessage) (string, []part, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, true
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s, nil, true
	}
	var parts []part
	if json.Unmarshal(raw, &parts) != nil {
		return "", nil, false
	}
	var b strings.Builder
	images := false
	for i := range parts {
		b.WriteString(parts[i].Text)
		images = images || parts[i].isImage()
	}
	if !images {
		parts = nil
	}
	return b.String(), parts, true
}
