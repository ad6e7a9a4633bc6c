package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/simconfig"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// pngURL is a w x h image (uniform: small) as a data URL.
func pngURL(t testing.TB, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return vision.DataURL(buf.Bytes(), "image/png")
}

// usageOf reads a whole answer's prompt and completion tokens (chat's or
// the Responses API's).
func usageOf(t *testing.T, body string) (prompt, completion int) {
	t.Helper()
	var u struct {
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			InputTokens      int `json:"input_tokens"`
			OutputTokens     int `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatalf("%v: %.300s", err, body)
	}
	return u.Usage.PromptTokens + u.Usage.InputTokens, u.Usage.CompletionTokens + u.Usage.OutputTokens
}

// vis is an instant gpt-4o deployment (a model that takes images).
func vis() simconfig.Deployment {
	return simconfig.Deployment{Name: "gpt-4o", Model: "gpt-4o", NoPromptCache: true, Seed: 1}
}

const v1Chat, v1Responses = "/openai/v1/chat/completions", "/openai/v1/responses"

// TestImageTokens: a request's images count by the published rule, low
// and high detail at two sizes, equal to vision.Tokens and to the
// published worked examples (gpt-4o: 1024x1024 high is 765, 2048x4096
// high is 1105, low is 85); auto counts as high; an address counts as
// 1024x1024; the chat API and the Responses API alike.
func TestImageTokens(t *testing.T) {
	small, large := pngURL(t, 1024, 1024), pngURL(t, 2048, 4096)
	tok, _ := tokenizer.Get(tokenizer.O200k)
	text := tok.CountMessages([]tokenizer.Message{{Role: "user", Content: "describe"}})
	run(t, Config{Deployments: []simconfig.Deployment{vis()}}, func(e *env) {
		for _, c := range []struct {
			url, detail string
			published   int
		}{
			{small, "high", 765}, {large, "high", 1105}, {small, "low", 85}, {large, "low", 85},
			{large, "auto", 1105}, {large, "", 1105}, {"https://example.com/cat.jpg", "high", 765},
		} {
			w, h := 1024, 1024
			if c.url == large {
				w, h = 2048, 4096
			}
			rule, _ := vision.Tokens("gpt-4o", w, h, vision.Detail(c.detail))
			if rule != c.published {
				t.Errorf("%dx%d %s: vision.Tokens %d, published %d", w, h, c.detail, rule, c.published)
			}
			detail := ""
			if c.detail != "" {
				detail = `,"detail":"` + c.detail + `"`
			}
			chatBody := `{"model":"gpt-4o","max_tokens":3,"messages":[{"role":"user","content":[{"type":"text","text":"describe"},` +
				`{"type":"image_url","image_url":{"url":"` + c.url + `"` + detail + `}}]}]}`
			respBody := `{"model":"gpt-4o","max_output_tokens":16,"input":[{"role":"user","content":[{"type":"input_text","text":"describe"},` +
				`{"type":"input_image","image_url":"` + c.url + `"` + detail + `}]}]}`
			for path, body := range map[string]string{v1Chat: chatBody, v1Responses: respBody} {
				resp := e.post(path, body)
				b := readAll(resp)
				if resp.StatusCode != 200 {
					t.Fatalf("%s %dx%d %s: %d %.300s", path, w, h, c.detail, resp.StatusCode, b)
				}
				if p, _ := usageOf(t, b); p != text+c.published {
					t.Errorf("%s %dx%d %q: prompt tokens %d, want %d text + %d image", path, w, h, c.detail, p, text, c.published)
				}
			}
		}
		// Two images, as a bare address string in the chat API too.
		body := `{"model":"gpt-4o","max_tokens":3,"messages":[{"role":"user","content":[{"type":"text","text":"describe"},` +
			`{"type":"image_url","image_url":"https://example.com/a.png"},{"type":"image_url","image_url":{"url":"` + large + `","detail":"low"}}]}]}`
		resp := e.post(v1Chat, body)
		if p, _ := usageOf(t, readAll(resp)); p != text+765+85 {
			t.Errorf("two images: prompt tokens %d, want %d", p, text+765+85)
		}
		st := e.s.Stats().Deployments["gpt-4o"]
		if st.Images != 16 || st.ImageTokens != 2*(765+1105+85+85+1105+1105+765)+765+85 {
			t.Errorf("stats: %d images, %d image tokens", st.Images, st.ImageTokens)
		}
	})
}

// TestAgentPromptTokens: a request's prompt tokens are its messages' plus
// tools.Tokens of its tools, its images' and a json_schema format's
// schema.Tokens (json_object adds none), in the chat API and the
// Responses API (whose tools are flat).
func TestAgentPromptTokens(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	defs := tools.Synthetic(5, 1)
	sch, err := schema.Parse([]byte(`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}`))
	if err != nil {
		t.Fatal(err)
	}
	msgs := tok.CountMessages([]tokenizer.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "plan a trip"}})
	img := pngURL(t, 1024, 1024)
	want := msgs + tools.Tokens(tok, defs) + 765 + sch.Tokens(tok.Count)
	var flat []map[string]any
	for _, d := range defs {
		flat = append(flat, map[string]any{"type": "function", "name": d.Name, "description": d.Description, "parameters": d.Parameters})
	}
	flatJSON, _ := json.Marshal(flat)
	chatBody := `{"model":"gpt-4o","max_tokens":50,"tool_choice":"none","tools":` + string(tools.JSON(defs)) +
		`,"response_format":{"type":"json_schema","json_schema":{"name":"trip","strict":true,"schema":` + string(sch.Raw) + `}}` +
		`,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"plan a trip"},{"type":"image_url","image_url":{"url":"` + img + `"}}]}]}`
	respBody := `{"model":"gpt-4o","max_output_tokens":50,"tool_choice":"none","tools":` + string(flatJSON) +
		`,"text":{"format":{"type":"json_schema","name":"trip","strict":true,"schema":` + string(sch.Raw) + `}}` +
		`,"instructions":"be brief","input":[{"role":"user","content":[{"type":"input_text","text":"plan a trip"},{"type":"input_image","image_url":"` + img + `"}]}]}`
	objBody := `{"model":"gpt-4o","max_tokens":50,"response_format":{"type":"json_object"},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"plan a trip"}]}`
	run(t, Config{Deployments: []simconfig.Deployment{vis()}}, func(e *env) {
		for _, c := range []struct {
			name, path, body string
			want             int
		}{{"chat", v1Chat, chatBody, want}, {"responses", v1Responses, respBody, want}, {"json_object", v1Chat, objBody, msgs}} {
			resp := e.post(c.path, c.body)
			b := readAll(resp)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %.300s", c.name, resp.StatusCode, b)
			}
			if p, _ := usageOf(t, b); p != c.want {
				t.Errorf("%s: prompt tokens %d, want %d", c.name, p, c.want)
			}
		}
	})
}

// TestImageQuota: image tokens are prompt tokens to the standard quota
// (x-ratelimit-remaining-tokens) and to a provisioned deployment's
// utilization.
func TestImageQuota(t *testing.T) {
	img := pngURL(t, 2048, 4096)
	body := `{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"hi"},` +
		`{"type":"image_url","image_url":{"url":"` + img + `","detail":"high"}},{"type":"image_url","image_url":{"url":"` + img + `","detail":"high"}}]}]}`
	std := vis()
	std.TPM = 100_000
	run(t, Config{Deployments: []simconfig.Deployment{std}}, func(e *env) {
		resp := e.post(v1Chat, body)
		p, _ := usageOf(t, readAll(resp))
		if p < 2*1105 {
			t.Fatalf("prompt tokens %d: the images are not counted", p)
		}
		if got, want := resp.Header.Get("x-ratelimit-remaining-tokens"), strconv.Itoa(100_000-p-100); got != want {
			t.Errorf("remaining tokens %s, want %s (prompt %d with its images, and 100 max tokens)", got, want, p)
		}
	})
	ptu := vis()
	ptu.Type, ptu.PTU, ptu.TPMPerPTU = "provisioned", 15, 2500
	ptu.TTFT, ptu.ITL = simconfig.Duration(time.Millisecond), simconfig.Duration(time.Microsecond)
	run(t, Config{Deployments: []simconfig.Deployment{ptu}}, func(e *env) {
		resp := e.post(v1Chat, body)
		p, _ := usageOf(t, readAll(resp))
		ratio := e.s.Deployments()[0].OutputRatio
		want := fmt.Sprintf("%.1f%%", 100*(float64(p)+ratio*100)/(15*2500))
		if got := resp.Header.Get("azure-openai-deployment-utilization"); got != want || p < 2*1105 {
			t.Errorf("utilization %s, want %s (prompt %d with its images)", got, want, p)
		}
	})
}

// TestAgentBadInput: images to a model without vision, malformed or too
// many images, too many tools, and bad tool_choice or response formats
// are refused with a 400 naming what is wrong, counted invalid.
func TestAgentBadInput(t *testing.T) {
	img := pngURL(t, 64, 64)
	part := `{"type":"image_url","image_url":{"url":"` + img + `"}}`
	withParts := func(model string, parts ...string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":[{"type":"text","text":"hi"},` + strings.Join(parts, ",") + `]}]}`
	}
	many := strings.Repeat(part+",", 10) + part
	toolsN := func(n int) string { return string(tools.JSON(tools.Synthetic(min(n, 128), 1))) }
	over := `[` + strings.Repeat(`{"type":"function","function":{"name":"f"}},`, 128) + `{"type":"function","function":{"name":"f"}}]`
	hi := `"messages":[{"role":"user","content":"hi"}]`
	deep := strings.Repeat(`{"type":"object","properties":{"a":`, 40) + `{"type":"string"}` + strings.Repeat(`}}`, 40)
	old := simconfig.Deployment{Name: "gpt-35-turbo", Model: "gpt-35-turbo", Seed: 1}
	run(t, Config{Deployments: []simconfig.Deployment{vis(), old}}, func(e *env) {
		for _, c := range []struct {
			name, body, want string
		}{
			{"no vision", withParts("gpt-35-turbo", part), `"code":"BadRequest"`},
			{"no vision says so", withParts("gpt-35-turbo", part), "gpt-35-turbo does not take image input"},
			{"eleven images", withParts("gpt-4o", many), "Too many images in request. Max is 10."},
			{"not base64", withParts("gpt-4o", `{"type":"image_url","image_url":{"url":"data:image/png;base64,@@@@"}}`), `"code":"invalid_image"`},
			{"not an image", withParts("gpt-4o", `{"type":"image_url","image_url":{"url":"data:image/png;base64,aGVsbG8gd29ybGQh"}}`), `"code":"invalid_image"`},
			{"no url", withParts("gpt-4o", `{"type":"image_url","image_url":{}}`), "expected an image URL"},
			{"a file address", withParts("gpt-4o", `{"type":"image_url","image_url":"file:///etc/passwd"}`), `"code":"invalid_image"`},
			{"bad detail", withParts("gpt-4o", `{"type":"image_url","image_url":{"url":"`+img+`","detail":"max"}}`), "is not one of low, high, auto"},
			{"129 tools", `{"model":"gpt-4o","tools":` + over + `,` + hi + `}`, "maximum length 128, but got an array with length 129"},
			{"a tool without a name", `{"model":"gpt-4o","tools":[{"type":"function","function":{}}],` + hi + `}`, "tools[0].function.name"},
			{"tool_choice without tools", `{"model":"gpt-4o","tool_choice":"required",` + hi + `}`, "only allowed when 'tools' are specified"},
			{"tool_choice unknown", `{"model":"gpt-4o","tool_choice":"always","tools":` + toolsN(2) + `,` + hi + `}`, `"param":"tool_choice"`},
			{"tool_choice names another", `{"model":"gpt-4o","tool_choice":{"type":"function","function":{"name":"nope"}},"tools":` + toolsN(2) + `,` + hi + `}`, `no function named \"nope\"`},
			{"format type", `{"model":"gpt-4o","response_format":{"type":"yaml"},` + hi + `}`, "response_format.type"},
			{"format not JSON Schema", `{"model":"gpt-4o","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":12}}},` + hi + `}`, "not a JSON Schema"},
			{"format deep", `{"model":"gpt-4o","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + deep + `}},` + hi + `}`, "nests deeper than 64 levels"},
			{"parameters deep", `{"model":"gpt-4o","tools":[{"type":"function","function":{"name":"f","parameters":` + deep + `}}],` + hi + `}`, "nests deeper than 64 levels"},
		} {
			resp := e.post(v1Chat, c.body)
			b := readAll(resp)
			if resp.StatusCode != 400 || !strings.Contains(b, c.want) {
				t.Errorf("%s: %d %.300s, want 400 with %s", c.name, resp.StatusCode, b, c.want)
			}
		}
		if st := e.s.Stats().Deployments["gpt-4o"]; st.Invalid != 15 || st.Accepted != 0 {
			t.Errorf("gpt-4o: %d invalid, %d accepted; want 15, 0", st.Invalid, st.Accepted)
		}
	})
}

// TestAgentHistory: an agent loop's history (an assistant message with
// tool_calls and no content, a tool message with its result; the
// Responses API's function_call and function_call_output items) is
// taken, and counted as messages are: the calls count nothing, the
// results as a tool message's content. A synthetic JPEG, as the load
// generator sends, counts by its size.
func TestAgentHistory(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	jpeg, err := vision.Synthetic(512, 768, 7)
	if err != nil {
		t.Fatal(err)
	}
	img := vision.DataURL(jpeg, "image/jpeg")
	imgTokens, _ := vision.Tokens("gpt-4o", 512, 768, vision.High)
	want := tok.CountMessages([]tokenizer.Message{{Role: "user", Content: "find it"}, {Role: "assistant"}, {Role: "tool", Content: "order 7 shipped"}}) + imgTokens
	defs := tools.Synthetic(2, 1)
	chatBody := `{"model":"gpt-4o","tools":` + string(tools.JSON(defs)) + `,"messages":[` +
		`{"role":"user","content":[{"type":"text","text":"find it"},{"type":"image_url","image_url":{"url":"` + img + `","detail":"high"}}]},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_order","arguments":"{\"order_id\":\"7\"}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"order 7 shipped"}],"tool_choice":"none","max_tokens":5}`
	respBody := `{"model":"gpt-4o","tools":[{"type":"function","name":"get_order","description":` + strconv.Quote(defs[0].Description) + `,"parameters":` + string(defs[0].Parameters) + `},` +
		`{"type":"function","name":"search_ticket","description":` + strconv.Quote(defs[1].Description) + `,"parameters":` + string(defs[1].Parameters) + `}],"input":[` +
		`{"role":"user","content":[{"type":"input_text","text":"find it"},{"type":"input_image","image_url":"` + img + `","detail":"high"}]},` +
		`{"type":"function_call","call_id":"call_1","name":"get_order","arguments":"{\"order_id\":\"7\"}"},` +
		`{"type":"function_call_output","call_id":"call_1","output":"order 7 shipped"}],"tool_choice":"none","max_output_tokens":16}`
	run(t, Config{Deployments: []simconfig.Deployment{vis()}}, func(e *env) {
		for path, body := range map[string]string{v1Chat: chatBody, v1Responses: respBody} {
			resp := e.post(path, body)
			b := readAll(resp)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %.300s", path, resp.StatusCode, b)
			}
			if p, _ := usageOf(t, b); p != want+tools.Tokens(tok, defs) {
				t.Errorf("%s: prompt tokens %d, want %d", path, p, want+tools.Tokens(tok, defs))
			}
		}
	})
}
