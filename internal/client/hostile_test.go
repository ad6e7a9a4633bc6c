package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// TestNoRedirect: a 3xx is the answer, never followed. The other host
// sees nothing (Go's client would send it the api-key header and any
// --header: it drops only Authorization and cookies across hosts), the
// request fails naming the status and where it pointed, and the first
// request's check stops the run on it.
func TestNoRedirect(t *testing.T) {
	const key = "sk-redirect-0123456789"
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, content("hi")+finishFrame+doneFrame)
	}))
	defer other.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A Location carrying the key in its userinfo and query too.
			http.Redirect(w, r, strings.Replace(other.URL, "http://", "http://u:"+key+"@", 1)+"/v1/chat?key="+key, status)
		}))
		ep, _ := api.Resolve(srv.URL, api.Azure, "", "d", "m", "v")
		c := New(Config{Endpoint: ep, Header: http.Header{"Api-Key": {key}, "X-Secret": {"gateway-secret"}},
			Redact: auth.NewRedactor(key, "gateway-secret").Redact})
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body}, &w)
		host := strings.TrimPrefix(other.URL, "http://")
		if w.Class != metrics.HTTPStatus || w.Status != status || !strings.Contains(w.Err, "redirect to http://"+host) || strings.Contains(w.Err, key) {
			t.Errorf("%d: %s %d %q", status, w.Class, w.Status, w.Err)
		}
		if err := Fatal(&w, ep.Target()); err == nil || !strings.Contains(err.Error(), "follows no redirect") {
			t.Errorf("%d: the first request's check lets it pass: %v", status, err)
		}
		srv.Close()
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

// TestEchoedHeadersRedacted: every header a record keeps is the server's
// text, and goes through the redactor: a server that echoes the key into
// its request id, region, deployment, spillover header and finish_reason
// gets none of it into the record.
func TestEchoedHeadersRedacted(t *testing.T) {
	const key = "sk-echoed-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("Api-Key")
		for _, h := range []string{"apim-request-id", "x-ms-region", "x-ms-deployment-name", "x-ms-spillover-from-deployment"} {
			w.Header().Set(h, "x-"+k+"-y")
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, content("hi"))
		fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":%q,\"index\":0}]}\n\n", "done "+k)
		io.WriteString(w, doneFrame)
	}))
	defer srv.Close()
	ep, _ := api.Resolve(srv.URL, api.Azure, "", "d", "m", "v")
	c := New(Config{Endpoint: ep, Header: auth.KeyHeader(api.Azure, key), Redact: auth.NewRedactor(key).Redact})
	rec := do(c, context.Background())
	all := strings.Join([]string{rec.RequestID, rec.Region, rec.Deployment, rec.SpilledFrom, rec.Finish}, "|")
	if rec.Class != metrics.OK || strings.Contains(all, key[:8]) || strings.Count(all, auth.Redacted) != 5 {
		t.Errorf("%s %q: kept %q", rec.Class, rec.Err, all)
	}
}

