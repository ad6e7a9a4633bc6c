package traffic

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
)

var update = flag.Bool("update", false, "rewrite golden files")

// answerSchema is a response format's schema file's text.
const answerSchema = `{"type":"object","properties":{"title":{"type":"string"},"score":{"type":"integer"}},"required":["title","score"],"additionalProperties":false}`

// testAgent is an agent of tools, a schema format and small images.
func testAgent(t *testing.T, enc string, spec AgentSpec) *Agent {
	t.Helper()
	tk, err := tokenizer.Get(enc)
	if err != nil {
		t.Fatal(err)
	}
	spec.Tokenizer = tk
	if spec.Format == "schema:" {
		p := filepath.Join(t.TempDir(), "answer.json")
		if err := os.WriteFile(p, []byte(answerSchema), 0o644); err != nil {
			t.Fatal(err)
		}
		spec.Format += p
	}
	a, err := NewAgent(spec)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// golden compares got (JSON, indented for reading) with testdata/name.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from its golden file (go test -update rewrites it):\n%s", name, buf.Bytes())
	}
}

// TestAgentBodies: a synthetic request with tools, tool_choice, a
// json_schema format and two images, in chat's body and the Responses
// API's, as golden files; its item counts exactly what the server counts
// by the shared rules.
func TestAgentBodies(t *testing.T) {
	for _, enc := range []string{tokenizer.O200k, tokenizer.Cl100k} {
		a := testAgent(t, enc, AgentSpec{Tools: 2, Choice: tools.Required, Seed: 7, Format: "schema:",
			Images: 2, ImageW: 16, ImageH: 16, Detail: vision.Low, Model: "gpt-4o"})
		syn, err := NewSynthetic(Dist{Mean: 60}, Dist{Mean: 20}, 0, 0, 7)
		if err != nil {
			t.Fatal(err)
		}
		syn.SetAgent(a)
		it, _ := syn.Next(0, nil)
		chat := (&Params{Endpoint: plan.Chat, Model: "gpt-4o", Agent: a}).Body(nil, it, true)
		// The Responses API's body: its images rendered in its shape,
		// the same as chat's translated.
		ra := testAgent(t, enc, AgentSpec{Tools: 2, Choice: tools.Required, Seed: 7, Format: "schema:",
			Images: 2, ImageW: 16, ImageH: 16, Detail: vision.Low, Model: "gpt-4o", Responses: true})
		rsyn, _ := NewSynthetic(Dist{Mean: 60}, Dist{Mean: 20}, 0, 0, 7)
		rsyn.SetAgent(ra)
		rit, _ := rsyn.Next(0, nil)
		resp := (&Params{Endpoint: plan.Responses, Model: "gpt-4o", Agent: ra}).Body(nil, rit, true)
		translated := (&Params{Endpoint: plan.Responses, Model: "gpt-4o", Agent: a}).Body(nil, it, true)
		var x, y any
		json.Unmarshal(resp, &x)
		json.Unmarshal(translated, &y)
		if !rit.native || !reflect.DeepEqual(x, y) || rit.Prompt != it.Prompt {
			t.Errorf("%s: the Responses body rendered natively differs from chat's translated:\n%.400s\n%.400s", enc, resp, translated)
		}
		if enc == tokenizer.O200k {
			golden(t, "agent-chat.json", chat)
			golden(t, "agent-responses.json", resp)
		}
		tk, _ := tokenizer.Get(enc)
		img, _ := vision.Tokens("gpt-4o", 16, 16, vision.Low)
		want := textTokens(t, tk, chat) + tools.Tokens(tk, a.Tools) + 2*img + a.Schema.Tokens(tk.Count)
		if it.Prompt != want || a.ToolTokens == 0 || a.SchemaTokens == 0 || img != 85 {
			t.Errorf("%s: item prompt %d, want %d (tools %d, images 2x%d, schema %d)", enc, it.Prompt, want, a.ToolTokens, img, a.SchemaTokens)
		}
		if it.Images != 2 || it.ImageTokens != 2*img || it.ImageBytes != 2*len(a.ImageURL) || !strings.HasPrefix(a.ImageURL, "data:image/jpeg;base64,") {
			t.Errorf("%s: images %d, tokens %d, bytes %d (url of %d)", enc, it.Images, it.ImageTokens, it.ImageBytes, len(a.ImageURL))
		}
		if e := it.Expect; e == nil || !e.JSON || e.Answer == nil || len(e.Tools) != 2 || e.Tools[a.Tools[0].Name] == nil {
			t.Errorf("%s: expect %+v", enc, it.Expect)
		} else if e.Text([]byte(`{"title":"x","score":3}`)) != schema.Valid || e.Text([]byte(`{"title":"x"}`)) != schema.Mismatch {
			t.Errorf("%s: the answer's schema is not the file's", enc)
		}
	}
}

