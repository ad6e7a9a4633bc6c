package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/simconfig"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// rawChunks posts body to the server at addr on a raw TCP connection and
// returns the HTTP chunks of the answer's body, each as the server wrote
// it: the simulator writes each of its chunks in one write, and chunked
// transfer keeps the boundaries on the wire.
func rawChunks(t *testing.T, addr, path, body string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", path, len(body), body)
	br := bufio.NewReader(c)
	var head []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("headers: %v (%q)", err, head)
		}
		if line == "\r\n" {
			break
		}
		head = append(head, line)
	}
	if !strings.Contains(head[0], " 200 ") {
		rest, _ := io.ReadAll(br)
		t.Fatalf("%q %s", head, rest)
	}
	var chunks []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("chunk size: %v", err)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil {
			t.Fatalf("chunk size %q: %v", line, err)
		}
		if n == 0 {
			return chunks
		}
		p := make([]byte, n+2)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, string(p[:n]))
	}
}

// agentDep is a deployment that streams quickly on real time.
func agentDep() simconfig.Deployment {
	d := fast()
	d.Model, d.Name, d.NoPromptCache = "gpt-4o", "gpt-4o", true
	return d
}

// toolsBody is a chat request with n synthetic tools.
func toolsBody(n int, choice, extra string) string {
	return `{"model":"gpt-4o","tools":` + string(tools.JSON(tools.Synthetic(n, 1))) + `,"tool_choice":` + choice +
		`,"messages":[{"role":"user","content":"find my order"}]` + extra + `}`
}

// TestToolCallStream: a tool call streams over loopback TCP as Azure
// streams one, each event in its own write: the prompt filter frame; at
// TTFT the call's id and name with empty arguments (and the role); one
// argument token a chunk; the last with finish_reason tool_calls, the
// usage and [DONE]. The arguments follow the tool's parameters, are
// about tool_args_tokens tokens, and the usage's completion tokens are
// their count exactly. The ground truth counts the call.
func TestToolCallStream(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	s, ts := tcpSim(t, agentDep(), nil)
	addr := strings.TrimPrefix(ts.URL, "http://")
	chunks := rawChunks(t, addr, v1Chat, toolsBody(3, `{"type":"function","function":{"name":"search_ticket"}}`, `,"stream":true,"stream_options":{"include_usage":true}`))
	if !strings.HasPrefix(chunks[0], `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results"`) || strings.Count(chunks[0], "data: ") != 1 {
		t.Fatalf("first write: %q", chunks[0])
	}
	head := regexp.MustCompile(`^data: \{"choices":\[\{"content_filter_results":\{\},"delta":\{"content":null,"role":"assistant","tool_calls":\[\{"function":\{"arguments":"","name":"search_ticket"\},"id":"call_[0-9a-f]{24}","index":0,"type":"function"\}\]\},"finish_reason":null,"index":0,"logprobs":null\}\],"created":\d+,"id":"chatcmpl-[0-9a-f]+","model":"gpt-4o","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"\}\n\n$`)
	if !head.MatchString(chunks[1]) {
		t.Fatalf("second write (the call's id and name):\n%s", chunks[1])
	}
	frag := regexp.MustCompile(`^data: \{"choices":\[\{"content_filter_results":\{\},"delta":\{"tool_calls":\[\{"function":\{"arguments":("(?:[^"\\]|\\.)*")\},"index":0\}\]\},"finish_reason":null,"index":0,"logprobs":null\}\],"created":\d+,"id":"chatcmpl-[0-9a-f]+","model":"gpt-4o","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"\}\n\n`)
	var args strings.Builder
	for i, c := range chunks[2:] {
		m := frag.FindStringSubmatch(c)
		if m == nil {
			t.Fatalf("write %d: not one argument fragment:\n%s", i+2, c)
		}
		var f string
		json.Unmarshal([]byte(m[1]), &f)
		if n := tok.Count(f); n != 1 && !strings.ContainsRune(f, '\uFFFD') {
			t.Errorf("write %d: fragment %q is %d tokens", i+2, f, n)
		}
		args.WriteString(f)
		if rest := c[len(m[0]):]; i < len(chunks)-3 && rest != "" {
			t.Errorf("write %d carries more: %q", i+2, rest)
		}
	}
	last := chunks[len(chunks)-1]
	n := tok.Count(args.String())
	wantEnd := fmt.Sprintf(`"finish_reason":"tool_calls","index":0`)
	usage := fmt.Sprintf(`"usage":{"completion_tokens":%d,`, n)
	if !strings.Contains(last, `"delta":{},`+wantEnd) || !strings.Contains(last, usage) || !strings.HasSuffix(last, "data: [DONE]\n\n") {
		t.Errorf("last write does not end the call with %s and %s:\n%s", wantEnd, usage, last)
	}
	if len(chunks)-2 != n {
		t.Errorf("%d argument writes for %d argument tokens", len(chunks)-2, n)
	}
	if n < 30 || n > 40 {
		t.Errorf("arguments of %d tokens, want about 40: %s", n, args.String())
	}
	def := tools.Synthetic(3, 1)[1]
	if def.Name != "search_ticket" {
		t.Fatalf("tool 1 is %s", def.Name)
	}
	sch, err := schema.Parse(def.Parameters)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Check([]byte(args.String())); err != nil {
		t.Errorf("arguments %s: %v", args.String(), err)
	}
	st := s.Stats().Deployments["gpt-4o"]
	if st.ToolCalls != 1 || st.Completed != 1 || st.CompletionTokens != int64(n) || st.TimingError.Count != int64(n+1) || st.StreamedTokens != int64(n) {
		t.Errorf("stats: %d tool calls, %d completed, %d completion tokens, %d timed writes, %d streamed; want 1, 1, %d, %d, %d",
			st.ToolCalls, st.Completed, st.CompletionTokens, st.TimingError.Count, st.StreamedTokens, n, n+1, n)
	}
	for k, c := range st.Classes {
		if c.Answer != "tool_call" || c.OutputTokens != n || c.TTFT.Count != 1 || !strings.HasSuffix(k, "_tool_call") {
			t.Errorf("class %s: %+v", k, c)
		}
	}
}

