// Package schema owns the JSON Schemas of structured answers and of tool
// arguments: reading one (a file named by --response-format schema:FILE,
// or a tool's parameters), checking an answer against it, and making an
// answer that follows it (the simulator's). It compiles with
// github.com/santhosh-tekuri/jsonschema, which loads nothing but the
// schema it is given: a "$ref" to another file or address is refused,
// never fetched.
package schema

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxFile is the largest schema file read.
const MaxFile = 1 << 20

// Schema is a compiled JSON Schema and its text.
type Schema struct {
	// Name is the schema's name as a json_schema response format sends
	// it: the file's base name, of the characters the API takes.
	Name string
	// Raw is the schema as given, compacted.
	Raw      json.RawMessage
	compiled *jsonschema.Schema
}

// where is the one address a schema is compiled under.
const where = "https://aoaibench.invalid/schema.json"

// noLoader refuses every address: a schema names no other document.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, &refusedRef{strings.TrimPrefix(url, strings.TrimSuffix(where, "schema.json"))}
}

// refusedRef is a $ref to another document, refused.
type refusedRef struct{ url string }

func (r *refusedRef) Error() string {
	return fmt.Sprintf("$ref to %s: aoaibench reads no schema but the one given", r.url)
}

// Load reads a schema file: JSON (file:line when it is not), a JSON
// Schema (its meta-schema's check), of an object (as Azure's structured
// outputs require of the root).
func Load(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readAtMost(f, MaxFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s%w", path, err)
	}
	if err := s.objectRoot(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Name = nameOf(path)
	return s, nil
}

// Parse compiles a schema given as JSON text. Its error starts with
// ":LINE: " when the text is not JSON, else ": ", so that a caller
// prefixes it with the text's origin.
func Parse(b []byte) (*Schema, error) {
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	var probe any
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf(":%d: not JSON: %w", lineOf(b, err), err)
	}
	// The library's own reading keeps numbers exact (json.Number).
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf(": not JSON: %w", err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, fmt.Errorf(": not a JSON Schema: a schema is a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(where, doc); err != nil {
		return nil, fmt.Errorf(": not a JSON Schema: %s", fault(err))
	}
	compiled, err := c.Compile(where)
	if err != nil {
		return nil, fmt.Errorf(": not a JSON Schema: %s", fault(err))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf(": not JSON: %w", err)
	}
	return &Schema{Name: "answer", Raw: buf.Bytes(), compiled: compiled}, nil
}

// objectRoot checks that the schema describes an object, as Azure's
// structured outputs require of a json_schema response format.
func (s *Schema) objectRoot() error {
	t := s.compiled
	if t.Ref != nil {
		t = t.Ref
	}
	if t.Types == nil || !strings.Contains(t.Types.String(), "object") {
		return errors.New(`a structured answer's schema must have "type": "object" at its root (Azure's structured outputs require it)`)
	}
	return nil
}

// ErrNotJSON is an answer that does not parse as JSON.
var ErrNotJSON = errors.New("not JSON")

// Check reports whether doc is JSON (ErrNotJSON when not) and follows the
// schema (an error saying where it does not).
func (s *Schema) Check(doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNotJSON, oneLine(err))
	}
	if err := s.compiled.Validate(v); err != nil {
		return fmt.Errorf("does not follow the schema: %s", oneLine(err))
	}
	return nil
}

// fault says in a few words what makes a document not a JSON Schema: the
// first leaf of the metaschema's verdict ("at /properties: got number,
// want object") rather than the library's tree of every branch it
// tried, which names a URL of ours the user never gave.
func fault(err error) string {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	var ref *refusedRef
	var lue *jsonschema.LoadURLError
	if errors.As(err, &lue) && errors.As(lue.Err, &ref) || errors.As(err, &ref) {
		return oneLine(ref) // the library's LoadURLError does not unwrap
	}
	if !errors.As(err, &sve) || !errors.As(sve.Err, &ve) {
		return oneLine(err)
	}
	// The library gathers causes from maps: the first in place order,
	// so that the same file gets the same message each time.
	for len(ve.Causes) > 0 {
		ve = slices.MinFunc(ve.Causes, func(a, b *jsonschema.ValidationError) int {
			return cmp.Or(slices.Compare(a.InstanceLocation, b.InstanceLocation),
				slices.Compare(a.ErrorKind.KeywordPath(), b.ErrorKind.KeywordPath()))
		})
	}
	at := "/" + strings.Join(ve.InstanceLocation, "/")
	return oneLine(fmt.Errorf("at %s: %s", at, ve.ErrorKind.LocalizedString(message.NewPrinter(language.English))))
}

// oneLine is an error's text on one line, at most 200 bytes.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// lineOf is the line of a JSON error's offset in b (1 when unknown).
func lineOf(b []byte, err error) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(len(b))
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case err != nil:
		return 1
	}
	off = min(max(off, 0), int64(len(b)))
	return 1 + bytes.Count(b[:off], []byte("\n"))
}

// readAtMost reads all of r, failing beyond limit bytes.
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d KB: not a schema", limit>>10)
	}
	return b, nil
}

// nameOf is a schema file's name as the API takes it: letters, digits,
// '_' and '-', at most 64.
func nameOf(path string) string {
	last := rune(0)
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			last = r
			return r
		}
		if last == '_' {
			return -1 // a run of others is one '_'
		}
		last = '_'
		return '_'
	}, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	n = strings.Trim(n, "_")
	if n == "" {
		n = "answer"
	}
	return n[:min(len(n), 64)]
}

// Tokens is the prompt tokens a json_schema response format adds to a
// request, by count (a tokenizer's). Neither OpenAI nor Azure publishes how
// the schema is counted; aoaibench counts its compact JSON text, the
// simulator and the load generator alike, and says so in
// docs/simulator.md.
func (s *Schema) Tokens(count func(string) int) int {
	if s == nil {
		return 0
	}
	return count(string(s.Raw))
}