// textTokens is the tokens of a chat body's messages, their text parts
// as their content.
func textTokens(t *testing.T, tk *tokenizer.Tokenizer, body []byte) int {
	t.Helper()
	var v struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var msgs []tokenizer.Message
	for _, m := range v.Messages {
		msgs = append(msgs, tokenizer.Message{Role: m.Role, Content: contentText(m.Content)})
	}
	return tk.CountMessages(msgs)
}

// TestAgentJSONObject: a json_object format in both APIs, and a prompt
// that says json in as many tokens as the plain one.
func TestAgentJSONObject(t *testing.T) {
	for _, enc := range []string{tokenizer.O200k, tokenizer.Cl100k} {
		tk, _ := tokenizer.Get(enc)
		if tk.Count(jsonInstruction) != tk.Count(instruction) || len(strings.Fields(jsonInstruction)) != tk.Count(jsonInstruction) {
			t.Errorf("%s: the json instruction is %d tokens, the plain one %d", enc, tk.Count(jsonInstruction), tk.Count(instruction))
		}
		a := testAgent(t, enc, AgentSpec{Format: "json"})
		syn, _ := NewSynthetic(Dist{Mean: 100}, Dist{Mean: 20}, 0, 0, 1)
		syn.SetAgent(a)
		it, _ := syn.Next(3, nil)
		chat := (&Params{Agent: a}).Body(nil, it, false)
		resp := (&Params{Endpoint: plan.Responses, Agent: a}).Body(nil, it, false)
		if !bytes.Contains(chat, []byte(`,"response_format":{"type":"json_object"},"stream":true}`)) || bytes.Contains(chat, []byte(`"tools"`)) {
			t.Errorf("chat body %s", chat)
		}
		if !bytes.Contains(resp, []byte(`,"text":{"format":{"type":"json_object"}},"stream":true}`)) {
			t.Errorf("responses body %s", resp)
		}
		if got := textTokens(t, tk, chat); got != it.Prompt || !bytes.Contains(chat, []byte(" json ")) {
			t.Errorf("%s: prompt %d tokens, item says %d", enc, got, it.Prompt)
		}
		if it.Expect == nil || !it.Expect.JSON || it.Expect.Answer != nil || it.Expect.Text([]byte("no")) != schema.NotJSON {
			t.Errorf("expect %+v", it.Expect)
		}
	}
}

// TestAgentDescribe: the banner's line says what each part adds.
func TestAgentDescribe(t *testing.T) {
	a := testAgent(t, tokenizer.O200k, AgentSpec{Tools: 3, Format: "schema:", Images: 2, ImageW: 1024, ImageH: 1024, Detail: vision.High, Model: "gpt-4o"})
	got := a.Describe("gpt-4o")
	for _, want := range []string{"note: 3 tools add ", " prompt tokens a request (tool_choice auto)", "2 images of 1024x1024 (detail high, ", "add 1,530", "the schema answer adds "} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	g := testAgent(t, tokenizer.O200k, AgentSpec{Images: 1, ImageW: 512, ImageH: 512, Detail: vision.Low, Model: "my-deployment"})
	if got := g.Describe("my-deployment"); !g.RuleGuessed || g.ImageTokens != 85 || !strings.Contains(got, `note: 1 image of 512x512 (detail low, `) || !strings.Contains(got, `counted by gpt-4o's rule: model "my-deployment" unknown`) {
		t.Errorf("unknown model: %q (tokens %d)", got, g.ImageTokens)
	}
	if (*Agent)(nil).Describe("x") != "" || (*Agent)(nil).Extra() != 0 {
		t.Error("a nil agent describes something")
	}
	if a, err := NewAgent(AgentSpec{}); a != nil || err != nil {
		t.Errorf("an empty spec: %v %v", a, err)
	}
}

