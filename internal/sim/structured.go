package sim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aoaibench/aoaibench/internal/schema"
)

// Structured answers: a request's response format (the chat API's
// response_format, the Responses API's text.format) read and its schema
// compiled, within bounds: a schema of at most schema.MaxFile bytes and
// maxNesting levels, compiled once per text in the deployment's memo.

// maxNesting is the deepest a schema (or a tool's parameters) may nest,
// in JSON objects and arrays: far past any real one, and it bounds what
// compiling one costs.
const maxNesting = 64

// objectText is the schema of a json_object answer: an object of words.
const objectText = `{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}`

// format is a response format as either API carries it: the chat API's
// {"type":"json_schema","json_schema":{"name","schema","strict"}}, the
// Responses API's {"type":"json_schema","name","schema","strict"}.
type format struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Schema     json.RawMessage `json:"schema"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema"`
}

// responsesFormat is the Responses API's text.format, nil when none.
func responsesFormat(text json.RawMessage) json.RawMessage {
	if !present(text) {
		return nil
	}
	var t struct {
		Format json.RawMessage `json:"format"`
	}
	if json.Unmarshal(text, &t) != nil {
		return json.RawMessage(`"not an object"`) // readFormat refuses it
	}
	return t.Format
}

// readFormat reads a response format into ag; it writes the error and
// returns false on bad input.
func (d *deployment) readFormat(w http.ResponseWriter, raw json.RawMessage, ag *agentAsk) bool {
	var f format
	if json.Unmarshal(raw, &f) != nil {
		invalid(w, "response_format", "Invalid type for 'response_format': expected an object.")
		return false
	}
	switch f.Type {
	case "text":
		return true
	case "json_object":
		ag.format = f.Type
		return true
	case "json_schema":
	default:
		invalid(w, "response_format.type", "Invalid value for 'response_format.type': %q is not one of text, json_object, json_schema.", clip(f.Type))
		return false
	}
	name, text := f.Name, f.Schema
	if f.JSONSchema != nil {
		name, text = f.JSONSchema.Name, f.JSONSchema.Schema
	}
	if !present(text) {
		invalid(w, "response_format.json_schema.schema", "Missing required parameter: 'response_format.json_schema.schema'.")
		return false
	}
	s, err := d.schemas.get(text, func() (*schema.Schema, error) {
		if err := boundedSchema(text); err != nil {
			return nil, fmt.Errorf(": %w", err)
		}
		return schema.Parse(text)
	})
	if err != nil {
		invalid(w, "response_format.json_schema.schema", "Invalid schema for response_format '%s'%v", clip(name), err)
		return false
	}
	ag.format, ag.schema, ag.schemaTokens = f.Type, s, s.Tokens(d.tok.Count)
	return true
}

// objectSchema is json_object's schema, compiled once.
func (d *deployment) objectSchema() *schema.Schema {
	s, err := d.schemas.get([]byte(objectText), func() (*schema.Schema, error) { return schema.Parse([]byte(objectText)) })
	if err != nil {
		panic(fmt.Sprintf("simulator: the json_object schema: %v", err)) // a constant: cannot happen
	}
	return s
}

// boundedSchema checks a schema's size and nesting before it is
// compiled.
func boundedSchema(raw json.RawMessage) error {
	if len(raw) > schema.MaxFile {
		return fmt.Errorf("over %d KB", schema.MaxFile>>10)
	}
	if nesting(raw) > maxNesting {
		return fmt.Errorf("nests deeper than %d levels", maxNesting)
	}
	return nil
}

// nesting is the deepest nesting of JSON objects and arrays in b,
// outside strings.
func nesting(b []byte) int {
	depth, most, str, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case str && c == '\\':
			esc = true
		case c == '"':
			str = !str
		case str:
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}
