package traffic

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// Agent is what a run adds to every request beside its messages:
// function tools, a response format, and (in synthetic prompts) images.
// NewAgent builds it once per run; it is read-only after, shared by every
// request.
type Agent struct {
	Tools  []tools.Def
	Choice tools.Choice // sent with the tools
	// JSON asks for a JSON object answer (json_object); Schema, when
	// set, for one that follows it (json_schema).
	JSON   bool
	Schema *schema.Schema
	// Images is how many copies of the run's one synthetic image each
	// synthetic prompt carries, ImageW x ImageH at Detail, as the inline
	// data URL ImageURL.
	Images         int
	ImageW, ImageH int
	Detail         vision.Detail
	ImageURL       string
	// ImageTokens is one image's prompt tokens by the model's published
	// rule; RuleGuessed says the model is not known and gpt-4o's rule
	// counted them.
	ImageTokens int
	RuleGuessed bool
	// ToolTokens and SchemaTokens are the prompt tokens the definitions
	// and a json_schema format add to a request.
	ToolTokens, SchemaTokens int
	// ToolResult is the text a conversation answers each tool call with
	// (the agent loop); ToolResultTokens its tokens.
	ToolResult       string
	ToolResultTokens int
	// Expect is what answers are checked by; nil when nothing is asked.
	Expect *schema.Expect
	// responses renders synthetic images in the Responses API's shape.
	responses bool
	// The fields rendered once: chat's and the Responses API's.
	chatTools, respTools   []byte
	chatFormat, respFormat []byte
	imageParts             []byte // ,{image part}... in chat's shape
}

// AgentSpec is what NewAgent builds an Agent of.
type AgentSpec struct {
	Tools  int // synthetic definitions (0: none)
	Choice tools.Choice
	Seed   uint64 // of the definitions and the image
	// Format is "", "json" or "schema:FILE".
	Format string
	Images int
	// ImageW and ImageH are the images' size; Detail their detail.
	ImageW, ImageH int
	Detail         vision.Detail
	// Model names the model whose rule counts images (unknown: gpt-4o's).
	Model string
	// ToolResultTokens is the tool result's length (0: none).
	ToolResultTokens int
	// Responses renders synthetic prompts' images in the Responses
	// API's shape (the run's bodies are for it).
	Responses bool
	Tokenizer *tokenizer.Tokenizer
}

// guessRule is the model whose image rule counts images for a model
// aoaibench does not know.
const guessRule = "gpt-4o"

// NewAgent renders the tools, the response format and the image a run
// sends, and counts the prompt tokens they add; nil when spec asks for
// none of them and no tool result. Its errors name the flag at fault.
func NewAgent(spec AgentSpec) (*Agent, error) {
	if spec.Tools == 0 && spec.Format == "" && spec.Images == 0 && spec.ToolResultTokens == 0 {
		return nil, nil
	}
	a := &Agent{Choice: spec.Choice, Images: spec.Images, Detail: cmpDetail(spec.Detail), ToolResultTokens: spec.ToolResultTokens, responses: spec.Responses}
	if spec.Tools > 0 {
		a.Choice = cmpChoice(spec.Choice)
	}
	tk := spec.Tokenizer
	if spec.Tools > 0 {
		a.Tools = tools.Synthetic(spec.Tools, spec.Seed)
		a.ToolTokens = tools.Tokens(tk, a.Tools)
		a.chatTools = tools.JSON(a.Tools)
		a.respTools = responsesTools(a.chatTools)
	}
	switch f := spec.Format; {
	case f == "json":
		a.JSON = true
	case strings.HasPrefix(f, "schema:"):
		s, err := schema.Load(strings.TrimPrefix(f, "schema:"))
		if err != nil {
			return nil, fmt.Errorf("--response-format: %w", err)
		}
		a.JSON, a.Schema = true, s
		a.SchemaTokens = s.Tokens(tk.Count)
	case f != "":
		return nil, fmt.Errorf("--response-format must be json or schema:FILE, got %q", f)
	}
	if a.JSON {
		a.chatFormat, a.respFormat = formats(a.Schema)
	}
	if a.Tools != nil || a.JSON {
		a.Expect = &schema.Expect{JSON: a.JSON, Answer: a.Schema}
		if a.Tools != nil {
			a.Expect.Tools = schema.ForTools(a.Tools)
		}
	}
	if spec.Images > 0 {
		if err := a.image(spec); err != nil {
			return nil, err
		}
	}
	if spec.ToolResultTokens > 0 {
		words := tokenizer.NewWords()
		b := make([]byte, 0, spec.ToolResultTokens*8)
		// Words of their own, the same for every call: a tool's result
		// in a run is one fixed text.
		for i := range spec.ToolResultTokens {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, words[(i*11+5)%len(words)]...)
		}
		a.ToolResult = string(b)
	}
	return a, nil
}

