package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

var chunkSeeds = []string{
	`{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}`,
	`{"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1,"id":"x","model":"m","object":"chat.completion.chunk","system_fingerprint":"fp"}`,
	`{"choices":[{"delta":{"content":" word"},"finish_reason":null,"index":0}]}`,
	`{"choices":[{"delta":{"content":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}}]}`,
	`{"choices":[{"delta":{},"finish_reason":"length","index":0}]}`,
	`{"choices":[],"usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}}`,
	`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"x\":1}"}}]}}]}`,
	`{"choices":[{"delta":{"reasoning_content":"thinking"}}]}`,
	`{"choices":[{"delta":{"content":"b"},"index":1},{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}`,
	`{"choices":[{"index":2.5,"delta":{"content":"x"}},{"index":-1,"delta":{"refusal":"no"}}]}`,
	`{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":300,"completion_tokens_details":{"reasoning_tokens":256},"prompt_tokens_details":{"cached_tokens":1024}}}`,
	`{"choices":[],"usage":{"prompt_tokens":1e300,"completion_tokens":-5,"total_tokens":1.5}}`,
	`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function"}]}}]}`,
	`{"error":{"message":"The server had an error","code":500}}`,
	`{"error":"plain"}`,
	` { "choices" : [ { "delta" : { "content" : "x" } } ] , "usage" : null } `,
	`{"choices":[{"delta":{"content":"x"}}],"extra":[1,-2.5e3,true,false,null,{"a":[]}]}`,
	`{"choices":[{"delta":{"content":"x"}}`, `{"choices":[{"delta":{"content":"x}]}`, `[1]`, `{}`, `{"a":tru}`,
	`{"choices":[{"text":" word","index":0,"logprobs":null,"finish_reason":null}],"object":"text_completion"}`,
	`{"choices":[{"index":0,"message":{"role":"assistant","content":"whole answer","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}`,
	// A null is no value, wherever it comes: a tool call's later deltas
	// may say "name":null, and were refused as malformed.
	`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":null,"arguments":"{}"}}]}}]}`,
	`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":null}]}}]}`,
	`{"type":null,"delta":"x"}`,
	`{"object":"response","status":"completed","output":[{"type":null,"content":[{"type":"output_text","text":"x"}]}]}`,
	// The Responses API's edges: an empty delta (output only for a tool
	// call), an event of a type not measured, answers cancelled, failed
	// with and without a message, usage in both APIs' names, tool calls
	// and reasoning in a whole answer's output, embeddings that are not
	// vectors.
	`{"type":"response.function_call_arguments.delta","delta":""}`,
	`{"type":"response.output_text.delta","delta":""}`,
	`{"type":"response.in_progress","response":{"status":"in_progress","error":null,"incomplete_details":null}}`,
	`{"type":"error","message":"","error":{"message":"first"}}`,
	`{"type":"response.failed","response":{"status":"failed","error":null}}`,
	`{"object":"response","status":"cancelled","output":[]}`,
	`{"object":"response","status":"failed","error":{"message":"boom"},"output":null}`,
	`{"type":"response.completed","response":{"usage":{"input_tokens":3,"prompt_tokens":4,"output_tokens":"5","output_tokens_details":{"reasoning_tokens":-1}}}}`,
	`{"status":"completed","output":[{"type":"function_call","name":"f","arguments":""},{"arguments":"{}","type":"reasoning"},{"type":"custom_tool_call","input":"x"},{"content":[{"refusal":"no"},{"text":""}],"type":"message"}]}`,
	`{"data":[{"embedding":[]},{"embedding":["x"]},null,[1],{"embedding":[1,2],"embedding":null},{"object":"embedding"}],"usage":{"prompt_tokens":2}}`,
	// Tool calls: Azure's first delta (id and name), argument fragments,
	// two calls in one event, the index after the function, an index
	// that is no count, no index (the place in the array), a whole
	// answer's calls, and the Responses API's items and deltas.
	`{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}`,
	`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}","name":"a"},"index":1,"id":"c1"},{"id":"c2","index":2,"function":{"name":"b"}}]},"index":0}]}`,
	`{"choices":[{"delta":{"tool_calls":[{"index":-3,"function":{"arguments":"x"}},{"index":1.5},{},null]}}]}`,
	`{"choices":[{"delta":{"tool_calls":[{"id":null,"function":{"name":"f","name":"g","arguments":"1","arguments":"2"}}]}}]}`,
	`{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"call_2","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	`{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":""}}`,
	`{"item":{"arguments":"{","name":"f","call_id":"c","type":"custom_tool_call"},"output_index":2,"type":"response.output_item.added"}`,
	`{"type":"response.output_item.added","output_index":0,"item":{"type":"message","content":[]}}`,
	`{"type":"response.output_item.added","item":{"type":1,"name":null,"call_id":{}},"output_index":"1","item":{"type":"function_call","name":"x"}}`,
	`{"type":"response.function_call_arguments.delta","output_index":1,"item_id":"fc_1","delta":"{\"a\""}`,
	`{"type":"response.function_call_arguments.delta","output_index":-1,"delta":"x","output_index":true}`,
	`{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"}}`,
	`{"status":"completed","output":[{"type":"reasoning","summary":[]},{"type":"function_call","call_id":"call_9","name":"f","arguments":"{}","arguments":"[]"},{"name":"g","type":"function_call"}]}`,
}

// responsesCases are Responses API events and whole answers, and what
// each says.
var responsesCases = []struct {
	data   string
	text   map[string]string // choice/kind -> text
	finish string
	usage  Usage
	err    string
	whole  bool
}{
	{data: `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[],"usage":null}}`},
	{data: `{"type":"response.output_item.added","sequence_number":2,"item":{"type":"message","status":"in_progress","content":[]}}`},
	{data: `{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" Hi","logprobs":[]}`,
		text: map[string]string{"0/0": " Hi"}},
	// The delta before the type.
	{data: `{"delta":"there","sequence_number":5,"type":"response.output_text.delta"}`, text: map[string]string{"0/0": "there"}},
	{data: `{"type":"response.reasoning_summary_text.delta","delta":"thinking"}`, text: map[string]string{"0/4": "thinking"}},
	{data: `{"type":"response.reasoning_text.delta","delta":"more"}`, text: map[string]string{"0/1": "more"}},
	{data: `{"type":"response.refusal.delta","delta":"no"}`, text: map[string]string{"0/2": "no"}},
	{data: `{"type":"response.function_call_arguments.delta","delta":"{\"a\":"}`, text: map[string]string{"0/3": `{"a":`}},
	// Text that is not a delta of output is not output.
	{data: `{"type":"response.output_text.done","text":" Hi there"}`},
	{data: `{"type":"response.audio.transcript.delta","delta":"words"}`},
	{data: `{"type":"response.completed","response":{"status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":" Hi there"}]}],
		"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":0},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":38},"total_tokens":52}}}`,
		finish: "stop", usage: Usage{Prompt: 12, Completion: 40, Reasoning: 38, Cached: 0}},
	{data: `{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":3,"output_tokens":16}}}`,
		finish: "length", usage: Usage{Prompt: 3, Completion: 16, Reasoning: -1, Cached: -1}},
	{data: `{"type":"response.incomplete","response":{"incomplete_details":{"reason":"content_filter"},"status":"incomplete"}}`, finish: "content_filter"},
	{data: `{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"The model failed"}}}`, err: "The model failed"},
	{data: `{"type":"error","code":"rate_limit_exceeded","message":"Slow down","param":null,"sequence_number":3}`, err: "Slow down"},
	// Whole answers (not streamed).
	{data: `{"id":"resp_1","object":"response","status":"completed","output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"hmm"}]},
		{"type":"message","content":[{"type":"output_text","text":"Answer"},{"type":"refusal","refusal":"but no"}]}],"usage":{"input_tokens":7,"output_tokens":9}}`,
		text: map[string]string{"0/0": "Answer", "0/4": "hmm", "0/2": "but no"}, finish: "stop", usage: Usage{Prompt: 7, Completion: 9, Reasoning: -1, Cached: -1}, whole: true},
	{data: `{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}`, finish: "length", whole: true},
	{data: `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]},{"embedding":[1e-3]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`,
		usage: Usage{Prompt: 8, Completion: -1, Reasoning: -1, Cached: -1}, whole: true},
}

// TestResponsesEvents: the Responses API's stream is read by each event's
// type, wherever "type" comes in the object: the deltas that are output,
// the events that end the answer, and those that say nothing measured.
func TestResponsesEvents(t *testing.T) {
	t.Parallel()
	cases := responsesCases
	var c Chunk
	for _, tc := range cases {
		parse := ParseChunk
		if tc.whole {
			parse = ParseAnswer
		}
		if err := parse([]byte(tc.data), &c); err != nil {
			t.Errorf("%s: %v", tc.data, err)
			continue
		}
		v := viewOf(&c)
		if tc.text == nil {
			tc.text = map[string]string{}
		}
		text, finishes := v.text(), v.finishes()
		finish := finishes[0]
		if !maps.Equal(text, tc.text) || finish != tc.finish || len(finishes) > 1 || c.HasError != (tc.err != "") || c.ErrMessage != tc.err {
			t.Errorf("%s:\n got text %q finish %v error %v %q\nwant text %q finish %q error %q", tc.data, text, finishes, c.HasError, c.ErrMessage, tc.text, tc.finish, tc.err)
		}
		if tc.usage != (Usage{}) && c.Usage != tc.usage {
			t.Errorf("%s: usage %+v, want %+v", tc.data, c.Usage, tc.usage)
		}
	}
	ParseAnswer([]byte(`{"data":[{"embedding":[1]},{"embedding":[2]},{"embedding":[3]}]}`), &c)
	if c.Embeddings != 3 {
		t.Errorf("embeddings %d, want 3", c.Embeddings)
	}
}

func TestParseChunk(t *testing.T) {
	t.Parallel()
	var c Chunk
	for _, s := range chunkSeeds {
		for _, whole := range []bool{false, true} {
			want, ok := reference([]byte(s), whole)
			var err error
			if whole {
				err = ParseAnswer([]byte(s), &c)
			} else {
				err = ParseChunk([]byte(s), &c)
			}
			if ok != (err == nil) {
				t.Errorf("%s (whole %v): parse error %v, reference ok %v", s, whole, err, ok)
				continue
			}
			if got := viewOf(&c); ok && !same(got, want) {
				t.Errorf("%s (whole %v):\n got %+v\nwant %+v", s, whole, got, want)
			}
		}
	}
	// A stream's chunk that also carries the message so far (some
	// servers send both) counts only its delta.
	ParseChunk([]byte(`{"choices":[{"message":{"content":"Hello wor"},"delta":{"content":"wor"}}]}`), &c)
	if string(c.Text) != "wor" || len(c.Deltas) != 1 {
		t.Errorf("delta and message: text %q, %d deltas", c.Text, len(c.Deltas))
	}
	// Keys of the Responses API and of whole answers do not change what
	// a chat stream's chunk says.
	ParseChunk([]byte(`{"delta":"xyz","status":"completed","data":1,"response":"r","choices":[{"delta":{"content":"hi"}}]}`), &c)
	if string(c.Text) != "hi" || len(c.Deltas) != 1 || c.Deltas[0].End != 2 || len(c.Finish) != 0 || c.HasError {
		t.Errorf("chat chunk with stray keys: text %q, deltas %+v, finish %+v", c.Text, c.Deltas, c.Finish)
	}
	// Nesting past encoding/json's limit is refused, not a stack overflow.
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	if err := ParseChunk([]byte(`{"x":`+deep+`}`), &c); err == nil {
		t.Errorf("20,000 nested arrays accepted")
	}
	// Choices are told apart by index, wherever it comes in the object.
	ParseChunk([]byte(`{"choices":[{"delta":{"content":"b"},"index":1},{"index":0,"delta":{"content":"a"}}]}`), &c)
	if len(c.Deltas) != 2 || c.Deltas[0] != (Delta{1, Content, 1}) || c.Deltas[1] != (Delta{0, Content, 2}) {
		t.Errorf("deltas %+v", c.Deltas)
	}
}

// TestToolCalls: each tool-call delta says which call of which choice
// it is, with its id and name when it carries them; the arguments are
// the delta's text, the name is not (output text of a tool call, for
// counting its tokens, is its arguments).
func TestToolCalls(t *testing.T) {
	type call = refCall
	for _, tc := range []struct {
		data  string
		whole bool
		text  string
		calls []call
	}{
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`, false,
			"", []call{{Call: 0, ID: "call_abc", Name: "get_weather", HasID: true, HasName: true}}},
		{`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}`, false,
			`{"city":`, []call{{Args: `{"city":`}}},
		{`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}","name":"a"},"index":1,"id":"c1"},{"id":"c2","index":2,"function":{"name":"b"}}]},"index":1}]}`, false,
			"{}", []call{{Choice: 1, Call: 1, ID: "c1", Name: "a", HasID: true, HasName: true, Args: "{}"}, {Choice: 1, Call: 2, ID: "c2", Name: "b", HasID: true, HasName: true}}},
		{`{"choices":[{"delta":{"tool_calls":[{"index":-3}]}}]}`, false, "", []call{{Call: BadIndex}}},
		{`{"choices":[{"message":{"tool_calls":[{"id":"call_1","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"call_2","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`, true,
			`{"a":1}{}`, []call{{Call: 0, ID: "call_1", Name: "f", HasID: true, HasName: true, Args: `{"a":1}`}, {Call: 1, ID: "call_2", Name: "g", HasID: true, HasName: true, Args: "{}"}}},
		{`{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":""}}`, false,
			"", []call{{Call: 1, ID: "call_1", Name: "f", HasID: true, HasName: true}}},
		{`{"type":"response.function_call_arguments.delta","output_index":1,"delta":"{\"a\""}`, false, `{"a"`, []call{{Call: 1, Args: `{"a"`}}},
		{`{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"}}`, false, "", nil},
		{`{"status":"completed","output":[{"type":"reasoning","summary":[]},{"type":"function_call","call_id":"call_9","name":"f","arguments":"{}"}]}`, true,
			"{}", []call{{Call: 1, ID: "call_9", Name: "f", HasID: true, HasName: true, Args: "{}"}}},
	} {
		var c Chunk
		parse := ParseChunk
		if tc.whole {
			parse = ParseAnswer
		}
		if err := parse([]byte(tc.data), &c); err != nil {
			t.Errorf("%s: %v", tc.data, err)
			continue
		}
		v := viewOf(&c)
		if string(c.Text) != tc.text || !slices.Equal(v.calls, tc.calls) {
			t.Errorf("%s:\n got text %q calls %+v\nwant text %q calls %+v", tc.data, c.Text, v.calls, tc.text, tc.calls)
		}
		if tc.calls != nil && (len(c.Deltas) == 0 || c.Deltas[0].Kind != Tool) {
			t.Errorf("%s: deltas %+v, want a tool delta (TTFT at the call's first delta)", tc.data, c.Deltas)
		}
	}
}

