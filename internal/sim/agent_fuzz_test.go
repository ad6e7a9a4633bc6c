package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// FuzzAgentRequest: whatever tools, tool_choice, response format and
// content parts a request carries, the simulator answers it (200 or an
// error status) without panicking, and a 200 is whole: a usage, or a
// stream's [DONE].
func FuzzAgentRequest(f *testing.F) {
	for _, seed := range []string{
		toolsBody(3, `"required"`, `,"max_tokens":7`),
		toolsBody(2, `{"type":"function","function":{"name":"get_order"}}`, `,"stream":true`),
		`{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"array","items":{"$ref":"#"}}}}],"tool_choice":"required","messages":[{"role":"user","content":"x"}]}`,
		`{"tools":[{"type":"function","function":{"name":"f","parameters":"oops"}}],"tool_choice":"required","messages":[{"role":"user","content":"x"}]}`,
		`{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"anyOf":[{"type":"null"},{"type":"string","minLength":3,"maxLength":2}]}}}}},"messages":[{"role":"user","content":"x"}]}`,
		`{"response_format":{"type":"json_object"},"max_tokens":1,"messages":[{"role":"user","content":"x"}]}`,
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/gif;base64,R0lGODlhAQABAAAAACw="}}]}]}`,
	} {
		f.Add(seed)
	}
	s, err := New(Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", Seed: 1}}})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > 1<<16 {
			return
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, classic, strings.NewReader(body)))
		b := w.Body.String()
		if w.Code == http.StatusOK && !strings.Contains(b, `"completion_tokens":`) && !strings.HasSuffix(b, "data: [DONE]\n\n") {
			t.Errorf("200 without usage or [DONE]: %.300s", b)
		}
	})
}
