package schema

import (
	"encoding/json"
	"errors"

	"github.com/aoaibench/aoaibench/internal/tools"
)

// Verdict is what a check of an answer's JSON found.
type Verdict string

// The verdicts, in records as they are spelled here.
const (
	// Unchecked: nothing was asked of the text.
	Unchecked Verdict = ""
	// Valid: JSON, and it follows the schema when one was asked.
	Valid Verdict = "valid"
	// NotJSON: the text does not parse as JSON.
	NotJSON Verdict = "not_json"
	// Mismatch: JSON that does not follow the schema asked.
	Mismatch Verdict = "mismatch"
)

// Expect is what a request asked its answer to be, to check the answer
// by: each tool's argument schema, and whether the answer is structured
// (JSON, of a schema when one was given). It is read-only once built and
// safe for concurrent use.
type Expect struct {
	// Tools are the tools' argument schemas by name; a tool whose
	// parameters are not a schema aoaibench can compile maps to nil, and
	// its calls are checked as JSON only.
	Tools map[string]*Schema
	// JSON says the answer's text must be JSON (a json_object or
	// json_schema response format).
	JSON bool
	// Answer is a json_schema response format's schema.
	Answer *Schema
}

// ForTools returns the argument schemas of tool definitions, to check
// calls by.
func ForTools(defs []tools.Def) map[string]*Schema {
	out := make(map[string]*Schema, len(defs))
	for _, d := range defs {
		s, err := Parse(d.Parameters)
		if err != nil {
			s = nil
		}
		out[d.Name] = s
	}
	return out
}

// Call checks one tool call's arguments: JSON, and following the named
// tool's parameters when they are known.
func (e *Expect) Call(name string, args []byte) Verdict {
	var s *Schema
	if e != nil {
		s = e.Tools[name]
	}
	return check(s, args)
}

// Text checks an answer's text when a structured answer was asked
// (Unchecked when not).
func (e *Expect) Text(text []byte) Verdict {
	if e == nil || !e.JSON && e.Answer == nil {
		return Unchecked
	}
	return check(e.Answer, text)
}

// check is the verdict on text against s (JSON only when s is nil).
func check(s *Schema, text []byte) Verdict {
	if s == nil {
		if !json.Valid(text) {
			return NotJSON
		}
		return Valid
	}
	err := s.Check(text)
	switch {
	case err == nil:
		return Valid
	case errors.Is(err, ErrNotJSON):
		return NotJSON
	}
	return Mismatch
}