// TestAgentBadSchema: a schema file that is not JSON, or not a schema,
// is an error naming the flag and the file.
func TestAgentBadSchema(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"notjson.json": "{\n  \"type\": \"object\",\n  oops\n}", "notschema.json": `{"type": 12}`, "array.json": `{"type":"array"}`} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		tk, _ := tokenizer.Get(tokenizer.O200k)
		_, err := NewAgent(AgentSpec{Format: "schema:" + p, Tokenizer: tk})
		if err == nil || !strings.HasPrefix(err.Error(), "--response-format: ") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// callTurn is the messages of a session's turn, decoded.
type callTurn []struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []wireCall      `json:"tool_calls"`
}

// TestAgentLoop: three turns of a synthetic conversation with tools. A
// tool-call answer is followed by a turn that carries the call as
// received and a tool message with the fixed result, and no new user
// message; a text answer by a new user message, as before.
func TestAgentLoop(t *testing.T) {
	a := testAgent(t, tokenizer.O200k, AgentSpec{Tools: 4, Seed: 3, ToolResultTokens: 5})
	syn, _ := NewSynthetic(Dist{Mean: 80}, Dist{Mean: 20}, 0, 0, 3)
	syn.SetAgent(a)
	s, _ := syn.Session(9, 3, nil)
	decode := func(it *Item) callTurn {
		var m callTurn
		if err := json.Unmarshal(it.Messages(), &m); err != nil {
			t.Fatalf("turn %d: %v\n%s", it.Turn, err, it.Messages())
		}
		return m
	}
	t1 := s.Next()
	if t1.Prompt != 80+a.Extra() || t1.Expect != a.Expect || len(decode(t1)) != 1 {
		t.Fatalf("turn 1: prompt %d, want %d; %d messages", t1.Prompt, 80+a.Extra(), len(decode(t1)))
	}
	call := tools.Call{ID: "call_abc", Name: a.Tools[1].Name, Args: []byte(`{"order_id":"A-1","limit":3}`)}
	s.Answer(nil, []tools.Call{call})
	t2 := s.Next()
	m := decode(t2)
	if len(m) != 3 || t2.Prompt != -1 || t2.Expect != a.Expect {
		t.Fatalf("turn 2: %d messages, prompt %d: %s", len(m), t2.Prompt, t2.Messages())
	}
	asst, tool := m[1], m[2]
	if asst.Role != "assistant" || string(asst.Content) != "null" || len(asst.ToolCalls) != 1 ||
		asst.ToolCalls[0].ID != call.ID || asst.ToolCalls[0].Type != "function" || asst.ToolCalls[0].Function.Name != call.Name || asst.ToolCalls[0].Function.Arguments != string(call.Args) {
		t.Errorf("turn 2's assistant message: %+v", asst)
	}
	if tool.Role != "tool" || tool.ToolCallID != call.ID || string(tool.Content) != `"`+a.ToolResult+`"` || len(strings.Fields(a.ToolResult)) != 5 {
		t.Errorf("turn 2's tool message: %+v (result %q)", tool, a.ToolResult)
	}
	// The Responses API gets the call and its output as its items.
	in := string(responsesInput(t2.Messages()))
	if !strings.Contains(in, `{"arguments":"{\"order_id\":\"A-1\",\"limit\":3}","call_id":"call_abc","name":"`+call.Name+`","type":"function_call"}`) ||
		!strings.Contains(in, `{"call_id":"call_abc","output":"`+a.ToolResult+`","type":"function_call_output"}`) {
		t.Errorf("turn 2 as Responses input: %s", in)
	}
	s.Answer([]byte("all done"), nil)
	t3 := s.Next()
	m = decode(t3)
	if len(m) != 5 || m[3].Role != "assistant" || string(m[3].Content) != `"all done"` || m[4].Role != "user" {
		t.Errorf("turn 3: %s", t3.Messages())
	}
	if s.Next() != nil {
		t.Error("a fourth turn")
	}
}

