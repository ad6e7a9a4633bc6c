package sim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aoaibench/aoaibench/internal/schema"
)

// Structured answers: a request's response format (the chat API's
// response_format, the Responses API's text.format) read and its schema
// compiled, within bounds: a schema of at most schema.MaxFile bytes,
// maxNesting levels and maxObjects objects, compiled once per text in the
// deployment's memo.

// The bounds of a schema (or a tool's parameters), far past any real
// one's: compiling one costs time and memory that grow faster than its
// objects (a schema of 40,000 properties, 1 MB, took 12 s and 330 MB to
// compile; one of 2,000 takes a few ms).
const (
	maxNesting = 64   // levels of JSON objects and arrays
	maxObjects = 2000 // JSON objects
)

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
	s, err := d.schemas.get(text, func() (*schema.Schema, error) { // bounded before compiled
		if err := boundedSchema(text); err != nil {
			return nil, fmt.Errorf(": %w", err)
		}
		return schema.Parse(text)
	})
	if err != nil {
		invalid(w, "response_format.json_schema.schema", "Invalid schema for response_format '%s'%v", clip(name), err)
		return false
	}
	ag.format, ag.schema, ag.schemaTokens = f.Type, s, s.Tokens(d.countUpTo)
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

// countUpTo counts text's tokens up to the context window (past it, a
// number above the window, which refuses the request): a schema's, as
// its prompt tokens.
func (d *deployment) countUpTo(text string) int {
	n, _ := d.tok.CountUpTo(text, d.cfg.ContextWindow)
	return n
}

// boundedSchema checks a schema's size, nesting and objects before it is
// compiled.
func boundedSchema(raw json.RawMessage) error {
	if len(raw) > schema.MaxFile {
		return fmt.Errorf("over %d KB", schema.MaxFile>>10)
	}
	depth, objects := shape(raw)
	if depth > maxNesting {
		return fmt.Errorf("nests deeper than %d levels", maxNesting)
	}
	if objects > maxObjects {
		return fmt.Errorf("has more than %d objects", maxObjects)
	}
	return nil
}

// shape is the deepest nesting of JSON objects and arrays in b, and its
// objects, outside strings.
func shape(b []byte) (most, objects int) {
	depth, str, esc := 0, false, false
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
			if c == '{' {
				objects++
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return most, objects
}
