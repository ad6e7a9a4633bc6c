package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// memTransport answers every request at once with the same streamed
// body, from memory: what is left of a request's cost is the client's.
type memTransport struct {
	body []byte
}

func (m *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	h := http.Header{"Content-Type": {"text/event-stream"}, "Apim-Request-Id": {"0b7f8c1e-4d1c-4b5e-9a57-2f0c3d1e6a90"},
		"X-Ratelimit-Remaining-Requests": {"999"}, "X-Ratelimit-Remaining-Tokens": {"899000"}, "X-Ms-Region": {"Sweden Central"}}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader(m.body)), ContentLength: -1, Request: req}, nil
}

// azureAnswer is a typical Azure OpenAI stream of n content events: the
// prompt filter's and the role's frames, n words each with its content
// filter's results, the finish, the usage and [DONE].
func azureAnswer(n int) []byte {
	const filters = `"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`
	var b strings.Builder
	b.WriteString(promptFilter + roleFrame)
	for range n {
		b.WriteString(`data: {"choices":[{` + filters + `,"delta":{"content":" word"},"finish_reason":null,"index":0,"logprobs":null}],"created":1795794179,"id":"chatcmpl-0613025e83445143eaca01b6ef8dd","model":"gpt-4o-mini","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}` + "\n\n")
	}
	b.WriteString(finishFrame + usage(42, n) + doneFrame)
	return []byte(b.String())
}

// BenchmarkStream is one request of a 50-event Azure answer through
// Client.Do, from building its request to the stream's end: the
// client's per-request and per-event cost, without a network.
func BenchmarkStream(b *testing.B) {
	ep, err := api.Resolve("https://x.openai.azure.com", "", plan.Chat, "gpt-4o", "", "2024-10-21")
	if err != nil {
		b.Fatal(err)
	}
	// The run's redactor: every text kept from the server goes through it.
	const key = "0123456789abcdef0123456789abcdef"
	c := New(Config{Endpoint: ep, Header: http.Header{"Api-Key": {key}}, Redact: auth.NewRedactor(key).Redact,
		Transport: &memTransport{body: azureAnswer(50)}})
	reqBody := []byte(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":50,"stream":true}`)
	req := Request{Body: func(bool) []byte { return reqBody }}
	var w metrics.Wire
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.Do(ctx, req, &w)
		if w.Class != metrics.OK || len(w.Events) != 50 {
			b.Fatalf("class %s, %d events: %s", w.Class, len(w.Events), w.Err)
		}
	}
}
