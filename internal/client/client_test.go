package client

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// step is one write of a scripted response, after a delay.
type step struct {
	after time.Duration
	data  string
}

// reply is a scripted response.
type reply struct {
	status int
	header map[string]string
	steps  []step
	hang   bool // never end the body after the steps
}

// script is a RoundTripper that plays replies in order through a pipe, so
// that under synctest every delay is exact.
type script struct {
	mu      sync.Mutex
	replies []reply
	bodies  []string
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	if len(s.replies) == 0 {
		s.mu.Unlock()
		return nil, fmt.Errorf("dial tcp: connection refused")
	}
	r := s.replies[0]
	s.replies = s.replies[1:]
	s.mu.Unlock()
	if len(r.steps) > 0 && r.steps[0].data == "" {
		// A delay before headers.
		time.Sleep(r.steps[0].after)
		r.steps = r.steps[1:]
	}
	pr, pw := io.Pipe()
	go func() {
		for _, st := range r.steps {
			time.Sleep(st.after)
			if _, err := pw.Write([]byte(st.data)); err != nil {
				return
			}
		}
		if r.hang {
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
			return
		}
		pw.Close()
	}()
	h := http.Header{}
	for k, v := range r.header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: r.status, Header: h, Body: pr, Request: req}, nil
}

const (
	promptFilter = `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}` + "\n\n"
	roleFrame    = `data: {"choices":[{"content_filter_results":{},"delta":{"role":"assistant","content":""},"finish_reason":null,"index":0}],"id":"x","object":"chat.completion.chunk"}` + "\n\n"
	finishFrame  = `data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"length","index":0}],"id":"x","object":"chat.completion.chunk"}` + "\n\n"
	filterNote   = `data: {"choices":[{"content_filter_offsets":{"check_offset":0},"content_filter_results":{"hate":{"filtered":false}},"finish_reason":null,"index":0}],"id":"x"}` + "\n\n"
	doneFrame    = "data: [DONE]\n\n"
)

func content(s string) string {
	return fmt.Sprintf(`data: {"choices":[{"content_filter_results":{},"delta":{"content":%q},"finish_reason":null,"index":0}],"id":"x","object":"chat.completion.chunk"}`+"\n\n", s)
}