// TestReset: reset clears every field of a chunk (a field it missed
// would carry one event's reading into the next), keeping the buffers.
func TestReset(t *testing.T) {
	var c Chunk
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 4))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Uint8:
			if f.CanInt() {
				f.SetInt(7)
			} else {
				f.SetUint(7)
			}
		case reflect.String:
			f.SetString("x")
		case reflect.Struct:
			for j := range f.NumField() {
				g := reflect.NewAt(f.Field(j).Type(), unsafe.Pointer(f.Field(j).UnsafeAddr())).Elem()
				switch g.Kind() {
				case reflect.Bool:
					g.SetBool(true)
				case reflect.Int:
					g.SetInt(7)
				case reflect.Struct:
					g.Field(0).SetInt(7)
				}
			}
		default:
			t.Fatalf("field %s of kind %s: teach TestReset", v.Type().Field(i).Name, f.Kind())
		}
	}
	c.reset()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case f.Kind() == reflect.Slice:
			if f.Len() != 0 || f.Cap() != 4 {
				t.Errorf("%s: len %d cap %d after reset", name, f.Len(), f.Cap())
			}
		case name == "Usage":
			if c.Usage != NoUsage {
				t.Errorf("Usage %+v after reset", c.Usage)
			}
		case !f.IsZero():
			t.Errorf("%s not cleared by reset", name)
		}
	}
}