// MaxImageUpload is the most bytes of images (their data URLs) one
// synthetic request carries: an image of Azure's 20 MB limit, in base64.
const MaxImageUpload = vision.MaxInline

// image makes the run's one synthetic image and counts its tokens.
func (a *Agent) image(spec AgentSpec) error {
	img, err := vision.Synthetic(spec.ImageW, spec.ImageH, spec.Seed)
	if err != nil {
		return fmt.Errorf("--image-size: %w", err)
	}
	a.ImageW, a.ImageH, a.ImageURL = spec.ImageW, spec.ImageH, vision.DataURL(img, "image/jpeg")
	if up := spec.Images * len(a.ImageURL); up > MaxImageUpload {
		// Refused before anything is sent: every request would be, by
		// the server, and each would hold them twice in memory.
		return fmt.Errorf("--images %d of %dx%d are %.1f MB a request as data URLs, over the %d MB one request carries (one image of Azure's 20 MB limit, in base64): fewer or smaller images",
			spec.Images, spec.ImageW, spec.ImageH, float64(up)/(1<<20), MaxImageUpload>>20)
	}
	count, guessed := ImageCounter(spec.Model)
	a.ImageTokens, a.RuleGuessed = count(spec.ImageW, spec.ImageH, spec.Detail), guessed
	// As the API documents it: the type first, then the URL and detail;
	// in the Responses API's shape when the run's bodies are, so that a
	// body is never translated (a megabyte of images costs milliseconds
	// to decode and encode again).
	url, detail := appendJSONString(nil, a.ImageURL), appendJSONString(nil, string(a.Detail))
	var part []byte
	if a.responses {
		part = append(append(append(append([]byte(`{"type":"input_image","image_url":`), url...), `,"detail":`...), detail...), '}')
	} else {
		part = append(append(append(append([]byte(`{"type":"image_url","image_url":{"url":`), url...), `,"detail":`...), detail...), `}}`...)
	}
	for range spec.Images {
		a.imageParts = append(a.imageParts, ',')
		a.imageParts = append(a.imageParts, part...)
	}
	return nil
}

// ImageCounter returns how a model counts an image's prompt tokens: by
// its published rule, or (guessed true) by gpt-4o's when the model takes
// no images by aoaibench's table or is not known (plan.Validate refuses
// images to a known model without vision before this).
func ImageCounter(model string) (count func(w, h int, d vision.Detail) int, guessed bool) {
	r, ok := vision.RuleOf(model)
	if !ok {
		r, _ = vision.RuleOf(guessRule)
	}
	return r.Tokens, !ok
}

// cmpDetail is the detail sent: "" is auto.
func cmpDetail(d vision.Detail) vision.Detail {
	if d == "" {
		return vision.Auto
	}
	return d
}

// parts is the image parts of a synthetic prompt (nil: none).
func (a *Agent) parts() []byte {
	if a == nil {
		return nil
	}
	return a.imageParts
}

// Extra is the prompt tokens the agent adds to a synthetic request beside
// its messages: the definitions, the images and the schema.
func (a *Agent) Extra() int {
	if a == nil {
		return 0
	}
	return a.ToolTokens + a.Images*a.ImageTokens + a.SchemaTokens
}

// ImageBytes is the upload bytes of one synthetic prompt's images: their
// data URLs.
func (a *Agent) ImageBytes() int {
	if a == nil {
		return 0
	}
	return a.Images * len(a.ImageURL)
}

