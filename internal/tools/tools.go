// Package tools owns function tools as requests carry them: their
// definitions (synthetic ones of realistic size, or a request's own), the
// tool_choice vocabulary, and how many prompt tokens the definitions
// count as, by OpenAI's published way of counting them. The load generator
// and the simulator both count here, so that they agree.
package tools

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Choice is a request's tool_choice.
type Choice string

// The tool_choice values aoaibench sends.
const (
	Auto     Choice = "auto"     // the model decides whether to call a tool
	Required Choice = "required" // the model must call one
	None     Choice = "none"     // the model must not
)

// Valid reports whether c is a tool_choice aoaibench sends ("" is Auto).
func (c Choice) Valid() bool { return c == "" || c == Auto || c == Required || c == None }

// MaxTools is the most function definitions a request may carry (the
// API's limit).
const MaxTools = 128

// Def is one function tool's definition.
type Def struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the function's arguments (an
	// object), as sent.
	Parameters json.RawMessage
}

// wire is a tool as the chat API carries it.
type wire struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	} `json:"function"`
}

// JSON renders definitions as a request's "tools" array.
func JSON(defs []Def) []byte {
	out := make([]wire, len(defs))
	for i, d := range defs {
		out[i].Type = "function"
		out[i].Function.Name = d.Name
		out[i].Function.Description = d.Description
		out[i].Function.Parameters = d.Parameters
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Parameters are JSON we made or read; a definition that does
		// not marshal is a bug.
		panic(fmt.Sprintf("tools: rendering definitions: %v", err))
	}
	return b
}

// Parse reads a request's "tools" array: its function tools (a tool of
// another type is kept by name only, its definition counted as none).
func Parse(raw []byte) ([]Def, error) {
	var list []wire
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("tools: not an array of tools: %w", err)
	}
	if len(list) > MaxTools {
		return nil, fmt.Errorf("tools: %d tools, the most is %d", len(list), MaxTools)
	}
	defs := make([]Def, 0, len(list))
	for i, w := range list {
		if w.Type != "function" && w.Type != "" {
			continue
		}
		if w.Function.Name == "" {
			return nil, fmt.Errorf("tools[%d]: a function without a name", i)
		}
		defs = append(defs, Def{Name: w.Function.Name, Description: w.Function.Description, Parameters: w.Function.Parameters})
	}
	return defs, nil
}

// Names lists the definitions' names.
func Names(defs []Def) []string {
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.Name
	}
	return out
}

// The token counts of OpenAI's published count of function definitions
// (the OpenAI Cookbook, "How to count tokens with tiktoken", section
// "Counting tokens for chat completions with tool calls", which it calls
// an estimate): per function, per property, per enum item, and once for
// the list. The gpt-3.5 and gpt-4 (cl100k) families count 10 a function,
// the o200k families 7.
const (
	funcInitO200k  = 7
	funcInitCl100k = 10
	propInit       = 3
	propKey        = 3
	enumInit       = -3
	enumItem       = 3
	funcEnd        = 12
)

// property is what the count reads of a parameter.
type property struct {
	Type        any    `json:"type"`
	Description string `json:"description"`
	Enum        []any  `json:"enum"`
}

// Tokens is the prompt tokens that definitions add to a request, counted
// as the OpenAI Cookbook counts them: each function's "name:description",
// each property's "name:type:description" and enum items, and the fixed
// counts above; 0 for no definitions.
func Tokens(tk *tokenizer.Tokenizer, defs []Def) int {
	if len(defs) == 0 {
		return 0
	}
	init := funcInitO200k
	if tk.Encoding() == tokenizer.Cl100k {
		init = funcInitCl100k
	}
	n := 0
	for _, d := range defs {
		n += init + tk.Count(d.Name+":"+strings.TrimSuffix(d.Description, "."))
		var params struct {
			Properties map[string]property `json:"properties"`
		}
		json.Unmarshal(d.Parameters, &params) // counts no property of a schema it cannot read
		if len(params.Properties) == 0 {
			continue
		}
		n += propInit
		for name, p := range params.Properties {
			n += propKey
			if len(p.Enum) > 0 {
				n += enumInit
				for _, e := range p.Enum {
					n += enumItem + tk.Count(fmt.Sprint(e))
				}
			}
			n += tk.Count(name + ":" + typeName(p.Type) + ":" + strings.TrimSuffix(p.Description, "."))
		}
	}
	return n + funcEnd
}

// typeName is a property's "type" as the count writes it: a list of
// types joined.
func typeName(t any) string {
	switch v := t.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		return strings.Join(parts, "|")
	}
	return "object"
}

// Call is one tool call an answer made, as the answer carried it: the
// call's id, the function's name and its arguments (JSON text, as
// streamed: whole or not).
type Call struct {
	ID   string
	Name string
	Args []byte
}