// TestBadUsage: a usage count that is not a count is named, whether it
// is not a number or a number no count can be; the others are read.
func TestBadUsage(t *testing.T) {
	t.Parallel()
	var c Chunk
	for _, tc := range []struct{ usage, want string }{
		{`"prompt_tokens":"10","completion_tokens":1`, "prompt_tokens is not a number"},
		{`"prompt_tokens":10,"completion_tokens":99999999999`, "completion_tokens 99999999999 is not a count"},
		{`"prompt_tokens":1e999,"completion_tokens":1`, "prompt_tokens 1e999 is not a count"},
		{`"prompt_tokens":10,"completion_tokens":-5`, "completion_tokens -5 is not a count"},
		{`"prompt_tokens":10,"completion_tokens":1.5`, "completion_tokens 1.5 is not a count"},
		{`"prompt_tokens":10,"completion_tokens_details":{"reasoning_tokens":1` + strings.Repeat("0", 40) + `}`,
			"reasoning_tokens 100000000000000000000000... is not a count"},
		{`"prompt_tokens":null,"completion_tokens":0`, ""},
	} {
		if err := ParseChunk([]byte(`{"choices":[],"usage":{`+tc.usage+`}}`), &c); err != nil || c.BadUsage != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.usage, c.BadUsage, err, tc.want)
		}
	}
}