func usage(p, c int) string {
	return fmt.Sprintf(`data: {"choices":[],"id":"x","usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n", p, c, p+c)
}

// azureStream is Azure's framing: headers after hdr, the prompt-filter and
// role frames at once, the first token after ttft, then one token every itl.
func azureStream(hdr, ttft, itl time.Duration, words []string, withUsage bool) []step {
	st := []step{{hdr, ""}, {0, promptFilter + roleFrame}}
	for i, w := range words {
		d := itl
		if i == 0 {
			d = ttft - hdr
		}
		st = append(st, step{d, content(" " + w)})
	}
	st = append(st, step{0, filterNote}, step{0, finishFrame})
	if withUsage {
		st = append(st, step{0, usage(42, len(words))})
	}
	return append(st, step{0, doneFrame})
}

func newClient(t *testing.T, s *script, retry plan.Retry) *Client {
	t.Helper()
	return newClientOf(t, s, retry, plan.Chat)
}

// newClientOf is newClient for an endpoint type.
func newClientOf(t *testing.T, s *script, retry plan.Retry, typ plan.Endpoint) *Client {
	t.Helper()
	version := "2024-10-21"
	if typ == plan.Responses {
		version = api.ResponsesVersion
	}
	ep, err := api.Resolve("https://x.openai.azure.com", "", typ, "gpt-4o", "", version)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Endpoint: ep, Header: http.Header{"Api-Key": {"secret"}}, Retry: retry, Transport: s})
}

// do sends one request with c and derives its record.
func do(c *Client, ctx context.Context) *metrics.Record {
	var w metrics.Wire
	c.Do(ctx, Request{Body: body}, &w)
	tok, _ := tokenizer.Get(tokenizer.O200k)
	rec := metrics.NewRecord(0, w.Send)
	rec.Derive(&w, tok, false)
	return rec
}

func body(usage bool) []byte {
	if usage {
		return []byte(`{"stream":true,"stream_options":{"include_usage":true}}`)
	}
	return []byte(`{"stream":true}`)
}

func words(n int) []string {
	w := tokenizer.NewWords()
	return w[:n]
}

func TestAzureStreamMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{replies: []reply{{status: 200, header: map[string]string{
			"apim-request-id": "req-1", "azure-openai-deployment-utilization": "89.3%",
			"x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "1234",
		}, steps: azureStream(50*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond, words(50), true)}}}
		c := newClient(t, s, plan.RetryNone)
		rec := do(c, context.Background())
		if rec.Class != metrics.OK {
			t.Fatalf("class %s: %s", rec.Class, rec.Err)
		}
		check := func(name string, got time.Duration, ok bool, want time.Duration) {
			t.Helper()
			if !ok || got != want {
				t.Errorf("%s = %v (%v), want %v", name, got, ok, want)
			}
		}
		d, ok := rec.TTFT()
		// From the first content token: the prompt-filter and role frames
		// arrived 150 ms earlier and must not count.
		check("TTFT", d, ok, 200*time.Millisecond)
		d, ok = rec.HeadersTime()
		check("time to headers", d, ok, 50*time.Millisecond)
		d, ok = rec.TPOT()
		check("TPOT", d, ok, 20*time.Millisecond)
		d, ok = rec.E2E()
		check("E2E", d, ok, 200*time.Millisecond+49*20*time.Millisecond)
		if rec.ServerOutput != 50 || rec.ClientOutput != 50 || rec.ServerPrompt != 42 || rec.Events != 50 || len(rec.Gaps) != 49 {
			t.Errorf("tokens server %d client %d prompt %d events %d gaps %d", rec.ServerOutput, rec.ClientOutput, rec.ServerPrompt, rec.Events, len(rec.Gaps))
		}
		if rec.RequestID != "req-1" || rec.Util != 89.3 || rec.RemainingRequests != 99 || rec.RemainingTokens != 1234 {
			t.Errorf("headers %q %v %d %d", rec.RequestID, rec.Util, rec.RemainingRequests, rec.RemainingTokens)
		}
		if rec.Finish != "length" || rec.Attempts != 1 {
			t.Errorf("finish %q attempts %d", rec.Finish, rec.Attempts)
		}
		if !strings.Contains(s.bodies[0], "include_usage") {
			t.Error("stream_options not sent")
		}
	})
}

func TestMultiTokenChunks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Three events of 1, 3 and 2 tokens, 30 ms apart; no usage frame.
		st := []step{{0, promptFilter + roleFrame}, {100 * time.Millisecond, content("time")},
			{30 * time.Millisecond, content(" year people way")}, {30 * time.Millisecond, content(" day man")},
			{0, finishFrame + doneFrame}}
		s := &script{replies: []reply{{status: 200, steps: st}}}
		c := newClient(t, s, plan.RetryNone)
		rec := do(c, context.Background())
		if rec.ClientOutput != 6 || rec.ServerOutput != -1 || rec.OutputTokens() != 6 {
			t.Fatalf("tokens client %d server %d", rec.ClientOutput, rec.ServerOutput)
		}
		if d, _ := rec.TPOT(); d != 60*time.Millisecond/5 {
			t.Errorf("TPOT %v, want 12ms", d)
		}
		want := []metrics.Gap{{D: 30 * time.Millisecond, Tokens: 3}, {D: 30 * time.Millisecond, Tokens: 2}}
		if len(rec.Gaps) != 2 || rec.Gaps[0] != want[0] || rec.Gaps[1] != want[1] {
			t.Fatalf("gaps %v, want %v", rec.Gaps, want)
		}
		sum := metrics.NewSummary(metrics.SLO{})
		sum.Add(rec)
		// ITL is per token: 3 samples of 10 ms and 2 of 15 ms.
		if n := sum.Hist("itl").Count(); n != 5 {
			t.Errorf("ITL samples %d, want 5", n)
		}
		if p := sum.Hist("itl").Quantile(50); math.Abs(p-0.010) > 1e-5 {
			t.Errorf("ITL p50 %v, want 0.010", p)
		}
	})
}

func TestThrottledNoRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{replies: []reply{{status: 429, header: map[string]string{"retry-after-ms": "1500"},
			steps: []step{{0, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 2 seconds."}}`}}}}}
		c := newClient(t, s, plan.RetryNone)
		rec := do(c, context.Background())
		if rec.Class != metrics.Throttled || rec.Attempts != 1 || rec.Throttles != 1 || !strings.Contains(rec.Err, "token rate limit") {
			t.Fatalf("class %s attempts %d err %q", rec.Class, rec.Attempts, rec.Err)
		}
		if rec.RetryAfter != 1500*time.Millisecond {
			t.Errorf("retry-after %v", rec.RetryAfter)
		}
	})
}