// TestHostileAnswers: answers that break the API's rules are classified
// failures or recorded warnings, never counted as they came: a choice
// index that is not a count, output after the finish, a repeated finish,
// the other API's stream, embeddings that are not vectors, a usage count
// given as a string, and bodies that are not event streams (gzip, HTML,
// JSON, nothing), named by what they were.
func TestHostileAnswers(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		io.WriteString(z, s)
		z.Close()
		return b.String()
	}
	chunk := func(choice string) string { return `data: {"choices":[` + choice + `]}` + "\n\n" }
	cases := []struct {
		name   string
		typ    plan.Endpoint
		whole  bool
		header map[string]string
		body   string
		class  metrics.Class
		want   string // in the error, or in the warning when class is OK
	}{
		{"index past 2^31", plan.Chat, false, nil,
			chunk(`{"index":99999999999,"delta":{"content":"x"}}`) + chunk(`{"index":0,"delta":{},"finish_reason":"stop"}`) + doneFrame,
			metrics.Stream, "index is not a count"},
		{"negative index", plan.Chat, false, nil,
			chunk(`{"index":-1,"delta":{"content":"x"},"finish_reason":"stop"}`) + doneFrame, metrics.Stream, "index is not a count"},
		{"a choice not asked for", plan.Chat, false, nil,
			content("a") + chunk(`{"index":1,"delta":{"content":"x"},"finish_reason":"stop"}`) + finishFrame + doneFrame,
			metrics.Stream, "output for choice 1, which was not asked for (n=1)"},
		{"a whole answer's choice not asked for", plan.Chat, true, map[string]string{"Content-Type": "application/json"},
			`{"choices":[{"index":0,"message":{"content":"a"},"finish_reason":"stop"},{"index":1,"message":{"content":"b"},"finish_reason":"stop"}]}`,
			metrics.Stream, "output for choice 1, which was not asked for (n=1)"},
		{"no finish_reason", plan.Chat, false, nil,
			content("a") + content("b") + doneFrame, metrics.OK, "no finish_reason came before [DONE]"},
		{"[DONE] alone", plan.Chat, false, nil, doneFrame, metrics.Stream, "[DONE] came before any event"},
		{"terminal escapes in an error event", plan.Chat, false, nil,
			content("a") + `data: {"error":{"message":"\u001b]0;title\u0007\u001b[2Jgone\u0000\u009b"}}` + "\n\n",
			metrics.Stream, "error event: \ufffd]0;title\ufffd\ufffd[2Jgone\ufffd\ufffd"},
		{"text after finish", plan.Chat, false, nil,
			content("a") + finishFrame + content("b") + doneFrame, metrics.Stream, `output after choice 0's finish_reason "length"`},
		{"finish twice", plan.Chat, false, nil,
			content("a") + finishFrame + chunk(`{"index":0,"delta":{},"finish_reason":"stop"}`) + doneFrame, metrics.OK, "finish_reason came twice (length, then stop)"},
		{"chat stream to responses", plan.Responses, false, nil,
			content("a") + finishFrame + doneFrame, metrics.Stream, "chat completions chunk in a Responses API stream"},
		{"responses events to chat", plan.Chat, false, nil,
			respEvent("response.output_text.delta", `"delta":"hi"`) + respEvent("response.completed", `"response":{"status":"completed"}`),
			metrics.Stream, "a Responses API event in a chat stream"},
		{"usage count as a string", plan.Chat, false, nil,
			content("a") + finishFrame + `data: {"choices":[],"usage":{"prompt_tokens":"10","completion_tokens":1}}` + "\n\n" + doneFrame,
			metrics.OK, "usage prompt_tokens is not a number"},
		{"embedding not a list", plan.Embeddings, true, map[string]string{"Content-Type": "application/json"},
			`{"object":"list","data":[{"object":"embedding","index":0,"embedding":"notalist"}],"usage":{"prompt_tokens":3}}`,
			metrics.Stream, "1 embeddings that are not vectors"},
		{"gzip stream", plan.Chat, false, map[string]string{"Content-Type": "text/event-stream", "Content-Encoding": "gzip"},
			gz(content("a") + finishFrame + doneFrame), metrics.Stream, "no event came: the answer was Content-Type text/event-stream, Content-Encoding gzip"},
		{"html page", plan.Chat, false, map[string]string{"Content-Type": "text/html"},
			"<html><body>Service Unavailable</body></html>", metrics.Stream, "no event came: the answer was Content-Type text/html"},
		{"whole json to a stream", plan.Chat, false, map[string]string{"Content-Type": "application/json"},
			`{"choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}]}`, metrics.Stream, "Content-Type application/json"},
		{"empty body", plan.Chat, false, map[string]string{"Content-Type": "text/event-stream", "Content-Length": "0"},
			"", metrics.Stream, "no event came: the answer was Content-Type text/event-stream, empty"},
		{"html to a whole answer", plan.Chat, true, map[string]string{"Content-Type": "text/html"},
			"<html>oops</html>", metrics.Stream, "malformed answer (Content-Type text/html)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				if tc.header["Content-Type"] == "" {
					w.Header().Set("Content-Type", "text/event-stream")
				}
				// Event by event, as a server flushes them.
				for _, part := range strings.SplitAfter(tc.body, "\n\n") {
					io.WriteString(w, part)
					w.(http.Flusher).Flush()
				}
			}))
			defer srv.Close()
			version := "2024-10-21"
			if tc.typ == plan.Responses {
				version = api.ResponsesVersion
			}
			ep, err := api.Resolve(srv.URL, api.Azure, tc.typ, "d", "m", version)
			if err != nil {
				t.Fatal(err)
			}
			var w metrics.Wire
			New(Config{Endpoint: ep}).Do(context.Background(), Request{Body: body, Whole: tc.whole}, &w)
			got := w.Err
			if tc.class == metrics.OK {
				got = w.Warn
			}
			if w.Class != tc.class || !strings.Contains(got, tc.want) {
				t.Errorf("%s %q (warning %q); want %s with %q", w.Class, w.Err, w.Warn, tc.class, tc.want)
			}
		})
	}
}

// TestSwitchingProtocolsBounded: a 101 Switching Protocols and then
// silence fails at once, as a status: its body is the bare connection,
// outside the request's timeout, and was read until the server closed it.
func TestSwitchingProtocolsBounded(t *testing.T) {
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		<-quit
	}))
	defer srv.Close()
	defer close(quit)
	ep, _ := api.Resolve(srv.URL, api.Azure, "", "d", "m", "v")
	c := New(Config{Endpoint: ep, Timeout: time.Second})
	done := make(chan *metrics.Wire, 1)
	go func() {
		var w metrics.Wire
		c.Do(context.Background(), Request{Body: body}, &w)
		done <- &w
	}()
	select {
	case w := <-done:
		if w.Class != metrics.HTTPStatus || w.Status != 101 || !strings.Contains(w.Err, "101") {
			t.Errorf("%s %d %q", w.Class, w.Status, w.Err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request outlived its 1 s timeout by 20 s")
	}
}

// TestEventsBounded: a server that streams tiny events as fast as the
// connection goes fails the request once it passes maxEvents, instead of
// keeping every stamp (20 million events and 3.7 GB of heap in 10 s).
func TestEventsBounded(t *testing.T) {
	ev := strings.Repeat(`data: {"choices":[{"delta":{"content":"a"}}]}`+"\n\n", 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for range maxEvents/4096 + 2 {
			if _, err := io.WriteString(w, ev); err != nil {
				return
			}
		}
		io.WriteString(w, finishFrame+doneFrame)
	}))
	defer srv.Close()
	ep, _ := api.Resolve(srv.URL, api.Azure, "", "d", "m", "v")
	var w metrics.Wire
	New(Config{Endpoint: ep}).Do(context.Background(), Request{Body: body}, &w)
	if w.Class != metrics.Stream || !strings.Contains(w.Err, "output events") || len(w.Events) > maxEvents {
		t.Errorf("%s %q, %d events kept", w.Class, w.Err, len(w.Events))
	}
}