// TestToolCallResponsesStream: the Responses API streams a tool call as
// a function_call item: added at TTFT (its call_id and name, no
// arguments), its arguments' deltas a token each, then the arguments
// done, the item done and the response completed with the call as its
// output and the usage.
func TestToolCallResponsesStream(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	_, ts := tcpSim(t, agentDep(), nil)
	var flat []map[string]any
	for _, d := range tools.Synthetic(2, 1) {
		flat = append(flat, map[string]any{"type": "function", "name": d.Name, "description": d.Description, "parameters": d.Parameters})
	}
	fj, _ := json.Marshal(flat)
	body := `{"model":"gpt-4o","stream":true,"tool_choice":"required","tools":` + string(fj) + `,"input":"find my order"}`
	chunks := rawChunks(t, strings.TrimPrefix(ts.URL, "http://"), v1Responses, body)
	types := func(c string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^event: (\S+)$`).FindAllStringSubmatch(c, -1) {
			out = append(out, m[1])
		}
		return out
	}
	if got := fmt.Sprint(types(chunks[0])); got != "[response.created response.in_progress]" {
		t.Errorf("first write: %s", got)
	}
	if got := fmt.Sprint(types(chunks[1])); got != "[response.output_item.added]" || !regexp.MustCompile(`"item":\{"arguments":"","call_id":"call_[0-9a-f]{24}","id":"fc_[0-9a-f]{48}","name":"(get_order|search_ticket)","status":"in_progress","type":"function_call"\}`).MatchString(chunks[1]) {
		t.Errorf("second write: %s", chunks[1])
	}
	var args strings.Builder
	for i, c := range chunks[2:] {
		ty := types(c)
		if ty[0] != "response.function_call_arguments.delta" || (i < len(chunks)-3 && len(ty) != 1) {
			t.Fatalf("write %d: %v", i+2, ty)
		}
		var ev struct{ Delta string }
		json.Unmarshal([]byte(strings.SplitN(strings.SplitN(c, "data: ", 2)[1], "\n", 2)[0]), &ev)
		args.WriteString(ev.Delta)
	}
	last := chunks[len(chunks)-1]
	if got := fmt.Sprint(types(last)[1:]); got != "[response.function_call_arguments.done response.output_item.done response.completed]" {
		t.Errorf("last write: %s", got)
	}
	n := tok.Count(args.String())
	argsJSON, _ := json.Marshal(args.String())
	if !strings.Contains(last, `"arguments":`+string(argsJSON)) || !strings.Contains(last, fmt.Sprintf(`"output_tokens":%d,`, n)) || !json.Valid([]byte(args.String())) {
		t.Errorf("arguments %s (%d tokens) not in the end:\n%s", args.String(), n, last)
	}
}

// TestToolChoice: required and a named function always call, none never
// does, auto calls for tool_call_share of requests, which ones decided
// by the request's hash: exactly the predicted ones of 400 different
// requests, about half. Whole answers carry the call in tool_calls with
// content null and finish_reason tool_calls.
func TestToolChoice(t *testing.T) {
	dep := vis()
	run(t, Config{Deployments: []simconfig.Deployment{dep}}, func(e *env) {
		call := func(body string) (bool, string) {
			resp := e.post(v1Chat, body)
			b := readAll(resp)
			var a struct {
				Choices []struct {
					Message struct {
						Content   *string
						ToolCalls []struct {
							ID, Type string
							Function struct{ Name, Arguments string }
						} `json:"tool_calls"`
					}
					FinishReason string `json:"finish_reason"`
				}
			}
			if resp.StatusCode != 200 || json.Unmarshal([]byte(b), &a) != nil || len(a.Choices) != 1 {
				t.Fatalf("%d %.300s", resp.StatusCode, b)
			}
			c := a.Choices[0]
			if len(c.Message.ToolCalls) == 0 {
				if c.Message.Content == nil || c.FinishReason == "tool_calls" {
					t.Errorf("a text answer: %.300s", b)
				}
				return false, b
			}
			tc := c.Message.ToolCalls[0]
			if c.Message.Content != nil || c.FinishReason != "tool_calls" || tc.Type != "function" || !strings.HasPrefix(tc.ID, "call_") || !json.Valid([]byte(tc.Function.Arguments)) {
				t.Errorf("a tool call: %.300s", b)
			}
			return true, b
		}
		for _, c := range []struct {
			choice string
			want   bool
		}{{`"required"`, true}, {`"none"`, false}, {`{"type":"function","function":{"name":"create_invoice"}}`, true}} {
			for i := range 5 {
				got, b := call(toolsBody(3, c.choice, fmt.Sprintf(`,"user":"u%d"`, i)))
				if got != c.want {
					t.Errorf("tool_choice %s: call %v, want %v", c.choice, got, c.want)
				}
				if c.choice[0] == '{' && !strings.Contains(b, `"name":"create_invoice"`) {
					t.Errorf("named: %.300s", b)
				}
			}
		}
		calls, predicted := 0, 0
		for i := range 400 {
			body := toolsBody(3, `"auto"`, fmt.Sprintf(`,"user":"u%d"`, i))
			if got, _ := call(body); got {
				calls++
			}
			h := fnv.New64a()
			h.Write([]byte(body))
			if callsTool(h.Sum64(), 0.5) {
				predicted++
			}
		}
		if calls != predicted || calls < 160 || calls > 240 {
			t.Errorf("auto: %d calls of 400, predicted %d, want about 200", calls, predicted)
		}
		if st := e.s.Stats().Deployments["gpt-4o"]; st.ToolCalls != int64(10+calls) || st.Completed != 415 {
			t.Errorf("stats: %d tool calls, %d completed; want %d, 415", st.ToolCalls, st.Completed, 10+calls)
		}
	})
	never, always := 0.0, 1.0
	for _, share := range []*float64{&never, &always} {
		d := vis()
		d.ToolCallShare = share
		run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
			for i := range 20 {
				resp := e.post(v1Chat, toolsBody(3, `"auto"`, fmt.Sprintf(`,"user":"u%d"`, i)))
				readAll(resp)
			}
			if st := e.s.Stats().Deployments["gpt-4o"]; st.ToolCalls != int64(20**share) {
				t.Errorf("share %g: %d tool calls of 20", *share, st.ToolCalls)
			}
		})
	}
}

// TestToolCallCut: max_tokens below the arguments' size cuts them: the
// arguments are max_tokens tokens, do not parse, and finish_reason is
// length; the usage counts them; tool_args_tokens sizes the arguments.
func TestToolCallCut(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	d := vis()
	d.ToolArgsTokens = 120
	run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
		for _, c := range []struct {
			max         int
			finish      string
			parses      bool
			least, most int
		}{{5, "length", false, 5, 5}, {2000, "tool_calls", true, 100, 120}} {
			resp := e.post(v1Chat, toolsBody(4, `"required"`, fmt.Sprintf(`,"max_tokens":%d`, c.max)))
			b := readAll(resp)
			var a struct {
				Choices []struct {
					Message struct {
						ToolCalls []struct{ Function struct{ Arguments string } } `json:"tool_calls"`
					}
					FinishReason string `json:"finish_reason"`
				}
			}
			json.Unmarshal([]byte(b), &a)
			if len(a.Choices) != 1 || len(a.Choices[0].Message.ToolCalls) != 1 {
				t.Fatalf("%.300s", b)
			}
			args := a.Choices[0].Message.ToolCalls[0].Function.Arguments
			n := tok.Count(args)
			_, completion := usageOf(t, b)
			if a.Choices[0].FinishReason != c.finish || json.Valid([]byte(args)) != c.parses || n < c.least || n > c.most || completion != n {
				t.Errorf("max_tokens %d: finish %s, arguments %q of %d tokens (usage %d)", c.max, a.Choices[0].FinishReason, args, n, completion)
			}
		}
	})
}

// TestToolCallSameStream: a tool call of two choices streams the same,
// byte for byte but its ids, whether the clock writes it to its socket or
// its goroutine through net/http; each choice has its head and arguments,
// and the usage counts both choices' arguments.
func TestToolCallSameStream(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	_, dts := tcpSim(t, agentDep(), nil)
	_, pts := tcpSimOpt(t, agentDep(), nil, false)
	norm := func(s string) string {
		for _, re := range []string{`chatcmpl-[0-9a-f]+`, `call_[0-9a-f]+`, `"created":[1-9][0-9]*`} {
			s = regexp.MustCompile(re).ReplaceAllString(s, "X")
		}
		return s
	}
	body := toolsBody(3, `"required"`, `,"n":2,"stream":true,"stream_options":{"include_usage":true}`)
	a := strings.Join(rawChunks(t, strings.TrimPrefix(dts.URL, "http://"), v1Chat, body), "")
	b := strings.Join(rawChunks(t, strings.TrimPrefix(pts.URL, "http://"), v1Chat, body), "")
	if norm(a) != norm(b) {
		t.Fatalf("direct stream\n%s\ndiffers from\n%s", a, b)
	}
	var args [2]strings.Builder
	for _, m := range regexp.MustCompile(`"arguments":("(?:[^"\\]|\\.)*")\},"index":0\}\]\},"finish_reason":null,"index":(\d)`).FindAllStringSubmatch(a, -1) {
		var f string
		json.Unmarshal([]byte(m[1]), &f)
		args[m[2][0]-'0'].WriteString(f)
	}
	n := tok.Count(args[0].String())
	if args[0].String() != args[1].String() || !json.Valid([]byte(args[0].String())) || strings.Count(a, `"finish_reason":"tool_calls"`) != 2 ||
		strings.Count(a, `"role":"assistant","tool_calls"`) != 2 || !strings.Contains(a, fmt.Sprintf(`"completion_tokens":%d,`, 2*n)) {
		t.Errorf("two choices: arguments %q and %q (%d tokens each):\n%s", args[0].String(), args[1].String(), n, a)
	}
}

