package schema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const weather = `{
  "type": "object",
  "properties": {
    "city": {"type": "string", "description": "the city"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 14},
    "when": {"type": "string", "format": "date"},
    "hourly": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
    "where": {"$ref": "#/$defs/point"},
    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
  },
  "required": ["city", "unit", "days", "when", "hourly", "tags", "where", "note"],
  "additionalProperties": false,
  "$defs": {"point": {"type": "object", "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}, "lon": {"type": "number", "exclusiveMaximum": 0}}, "required": ["lat", "lon"], "additionalProperties": false}}
}`

func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	t.Parallel()
	s, err := Load(write(t, "weather report.schema.json", weather))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "weather_report_schema" {
		t.Errorf("Name = %q", s.Name)
	}
	if strings.Contains(string(s.Raw), "\n") || strings.Contains(string(s.Raw), ": ") {
		t.Errorf("Raw is not compact: %s", s.Raw)
	}
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"{\n  \"type\": \"object\",\n  oops\n}", "s.json:3: not JSON"},
		{`[1, 2]`, "s.json: not a JSON Schema: a schema is a JSON object"},
		{`{"type": "objekt"}`, "s.json: not a JSON Schema: at /type: "},
		{`{"type": "object", "properties": {"a": {"minLength": -1}}}`, "s.json: not a JSON Schema: at /properties/a/minLength: "},
		{`{"type": "object", "required": "a"}`, "s.json: not a JSON Schema: at /required: got string, want array"},
		// The same fault each time, the first in place order (the library's
		// causes come from maps).
		{`{"type":"object","properties":{"d":{"type":"x"},"b":{"type":"y"},"a":{"type":"z"},"c":{"type":"w"}}}`, "s.json: not a JSON Schema: at /properties/a/type: "},
		{`{"type":"object","properties":{"d":{"type":"x"},"b":{"type":"y"},"a":{"type":"z"},"c":{"type":"w"}}}`, "s.json: not a JSON Schema: at /properties/a/type: "},
		{`{"type":"object","properties":{"d":{"type":"x"},"b":{"type":"y"},"a":{"type":"z"},"c":{"type":"w"}}}`, "s.json: not a JSON Schema: at /properties/a/type: "},
		{`{"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:1/x.json"}}}`, "aoaibench reads no schema but the one given"},
		{`{"type": "object", "properties": {"a": {"$ref": "other.json"}}}`, "aoaibench reads no schema but the one given"},
		{`{"type": "string"}`, `s.json: a structured answer's schema must have "type": "object"`},
		{`{"type": "object"} {}`, "s.json"},
		{"", "s.json:1: not JSON"},
		{strings.Repeat(" ", MaxFile+1), "over 1024 KB"},
	} {
		_, err := Load(write(t, "s.json", c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "aoaibench.invalid") {
			t.Errorf("Load(%.40q) = %v; want one line with %q", c.text, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing file: no error")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	s, err := Load(write(t, "w.json", weather))
	if err != nil {
		t.Fatal(err)
	}
	good := `{"city":"Oslo","unit":"celsius","days":3,"when":"2026-12-03","hourly":true,"tags":["a","b"],"where":{"lat":59.9,"lon":-10.7},"note":null}`
	if err := s.Check([]byte(good)); err != nil {
		t.Errorf("a good answer: %v", err)
	}
	for _, bad := range []string{
		`{"city":"Oslo"}`,
		strings.Replace(good, `"celsius"`, `"kelvin"`, 1),
		strings.Replace(good, `"days":3`, `"days":30`, 1),
		strings.Replace(good, `}`, `,"extra":1}`, 1),
	} {
		if err := s.Check([]byte(bad)); err == nil || errors.Is(err, ErrNotJSON) {
			t.Errorf("Check(%s) = %v, want a schema mismatch", bad, err)
		}
	}
	for _, bad := range []string{`{"city":`, `not json`, ``, `{"a":1} trailing`} {
		if err := s.Check([]byte(bad)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("Check(%q) = %v, want ErrNotJSON", bad, err)
		}
	}
}

func TestInstance(t *testing.T) {
	t.Parallel()
	words := strings.Fields("time year people way day man thing woman life child")
	for _, text := range []string{
		weather,
		`{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"qty":{"type":"integer","exclusiveMinimum":0,"multipleOf":5}},"required":["name","qty"]},"minItems":3,"maxItems":3}}}`,
		`{"type":"object","properties":{"next":{"$ref":"#"},"v":{"type":"string","maxLength":4}}}`,
		`{"type":"object","properties":{"c":{"const":{"k":[1,2]}},"t":{"type":["null","string"]}}}`,
		`{"type":"object"}`,
	} {
		s, err := Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		a := s.Instance(nil, words, 40, 1)
		if err := s.Check(a); err != nil {
			t.Errorf("instance %s of %s: %v", a, text, err)
		}
		if b := s.Instance(nil, words, 40, 1); string(a) != string(b) {
			t.Errorf("the same seed gave %s and %s", a, b)
		}
	}
	// The fill is spread over the free strings: more fill, more words.
	s, _ := Parse([]byte(weather))
	short, long := s.Instance(nil, words, 4, 1), s.Instance(nil, words, 400, 1)
	if len(long) < len(short)+1000 {
		t.Errorf("fill 400 gave %d bytes, fill 4 gave %d", len(long), len(short))
	}
}

func FuzzParse(f *testing.F) {
	f.Add(weather)
	f.Add(`{"type":"object","properties":{"a":{"type":"array","items":{"$ref":"#"}}}}`)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse([]byte(text))
		if err != nil {
			return
		}
		s.Instance(nil, []string{"w"}, 10, 0) // must not panic or loop
	})
}
