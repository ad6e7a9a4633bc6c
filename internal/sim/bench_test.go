package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/simconfig"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// benchServer is an instant, unlimited simulator for benchmarks.
func benchServer(b *testing.B) *Server {
	b.Helper()
	s, err := New(Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", Seed: 1, NoPromptCache: true}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}

// plainBody is a plain chat request of about 1,000 prompt tokens.
var plainBody = `{"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"` +
	strings.Repeat("hello world ", 500) + `"}],"max_tokens":64}`

// BenchmarkParsePlain: reading and counting a plain chat request, the
// work every request does before admission.
func BenchmarkParsePlain(b *testing.B) {
	s := benchServer(b)
	d := s.deps["gpt-4o-mini"]
	body := []byte(plainBody)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		req, msgs, ok := s.parse(w, body, d, kindChat)
		if !ok {
			b.Fatal(w.Body.String())
		}
		d.measure(req, msgs)
	}
}

// BenchmarkServeWhole: a plain chat request answered whole (64 tokens),
// through the handler, with no latency.
func BenchmarkServeWhole(b *testing.B) {
	s := benchServer(b)
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, classic, strings.NewReader(plainBody))
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
	}
}

// BenchmarkEmitText: the chunks of a plain streamed answer of 256 tokens.
func BenchmarkEmitText(b *testing.B) {
	s := benchServer(b)
	d := s.deps["gpt-4o-mini"]
	req := &chatRequest{kind: kindChat}
	b.ReportAllocs()
	for b.Loop() {
		st := &stream{s: s, d: d, req: req, output: 256, n: 1, seed: 7}
		st.open()
		st.chunks = 256
		buf := make([]byte, hdrRoom, 512)
		for st.c = 0; st.c < st.chunks; st.c++ {
			buf = st.emit(buf[:hdrRoom])
			st.sent++
		}
	}
}

// BenchmarkServeToolCall: a request with 20 synthetic tools answered
// whole with a tool call (its tools compiled once, from the memo; the
// arguments made and counted each time).
func BenchmarkServeToolCall(b *testing.B) {
	s := benchServer(b)
	h := s.Handler()
	body := `{"tools":` + string(tools.JSON(tools.Synthetic(20, 1))) + `,"tool_choice":"required",` + plainBody[1:]
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, classic, strings.NewReader(body))
		h.ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"finish_reason":"tool_calls"`) {
			b.Fatal(w.Body.String())
		}
	}
}