// TestAgentLoopNoID: calls without an id (a server that sent none) are
// answered under ids of the session's own, the same in the call and its
// tool message; two calls get two tool messages.
func TestAgentLoopNoID(t *testing.T) {
	a := testAgent(t, tokenizer.O200k, AgentSpec{Tools: 2, ToolResultTokens: 3})
	syn, _ := NewSynthetic(Dist{Mean: 40}, Dist{Mean: 10}, 0, 0, 1)
	syn.SetAgent(a)
	s, _ := syn.Session(4, 2, nil)
	s.Next()
	s.Answer([]byte("let me look"), []tools.Call{{Name: "a", Args: []byte("{")}, {Name: "b"}})
	var m callTurn
	json.Unmarshal(s.Next().Messages(), &m)
	if len(m) != 4 || string(m[1].Content) != `"let me look"` || len(m[1].ToolCalls) != 2 {
		t.Fatalf("%+v", m)
	}
	for i, c := range m[1].ToolCalls {
		if c.ID == "" || m[2+i].ToolCallID != c.ID || m[2+i].Role != "tool" {
			t.Errorf("call %d: id %q, tool message %+v", i, c.ID, m[2+i])
		}
	}
	if m[1].ToolCalls[0].Function.Arguments != "{" || m[1].ToolCalls[1].Function.Arguments != "" {
		t.Errorf("arguments not as received: %+v", m[1].ToolCalls)
	}
}

// TestSessionImages: every turn of a conversation with images carries
// them in its history, and its item says so.
func TestSessionImages(t *testing.T) {
	a := testAgent(t, tokenizer.O200k, AgentSpec{Images: 3, ImageW: 8, ImageH: 8, Detail: vision.Low, Model: "gpt-4o"})
	syn, _ := NewSynthetic(Dist{Mean: 40}, Dist{Mean: 10}, 0, 0, 1)
	syn.SetAgent(a)
	s, _ := syn.Session(0, 2, nil)
	for turn := 1; turn <= 2; turn++ {
		it := s.Next()
		if it.Images != 3 || it.ImageTokens != 3*85 || it.ImageBytes != 3*len(a.ImageURL) || bytes.Count(it.Messages(), []byte(`"type":"image_url"`)) != 3 {
			t.Errorf("turn %d: images %d, tokens %d, bytes %d", turn, it.Images, it.ImageTokens, it.ImageBytes)
		}
		s.Answer([]byte("ok"), nil)
	}
	// In the Responses API's shape, turn after turn.
	ra := testAgent(t, tokenizer.O200k, AgentSpec{Images: 2, ImageW: 8, ImageH: 8, Detail: vision.High, Model: "gpt-4o", Responses: true})
	rsyn, _ := NewSynthetic(Dist{Mean: 40}, Dist{Mean: 10}, 0, 0, 1)
	rsyn.SetAgent(ra)
	rs, _ := rsyn.Session(0, 2, nil)
	prm := &Params{Endpoint: plan.Responses, Agent: ra}
	for turn := 1; turn <= 2; turn++ {
		body := prm.Body(nil, rs.Next(), false)
		if n := bytes.Count(body, []byte(`"detail":"high","image_url":"data:image/jpeg;base64,`)); n != 2 || bytes.Contains(body, []byte(`"type":"text"`)) {
			t.Errorf("responses turn %d: %d images: %.300s", turn, n, body)
		}
		rs.Answer([]byte("ok"), nil)
	}
}