// Describe says, in a line for the start banner, what the agent adds to
// each request ("" when nothing).
func (a *Agent) Describe(model string) string {
	if a == nil || a.Extra() == 0 && a.Images == 0 {
		return ""
	}
	var parts []string
	if a.Tools != nil {
		parts = append(parts, fmt.Sprintf("%s %s %s prompt tokens a request (tool_choice %s)", plural(len(a.Tools), "tool"), adds(len(a.Tools)), thousands(a.ToolTokens), cmpChoice(a.Choice)))
	}
	if a.Images > 0 {
		s := fmt.Sprintf("%s of %dx%d (detail %s, %s KB each) %s %s", plural(a.Images, "image"), a.ImageW, a.ImageH, cmpDetail(a.Detail), thousands((len(a.ImageURL)+512)/1024), adds(a.Images), thousands(a.Images*a.ImageTokens))
		if a.RuleGuessed {
			s += fmt.Sprintf(" (counted by %s's rule: model %q unknown)", guessRule, model)
		}
		parts = append(parts, s)
	}
	if a.Schema != nil {
		parts = append(parts, fmt.Sprintf("the schema %s adds %s", a.Schema.Name, thousands(a.SchemaTokens)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "note: " + strings.Join(parts, "; ")
}

// cmpChoice is the choice sent: "" is auto.
func cmpChoice(c tools.Choice) tools.Choice {
	if c == "" {
		return tools.Auto
	}
	return c
}

// adds is the verb of a count of things: "1 tool adds", "3 tools add".
func adds(n int) string {
	if n == 1 {
		return "adds"
	}
	return "add"
}

// plural is a count of things: "1 tool", "3 tools".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// thousands writes n with commas: 1,644.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// formats renders a response format: chat's response_format and the
// Responses API's text.format.
func formats(s *schema.Schema) (chat, resp []byte) {
	if s == nil {
		return []byte(`{"type":"json_object"}`), []byte(`{"type":"json_object"}`)
	}
	name, _ := json.Marshal(s.Name)
	chat = append(append(append(append([]byte(`{"type":"json_schema","json_schema":{"name":`), name...), `,"schema":`...), s.Raw...), `,"strict":true}}`...)
	resp = append(append(append(append([]byte(`{"type":"json_schema","name":`), name...), `,"schema":`...), s.Raw...), `,"strict":true}`...)
	return chat, resp
}

// responsesTools is a chat "tools" array in the Responses API's shape: a
// function's fields beside its type, not under "function". Tools of
// other types pass as they are.
func responsesTools(chat []byte) []byte {
	var list []map[string]json.RawMessage
	if json.Unmarshal(chat, &list) != nil {
		return chat // the server will say what is wrong
	}
	out := make([]map[string]json.RawMessage, len(list))
	for i, t := range list {
		f, ok := t["function"]
		var fields map[string]json.RawMessage
		if !ok || json.Unmarshal(f, &fields) != nil {
			out[i] = t
			continue
		}
		fields["type"] = json.RawMessage(`"function"`)
		out[i] = fields
	}
	b, err := json.Marshal(out)
	if err != nil {
		return chat
	}
	return b
}

// responsesChoice is a chat tool_choice in the Responses API's shape: a
// word as it is, a named function's name beside its type.
func responsesChoice(c json.RawMessage) json.RawMessage {
	var v struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(c, &v) != nil || v.Function.Name == "" {
		return c
	}
	b, _ := json.Marshal(map[string]string{"type": "function", "name": v.Function.Name})
	return b
}

// responsesFormat is a chat response_format as the Responses API's
// text.format: json_schema's fields beside its type.
func responsesFormat(f json.RawMessage) json.RawMessage {
	var v struct {
		Type       string                     `json:"type"`
		JSONSchema map[string]json.RawMessage `json:"json_schema"`
	}
	if json.Unmarshal(f, &v) != nil || v.Type != "json_schema" || v.JSONSchema == nil {
		return f
	}
	v.JSONSchema["type"] = json.RawMessage(`"json_schema"`)
	b, err := json.Marshal(v.JSONSchema)
	if err != nil {
		return f
	}
	return b
}

// fields are a dataset row's own tools, tool_choice and response_format,
// as given (chat's shape), sent in its requests' bodies.
type fields struct {
	tools, choice, format json.RawMessage
}

// appendAsk appends the body fields of what request it asks beside its
// messages: a dataset row's own fields, else the agent's; chat's shape,
// or the Responses API's when responses.
func (p *Params) appendAsk(dst []byte, it *Item, responses bool) []byte {
	a := p.Agent
	var toolsJSON, choice, format []byte
	if a != nil {
		toolsJSON, format = a.chatTools, a.chatFormat
		if responses {
			toolsJSON, format = a.respTools, a.respFormat
		}
		if a.Tools != nil && a.Choice != "" {
			choice = strconv.AppendQuote(nil, string(a.Choice))
		}
	}
	if f := it.fields; f != nil {
		if f.tools != nil {
			toolsJSON, choice = f.tools, f.choice
			if responses {
				toolsJSON, choice = responsesTools(f.tools), responsesChoice(f.choice)
			}
		}
		if f.format != nil {
			format = f.format
			if responses {
				format = responsesFormat(f.format)
			}
		}
	}
	if toolsJSON != nil {
		dst = append(dst, `,"tools":`...)
		dst = append(dst, toolsJSON...)
		if len(choice) > 0 {
			dst = append(dst, `,"tool_choice":`...)
			dst = append(dst, choice...)
		}
	}
	if format != nil {
		if responses {
			dst = append(dst, `,"text":{"format":`...)
			dst = append(dst, format...)
			return append(dst, '}')
		}
		dst = append(dst, `,"response_format":`...)
		dst = append(dst, format...)
	}
	return dst
}
