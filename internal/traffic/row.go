package traffic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// maxSchemas bounds a reader's cache of compiled schemas: a dataset's
// rows repeat a few tool sets and formats; a file of all-distinct ones
// only compiles each again.
const maxSchemas = 256

// schemaCache is compiled schemas by their text: a tool set's argument
// schemas, or a format's schema. Used by one goroutine (the reader's).
type schemaCache struct {
	tools   map[string]map[string]*schema.Schema
	answers map[string]*schema.Schema
}

// toolSchemas returns the argument schemas of a tools array's text.
func (c *schemaCache) toolSchemas(text []byte, defs []tools.Def) map[string]*schema.Schema {
	if s, ok := c.tools[string(text)]; ok {
		return s
	}
	if c.tools == nil || len(c.tools) >= maxSchemas {
		c.tools = map[string]map[string]*schema.Schema{}
	}
	s := schema.ForTools(defs)
	c.tools[string(text)] = s
	return s
}

// answer returns a format's compiled schema, nil when it does not compile
// (its answers are then checked as JSON only).
func (c *schemaCache) answer(text []byte) *schema.Schema {
	if s, ok := c.answers[string(text)]; ok {
		return s
	}
	if c.answers == nil || len(c.answers) >= maxSchemas {
		c.answers = map[string]*schema.Schema{}
	}
	s, err := schema.Parse(text)
	if err != nil {
		s = nil
	}
	c.answers[string(text)] = s
	return s
}

// given is a row's field when it holds something: absent and null are
// not given.
func given(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// rowFields keeps a row's own tools, tool_choice and response_format on
// its conversation, as given, and what its answers are checked by. A
// ShareGPT-style "tools" written as a JSON string holding the array is
// read as the array.
func (r *Reader) rowFields(c *Conversation, toolsRaw, choice, format json.RawMessage) error {
	if !given(toolsRaw) && !given(choice) && !given(format) {
		return nil
	}
	f := &fields{}
	e := &schema.Expect{}
	if given(toolsRaw) {
		var inner string
		if json.Unmarshal(toolsRaw, &inner) == nil {
			toolsRaw = json.RawMessage(inner)
		}
		defs, err := tools.Parse(toolsRaw)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, toolsRaw); err != nil {
			return fmt.Errorf("tools: %w", err)
		}
		f.tools = buf.Bytes()
		e.Tools = r.schemas.toolSchemas(f.tools, defs)
		if given(choice) {
			f.choice = append(json.RawMessage(nil), choice...)
		}
	} else if given(choice) {
		return fmt.Errorf("tool_choice without tools")
	}
	if given(format) {
		var v struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		}
		if err := json.Unmarshal(format, &v); err != nil {
			return fmt.Errorf(`response_format: want {"type": ...}`)
		}
		f.format = append(json.RawMessage(nil), format...)
		switch v.Type {
		case "json_object":
			e.JSON = true
		case "json_schema":
			e.JSON = true
			if given(v.JSONSchema.Schema) {
				e.Answer = r.schemas.answer(v.JSONSchema.Schema)
			}
		}
	}
	c.fields = f
	if e.Tools != nil || e.JSON {
		c.expect = e
	}
	return nil
}

// countImages counts a turn's image parts, the bytes of their URLs and,
// when inline and a rule counts them, their prompt tokens.
func (r *Reader) countImages(t *Turn) {
	for _, m := range t.Messages {
		if !bytes.Contains(m, []byte(`"image_url"`)) {
			continue
		}
		var v struct {
			Content []struct {
				Type     string          `json:"type"`
				ImageURL json.RawMessage `json:"image_url"`
			} `json:"content"`
		}
		if json.Unmarshal(m, &v) != nil {
			continue // a string content that mentions image_url
		}
		for _, p := range v.Content {
			if p.Type != "image_url" {
				continue
			}
			var img struct {
				URL    string        `json:"url"`
				Detail vision.Detail `json:"detail"`
			}
			if json.Unmarshal(p.ImageURL, &img) != nil {
				json.Unmarshal(p.ImageURL, &img.URL) // a bare URL string
			}
			t.Images++
			t.ImageBytes += len(img.URL)
			if t.ImageTokens < 0 {
				continue
			}
			w, h, err := vision.Size(img.URL)
			if err != nil || r.ImageTokens == nil {
				t.ImageTokens = -1 // by address, unreadable, or no rule
				continue
			}
			t.ImageTokens += r.ImageTokens(w, h, img.Detail)
		}
	}
}

// expect is what conversation c's answers are checked by: its own
// tools' and format's, else the run's agent's.
func (d *Dataset) expect(c *Conversation) *schema.Expect {
	var run *schema.Expect
	if d.agent != nil {
		run = d.agent.Expect
	}
	if c.fields == nil {
		return run
	}
	if run == nil {
		return c.expect
	}
	e := schema.Expect{}
	if c.expect != nil {
		e = *c.expect
	}
	if c.fields.tools == nil {
		e.Tools = run.Tools
	}
	if c.fields.format == nil {
		e.JSON, e.Answer = run.JSON, run.Answer
	}
	return &e
}