// TestDatasetRowFields: a dataset row's own tools, tool_choice and
// response_format are sent as given (in each API's shape) and checked by;
// a row without them gets the run's; image parts are counted, inline
// ones by the rule, one by address making the tokens unknown.
func TestDatasetRowFields(t *testing.T) {
	img, _ := vision.Synthetic(32, 16, 1)
	url := vision.DataURL(img, "image/png") // a JPEG's bytes: Size reads the header, not the type
	rows := strings.Join([]string{
		`{"messages":[{"role":"user","content":"book it"}],"tools":[{"type":"function","function":{"name":"book","parameters":{"type":"object","properties":{"when":{"type":"string"}},"required":["when"]}}}],"tool_choice":{"type":"function","function":{"name":"book"}},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"` + url + `","detail":"high"}},{"type":"image_url","image_url":{"url":"` + url + `","detail":"low"}}]}]}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"and this"},{"type":"image_url","image_url":{"url":"https://example.invalid/cat.png"}}]}]}`,
		`{"messages":[{"role":"user","content":"hello"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}],"tools":"[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"}`,
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "rows.jsonl")
	os.WriteFile(path, []byte(rows), 0o644)
	a := testAgent(t, tokenizer.O200k, AgentSpec{Tools: 1, Seed: 2})
	count, _ := ImageCounter("gpt-4o")
	d, err := OpenDataset(DatasetOptions{Path: path, Agent: a, ImageTokens: count})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var items []*Item
	for n := range 4 {
		it, err := d.Next(int64(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	chat := &Params{Agent: a}
	resp := &Params{Endpoint: plan.Responses, Agent: a}
	b0 := string(chat.Body(nil, items[0], false))
	if !strings.Contains(b0, `,"tools":[{"type":"function","function":{"name":"book","parameters":{"type":"object","properties":{"when":{"type":"string"}},"required":["when"]}}}],"tool_choice":{"type":"function","function":{"name":"book"}},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":`) {
		t.Errorf("row 1's chat body: %s", b0)
	}
	r0 := string(resp.Body(nil, items[0], false))
	if !strings.Contains(r0, `"tools":[{"name":"book","parameters":{"type":"object","properties":{"when":{"type":"string"}},"required":["when"]},"type":"function"}],"tool_choice":{"name":"book","type":"function"},"text":{"format":{"name":"r","schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]},"type":"json_schema"}},"stream":true}`) {
		t.Errorf("row 1's responses body: %s", r0)
	}
	if e := items[0].Expect; e == nil || e.Tools["book"] == nil || e.Answer == nil || e.Call("book", []byte(`{"when":"now"}`)) != schema.Valid || e.Call("book", []byte(`{}`)) != schema.Mismatch || e.Text([]byte(`{"ok":true}`)) != schema.Valid {
		t.Errorf("row 1's expect: %+v", e)
	}
	// Row 2 has none of its own: the run's tools.
	b1 := string(chat.Body(nil, items[1], false))
	if !strings.Contains(b1, `"tools":`+string(a.chatTools)+`,"tool_choice":"auto"`) || items[1].Expect != a.Expect {
		t.Errorf("row 2's body or expect is not the run's: %s", b1[strings.Index(b1, `"}}]}]`):])
	}
	high, _ := vision.Tokens("gpt-4o", 32, 16, vision.High)
	if it := items[1]; it.Images != 2 || it.ImageBytes != 2*len(url) || it.ImageTokens != high+85 {
		t.Errorf("row 2's images: %d, %d bytes, %d tokens (want %d)", it.Images, it.ImageBytes, it.ImageTokens, high+85)
	}
	if it := items[2]; it.Images != 1 || it.ImageTokens != -1 {
		t.Errorf("an image by address: %d images, %d tokens", it.Images, it.ImageTokens)
	}
	// Row 4: tools as a JSON string (ShareGPT tool datasets write them so)
	// and a conversation's own tool messages, kept.
	b3 := string(chat.Body(nil, items[3], false))
	if !strings.Contains(b3, `"tools":[{"type":"function","function":{"name":"f"}}],"stream"`) || !strings.Contains(b3, `{"role":"tool","tool_call_id":"c1","content":"42"}`) {
		t.Errorf("row 4: %s", b3)
	}
}

// TestDatasetBadRowFields: a row's tools that are not tools, or a
// tool_choice without them, are bad rows naming file:line.
func TestDatasetBadRowFields(t *testing.T) {
	for _, row := range []string{`{"prompt":"x","tools":{"a":1}}`, `{"prompt":"x","tool_choice":"required"}`, `{"prompt":"x","tools":[{"type":"function","function":{}}]}`, `{"prompt":"x","response_format":"json"}`} {
		path := filepath.Join(t.TempDir(), "bad.jsonl")
		os.WriteFile(path, []byte(`{"prompt":"fine"}`+"\n"+row+"\n"), 0o644)
		_, err := OpenDataset(DatasetOptions{Path: path})
		if err == nil || !strings.Contains(err.Error(), "bad.jsonl:2: ") {
			t.Errorf("%s: %v", row, err)
		}
	}
}

// BenchmarkParamsBody is the cost of a body as the run makes it: the
// fixed shape's (the fast path), a plain synthetic prompt's, and one with
// ten tools, a json_schema format and two 1024x1024 images.
func BenchmarkParamsBody(b *testing.B) {
	fixed, _ := New(Spec{Context: 1000, MaxTokens: 200})
	syn, _ := NewSynthetic(Dist{Mean: 1000}, Dist{Mean: 200}, 0, 0, 1)
	tk, _ := tokenizer.Get(tokenizer.O200k)
	p := filepath.Join(b.TempDir(), "s.json")
	os.WriteFile(p, []byte(answerSchema), 0o644)
	a, err := NewAgent(AgentSpec{Tools: 10, Format: "schema:" + p, Images: 2, ImageW: 1024, ImageH: 1024, Model: "gpt-4o", Tokenizer: tk})
	if err != nil {
		b.Fatal(err)
	}
	agent, _ := NewSynthetic(Dist{Mean: 1000}, Dist{Mean: 200}, 0, 0, 1)
	agent.SetAgent(a)
	ra, _ := NewAgent(AgentSpec{Tools: 10, Format: "schema:" + p, Images: 2, ImageW: 1024, ImageH: 1024, Model: "gpt-4o", Tokenizer: tk, Responses: true})
	ragent, _ := NewSynthetic(Dist{Mean: 1000}, Dist{Mean: 200}, 0, 0, 1)
	ragent.SetAgent(ra)
	for _, c := range []struct {
		name string
		src  Source
		prm  *Params
	}{{"fixed", fixed, &Params{}}, {"synthetic", syn, &Params{}}, {"agent", agent, &Params{Agent: a}}, {"agent-responses", ragent, &Params{Endpoint: plan.Responses, Agent: ra}}} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 1<<20)
			b.ReportAllocs()
			for i := range b.N {
				it, _ := c.src.Next(int64(i), nil)
				buf = c.prm.Body(buf[:0], it, true)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// FuzzRowFields: a JSONL row of any bytes is read or refused, never a
// panic; a row read makes chat and Responses bodies that are JSON.
func FuzzRowFields(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}}}`))
	f.Add([]byte(`{"prompt":"x","tools":"[{\"type\":\"function\",\"function\":{\"name\":\"g\"}}]","response_format":{"type":"json_object"}}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":"data:image/png;base64,iVBORw0KGgo="}]},{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f","arguments":"{"}}]},{"role":"tool","tool_call_id":"1","content":"r"}]}`))
	count, _ := ImageCounter("gpt-4o")
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &Reader{ImageTokens: count}
		c, err := r.jsonl(b)
		if err != nil {
			return
		}
		d := &Dataset{}
		it := d.item(c.Turns[0].Messages, c.Turns[0], -1, 1)
		it.Expect, it.fields = d.expect(c), c.fields
		for _, e := range []plan.Endpoint{plan.Chat, plan.Responses} {
			body := (&Params{Endpoint: e}).Body(nil, it, true)
			if !json.Valid(body) {
				t.Fatalf("%s body is not JSON: %s", e, body)
			}
		}
		if it.Images < 0 || it.ImageBytes < 0 || it.ImageTokens < -1 {
			t.Fatalf("images %d, bytes %d, tokens %d", it.Images, it.ImageBytes, it.ImageTokens)
		}
	})
}

// TestDatasetAgentLoop: a dataset conversation's tool-call answer is
// followed by its tool message, then the conversation's own next turn.
func TestDatasetAgentLoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(path, []byte(`[{"tools":[{"type":"function","function":{"name":"f"}}],"conversations":[{"from":"human","value":"one"},{"from":"gpt","value":"x"},{"from":"human","value":"two"}]}]`), 0o644)
	a := testAgent(t, tokenizer.O200k, AgentSpec{ToolResultTokens: 4})
	d, err := OpenDataset(DatasetOptions{Path: path, Turns: 2, Agent: a})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := d.Session(0, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t1 := s.Next()
	if t1.Expect == nil || t1.Expect.Tools["f"] != nil || len(t1.Expect.Tools) != 1 {
		t.Errorf("turn 1's expect: %+v", t1.Expect)
	}
	s.Answer(nil, []tools.Call{{ID: "c9", Name: "f", Args: []byte(`{}`)}})
	var m callTurn
	json.Unmarshal(s.Next().Messages(), &m)
	if len(m) != 4 || m[1].ToolCalls[0].ID != "c9" || m[2].Role != "tool" || m[2].ToolCallID != "c9" || string(m[2].Content) != `"`+a.ToolResult+`"` || m[3].Role != "user" {
		t.Errorf("turn 2: %+v", m)
	}
}