func TestRetryExponential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		throttle := reply{status: 429, header: map[string]string{"retry-after-ms": "1500", "retry-after": "2"},
			steps: []step{{0, `{"error":{"message":"rate limit"}}`}}}
		s := &script{replies: []reply{throttle, throttle,
			{status: 200, steps: azureStream(0, 100*time.Millisecond, 10*time.Millisecond, words(5), true)}}}
		c := newClient(t, s, plan.RetryExponential)
		rec := do(c, context.Background())
		if rec.Class != metrics.OK || rec.Attempts != 3 || rec.Throttles != 2 {
			t.Fatalf("class %s attempts %d throttles %d", rec.Class, rec.Attempts, rec.Throttles)
		}
		// Latency runs from the first attempt: two waits of retry-after-ms.
		if d, _ := rec.TTFT(); d != 3*time.Second+100*time.Millisecond {
			t.Errorf("TTFT %v, want 3.1s", d)
		}
	})
}

// TestRetryAttemptsBounded: a server asking to be retried after 1 ms
// is honoured, up to maxAttempts, not thousands of times in the minute
// retries may take.
func TestRetryAttemptsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		throttle := reply{status: 429, header: map[string]string{"retry-after-ms": "1"}, steps: []step{{0, `{"error":{"message":"rate limit"}}`}}}
		s := &script{}
		for range 2 * maxAttempts {
			s.replies = append(s.replies, throttle)
		}
		rec := do(newClient(t, s, plan.RetryExponential), context.Background())
		if rec.Class != metrics.Throttled || rec.Attempts != maxAttempts || rec.Throttles != maxAttempts {
			t.Fatalf("class %s attempts %d throttles %d", rec.Class, rec.Attempts, rec.Throttles)
		}
	})
}

func TestRetryGivesUpAfterRetryFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var replies []reply
		for range 100 {
			replies = append(replies, reply{status: 429, header: map[string]string{"retry-after": "10"}, steps: []step{{0, "{}"}}})
		}
		s := &script{replies: replies}
		c := newClient(t, s, plan.RetryExponential)
		start := time.Now()
		rec := do(c, context.Background())
		// Attempts at 0, 10, ..., 60 s: seven, then the next wait would pass 60 s.
		if rec.Class != metrics.Throttled || rec.Attempts != 7 || time.Since(start) != 60*time.Second {
			t.Fatalf("class %s attempts %d after %v", rec.Class, rec.Attempts, time.Since(start))
		}
	})
}

func TestRetryOn5xxAndConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{replies: []reply{{status: 503, steps: []step{{0, "busy"}}}}}
		c := newClient(t, s, plan.RetryExponential)
		rec := do(c, context.Background())
		// 503, then the script has no replies: connection errors until 60 s.
		if rec.Class != metrics.Connection || rec.Attempts < 3 {
			t.Fatalf("class %s attempts %d", rec.Class, rec.Attempts)
		}
		s = &script{replies: []reply{{status: 400, steps: []step{{0, `{"error":{"message":"bad"}}`}}}}}
		c = newClient(t, s, plan.RetryExponential)
		rec = do(c, context.Background())
		if rec.Class != metrics.HTTPStatus || rec.Attempts != 1 || rec.Err != "400 bad" {
			t.Fatalf("400: class %s attempts %d err %q", rec.Class, rec.Attempts, rec.Err)
		}
	})
}

func TestStreamOptionsRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reject := reply{status: 400, steps: []step{{0, `{"error":{"message":"Unrecognized request argument supplied: stream_options"}}`}}}
		ok := reply{status: 200, steps: azureStream(0, 10*time.Millisecond, time.Millisecond, words(3), false)}
		s := &script{replies: []reply{reject, ok, ok}}
		c := newClient(t, s, plan.RetryNone)
		rec := do(c, context.Background())
		// The refused attempt reached the server: it is counted.
		if rec.Class != metrics.OK || rec.Attempts != 2 || c.Usage() {
			t.Fatalf("class %s attempts %d usage %v", rec.Class, rec.Attempts, c.Usage())
		}
		if rec.OutputTokens() != 3 || rec.ServerOutput != -1 {
			t.Errorf("output tokens %d", rec.OutputTokens())
		}
		rec = do(c, context.Background())
		if strings.Contains(s.bodies[2], "stream_options") {
			t.Error("stream_options sent again after the server rejected it")
		}
	})
}