func FuzzParseChunk(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add(s)
	}
	for _, tc := range responsesCases {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Both readings of every input: a streamed event, a whole answer.
		for _, whole := range []bool{false, true} {
			var c Chunk
			var err error
			if whole {
				err = ParseAnswer([]byte(s), &c)
			} else {
				err = ParseChunk([]byte(s), &c)
			}
			want, ok := reference([]byte(s), whole)
			// The fast parser may accept a little more than encoding/json
			// (it does not check every number form) but must never reject
			// valid JSON of the shape it reads, and must agree on
			// everything it reads.
			if ok && err != nil {
				t.Fatalf("%q (whole %v): rejected valid JSON: %v", s, whole, err)
			}
			if got := viewOf(&c); ok && !same(got, want) {
				t.Fatalf("%q (whole %v):\n got %v\nwant %v", s, whole, got, want)
			}
		}
	})
}

// chatChunk is what the client decoded each chunk into before the fast
// parser: BenchmarkParseChunk's measure of encoding/json.
type chatChunk struct {
	Choices []struct {
		Index *int `json:"index"`
		Delta *struct {
			Content          *string `json:"content"`
			Refusal          *string `json:"refusal"`
			ReasoningContent *string `json:"reasoning_content"`
			ToolCalls        []struct {
				Function *struct {
					Name      *string `json:"name"`
					Arguments *string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     *int `json:"prompt_tokens"`
		CompletionTokens *int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// BenchmarkParseToolCall reads an argument fragment of a streamed tool
// call, as Azure sends it.
func BenchmarkParseToolCall(b *testing.B) {
	data := []byte(`{"choices":[{"content_filter_results":{},"delta":{"tool_calls":[{"index":0,"function":{"arguments":"city"}}]},"finish_reason":null,"index":0,"logprobs":null}],"created":1795794179,"id":"chatcmpl-0613025e83445143eaca01b6ef8dd","model":"gpt-4o-mini","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}`)
	var c Chunk
	b.ReportAllocs()
	for range b.N {
		ParseChunk(data, &c)
	}
}

func BenchmarkParseChunk(b *testing.B) {
	data := []byte(`{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},"delta":{"content":" word"},"finish_reason":null,"index":0,"logprobs":null}],"created":1795794179,"id":"chatcmpl-0613025e83445143eaca01b6ef8dd","model":"gpt-4o-mini","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}`)
	b.Run("fast", func(b *testing.B) {
		var c Chunk
		b.ReportAllocs()
		for range b.N {
			ParseChunk(data, &c)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var c chatChunk
			json.Unmarshal(data, &c)
		}
	})
}

// TestSpecial: special finds a quote, a backslash or a control character
// in any place of a word, among any other bytes, and nothing else.
func TestSpecial(t *testing.T) {
	t.Parallel()
	for _, fill := range []byte{'a', ' ', 0x7f, 0x80, 0xff, '#', ']'} {
		for k := range 8 {
			for v := range 256 {
				b := bytes.Repeat([]byte{fill}, 8)
				b[k] = byte(v)
				want := v == '"' || v == '\\' || v < 0x20
				if got := special(binary.LittleEndian.Uint64(b)) != 0; got != want {
					t.Fatalf("byte %#x at %d among %#x: special %v, want %v", v, k, fill, got, want)
				}
			}
		}
	}
}

// TestSkippedKeys: a key with a bad escape is malformed JSON in an object
// the parser skips as much as in one it reads (encoding/json refuses
// both); good escapes pass.
func TestSkippedKeys(t *testing.T) {
	t.Parallel()
	var c Chunk
	for _, s := range []string{
		`{"x":{"\q":1}}`, `{"x":[{"\uZZZZ":0}]}`, `{"x":{"\u12":0}}`, `{"x":{"\ud800\uZZZZ":0}}`, `{"x":{"a\`,
		`{"choices":[{"content_filter_results":{"\x":{}},"delta":{"content":"a"}}]}`,
	} {
		if err := ParseChunk([]byte(s), &c); err == nil {
			t.Errorf("%s: read, want malformed", s)
		}
		if json.Valid([]byte(s)) {
			t.Errorf("%s: encoding/json takes it", s)
		}
	}
	for _, s := range []string{`{"x":{"\n\"\\\/\u00e9\ud83d\ude00":1}}`, `{"x":{"":{"\t":[]}}}`} {
		if err := ParseChunk([]byte(s), &c); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