// TestToolCallResponsesWhole: the Responses API's whole answer to a tool
// call has the function_call item as its output, completed, and the
// arguments' tokens as its output tokens.
func TestToolCallResponsesWhole(t *testing.T) {
	tok, _ := tokenizer.Get(tokenizer.O200k)
	run(t, Config{Deployments: []simconfig.Deployment{vis()}}, func(e *env) {
		body := `{"model":"gpt-4o","tool_choice":{"type":"function","name":"f"},"tools":[{"type":"function","name":"f","parameters":` +
			`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}],"input":"go"}`
		b := readAll(e.post(v1Responses, body))
		var a struct {
			Status string
			Output []struct {
				Type, Status, Name, Arguments string
				CallID                        string `json:"call_id"`
			}
		}
		if err := json.Unmarshal([]byte(b), &a); err != nil || len(a.Output) != 1 {
			t.Fatalf("%v: %.300s", err, b)
		}
		o := a.Output[0]
		_, out := usageOf(t, b)
		if a.Status != "completed" || o.Type != "function_call" || o.Status != "completed" || o.Name != "f" || !strings.HasPrefix(o.CallID, "call_") ||
			!json.Valid([]byte(o.Arguments)) || out != tok.Count(o.Arguments) {
			t.Errorf("%+v, output tokens %d: %.400s", a, out, b)
		}
	})
}