func TestBrokenStreams(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		class metrics.Class
		err   string
	}{
		{"error event", []step{{0, promptFilter + content("hi") + `data: {"error":{"message":"The server had an error"}}` + "\n\n"}}, metrics.Stream, "The server had an error"},
		{"named error event", []step{{0, content("hi") + "event: error\ndata: {}\n\n"}}, metrics.Stream, "error event"},
		{"eof before finish", []step{{0, content("hi")}}, metrics.Stream, "before finish"},
		{"bad json", []step{{0, "data: {nope\n\n"}}, metrics.Stream, "malformed"},
		{"no [DONE] after finish", []step{{0, content("hi") + finishFrame}}, metrics.OK, ""},
		{"comments and keep-alives", []step{{0, ": keep-alive\n\n" + content("hi") + ": ping\n\n" + finishFrame + doneFrame}}, metrics.OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{replies: []reply{{status: 200, steps: tc.steps}}}
				rec := do(newClient(t, s, plan.RetryNone), context.Background())
				if rec.Class != tc.class || !strings.Contains(rec.Err, tc.err) {
					t.Fatalf("class %s err %q, want %s %q", rec.Class, rec.Err, tc.class, tc.err)
				}
				if tc.class != metrics.OK && rec.End.IsZero() {
					t.Error("failed request has no end time")
				}
			})
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{replies: []reply{{status: 200, steps: []step{{0, content("hi")}}, hang: true}}}
		c := newClient(t, s, plan.RetryNone)
		c.cfg.Timeout = 5 * time.Second
		rec := do(c, context.Background())
		if rec.Class != metrics.Timeout {
			t.Fatalf("class %s err %q, want timeout", rec.Class, rec.Err)
		}
		if d, _ := rec.E2E(); d != 5*time.Second {
			t.Errorf("time to failure %v, want 5s", d)
		}
		s = &script{replies: []reply{{status: 200, steps: []step{{0, content("hi")}}, hang: true}}}
		c = newClient(t, s, plan.RetryNone)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		rec = do(c, ctx)
		if rec.Class != metrics.Incomplete {
			t.Fatalf("class %s, want incomplete", rec.Class)
		}
	})
}

func TestFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := func(c *Client) *metrics.Wire {
			var w metrics.Wire
			c.Do(context.Background(), Request{Body: body, NoRetry: true}, &w)
			return &w
		}
		for status, want := range map[int]string{401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found"} {
			s := &script{replies: []reply{{status: status, steps: []step{{0, `{"error":{"code":"DeploymentNotFound","message":"nope"}}`}}}}}
			err := Fatal(wire(newClient(t, s, plan.RetryExponential)), "x")
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), "secret") {
				t.Errorf("answer %d: %v", status, err)
			}
		}
		// A dead endpoint, and NoRetry sends one attempt whatever the policy.
		w := wire(newClient(t, &script{}, plan.RetryExponential))
		if err := Fatal(w, "x"); err == nil || !strings.Contains(err.Error(), "did not answer") || w.Attempts != 1 {
			t.Errorf("dead endpoint: %v after %d attempts", err, w.Attempts)
		}
		for _, status := range []int{429, 500, 400} {
			s := &script{replies: []reply{{status: status, steps: []step{{0, "{}"}}}}}
			if err := Fatal(wire(newClient(t, s, plan.RetryNone)), "x"); err != nil {
				t.Errorf("answer %d is not fatal: %v", status, err)
			}
		}
	})
}

// TestLoopback checks the real transport against an httptest server, and
// that the key goes in the right header for each dialect.
func TestLoopback(t *testing.T) {
	var gotKey, gotAuth, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey, gotAuth, gotPath = r.Header.Get("api-key"), r.Header.Get("Authorization"), r.URL.String()
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, promptFilter+roleFrame+content("hello")+content(" world")+finishFrame+usage(9, 2)+doneFrame)
	}))
	defer srv.Close()
	for _, dialect := range []api.API{api.Azure, api.OpenAI} {
		ep, err := api.Resolve(srv.URL, dialect, "", "dep", "gpt-4o", "2024-10-21")
		if err != nil {
			t.Fatal(err)
		}
		c := New(Config{Endpoint: ep, Header: auth.KeyHeader(dialect, "k")})
		rec := do(c, context.Background())
		if rec.Class != metrics.OK || rec.OutputTokens() != 2 || rec.ClientOutput != 2 {
			t.Fatalf("%s: class %s %s tokens %d", dialect, rec.Class, rec.Err, rec.OutputTokens())
		}
		switch dialect {
		case api.Azure:
			if gotKey != "k" || gotAuth != "" || gotPath != "/openai/deployments/dep/chat/completions?api-version=2024-10-21" {
				t.Errorf("azure: key %q auth %q path %q", gotKey, gotAuth, gotPath)
			}
		case api.OpenAI:
			if gotAuth != "Bearer k" || gotKey != "" || gotPath != "/v1/chat/completions" {
				t.Errorf("openai: key %q auth %q path %q", gotKey, gotAuth, gotPath)
			}
		}
	}
}
