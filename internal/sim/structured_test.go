package sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/simconfig"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

const tripSchema = `{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1,"maximum":30},` +
	`"stops":{"type":"array","minItems":2,"items":{"type":"object","properties":{"name":{"type":"string"},"why":{"type":"string"}},"required":["name","why"],"additionalProperties":false}},` +
	`"budget":{"type":"string","enum":["low","mid","high"]}},"required":["city","days","stops","budget"],"additionalProperties":false}`

// TestStructuredAnswers: a json_schema format gets JSON that follows the
// schema, of about max_tokens tokens (at most); json_object gets a JSON
// object; max_tokens below the schema's least instance cuts it: not JSON,
// finish_reason length. Whole and streamed, chat and Responses; the usage
// counts the text; the ground truth counts them as structured.
func TestStructuredAnswers(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	sch, err := schema.Parse([]byte(tripSchema))
	if err != nil {
		t.Fatal(err)
	}
	chatFormat := `"response_format":{"type":"json_schema","json_schema":{"name":"trip","strict":true,"schema":` + tripSchema + `}}`
	respFormat := `"text":{"format":{"type":"json_schema","name":"trip","strict":true,"schema":` + tripSchema + `}}`
	objFormat := `"response_format":{"type":"json_object"}`
	run(t, Config{Deployments: []simconfig.Deployment{vis()}}, func(e *env) {
		for _, c := range []struct {
			name, path, body string
			max              int
			stream, parses   bool
			sch              *schema.Schema
		}{
			{"chat whole", v1Chat, chatFormat, 200, false, true, sch},
			{"chat stream", v1Chat, chatFormat, 120, true, true, sch},
			{"chat cut", v1Chat, chatFormat, 10, false, false, sch},
			{"chat stream cut", v1Chat, chatFormat, 10, true, false, sch},
			{"json_object", v1Chat, objFormat, 60, false, true, nil},
			{"responses whole", v1Responses, respFormat, 150, false, true, sch},
			{"responses stream", v1Responses, respFormat, 150, true, true, sch},
			{"responses cut", v1Responses, respFormat, 16, true, false, sch},
		} {
			max := "max_tokens"
			if c.path == v1Responses {
				max = "max_output_tokens"
			}
			stream := ""
			if c.stream {
				stream = `,"stream":true`
				if c.path == v1Chat {
					stream += `,"stream_options":{"include_usage":true}`
				}
			}
			body := fmt.Sprintf(`{"model":"gpt-4o","%s":%d,%s%s,"messages":[{"role":"user","content":"plan a trip"}]}`, max, c.max, c.body, stream)
			if c.path == v1Responses {
				body = strings.Replace(body, `"messages":[{"role":"user","content":"plan a trip"}]`, `"input":"plan a trip"`, 1)
			}
			resp := e.post(c.path, body)
			b := readAll(resp)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %.300s", c.name, resp.StatusCode, b)
			}
			text, finish, completion := answerText(t, c.path, c.stream, b)
			n := tok.Count(text)
			if completion != n || n > c.max || (c.parses && n < c.max*3/4) {
				t.Errorf("%s: %d tokens (usage %d), max %d: %s", c.name, n, completion, c.max, text)
			}
			var verdict error
			if c.sch != nil {
				verdict = c.sch.Check([]byte(text))
			} else if !json.Valid([]byte(text)) || text[0] != '{' {
				verdict = fmt.Errorf("not a JSON object")
			}
			wantFinish := map[bool]string{true: "stop", false: "length"}[c.parses]
			if c.parses != (verdict == nil) || finish != wantFinish {
				t.Errorf("%s: finish %s (want %s), check %v: %s", c.name, finish, wantFinish, verdict, text)
			}
		}
		if st := e.s.Stats().Deployments["gpt-4o"]; st.Structured != 8 || st.ToolCalls != 0 {
			t.Errorf("stats: %d structured, %d tool calls; want 8, 0", st.Structured, st.ToolCalls)
		}
	})
}

// answerText reads an answer's text, finish and completion tokens from a
// whole or streamed chat or Responses answer.
func answerText(t *testing.T, path string, stream bool, b string) (text, finish string, completion int) {
	t.Helper()
	if !stream {
		var a struct {
			Choices []struct {
				Message      struct{ Content string }
				FinishReason string `json:"finish_reason"`
			}
			Status string
			Output []struct {
				Content []struct{ Text string }
			}
		}
		if err := json.Unmarshal([]byte(b), &a); err != nil {
			t.Fatalf("%v: %.300s", err, b)
		}
		_, completion = usageOf(t, b)
		if path == v1Responses {
			return a.Output[0].Content[0].Text, map[string]string{"completed": "stop", "incomplete": "length"}[a.Status], completion
		}
		return a.Choices[0].Message.Content, a.Choices[0].FinishReason, completion
	}
	var sb strings.Builder
	for _, line := range regexp.MustCompile(`(?m)^data: (.*)$`).FindAllStringSubmatch(b, -1) {
		var ev struct {
			Type    string
			Delta   string
			Choices []struct {
				Delta        struct{ Content string }
				FinishReason string `json:"finish_reason"`
			}
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			}
			Response struct {
				Status string
				Usage  struct {
					OutputTokens int `json:"output_tokens"`
				}
			}
		}
		if json.Unmarshal([]byte(line[1]), &ev) != nil {
			continue // [DONE]
		}
		switch {
		case ev.Type == "response.output_text.delta":
			sb.WriteString(ev.Delta)
		case ev.Type == "response.completed" || ev.Type == "response.incomplete":
			finish = map[string]string{"completed": "stop", "incomplete": "length"}[ev.Response.Status]
			completion = ev.Response.Usage.OutputTokens
		case len(ev.Choices) > 0:
			sb.WriteString(ev.Choices[0].Delta.Content)
			if f := ev.Choices[0].FinishReason; f != "" {
				finish = f
			}
		case ev.Usage != nil:
			completion = ev.Usage.CompletionTokens
		}
	}
	return sb.String(), finish, completion
}
