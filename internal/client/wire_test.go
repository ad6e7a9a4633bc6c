package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// countingServer is a real loopback server that counts the TCP
// connections its clients open.
func countingServer(t *testing.T, h http.HandlerFunc, tls bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

// endsApart streams a short answer with [DONE] in one write and the end
// of the HTTP body (the chunked terminator) in a later one, as servers do
// that flush each event and finish their handler afterwards.
func endsApart(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	f := w.(http.Flusher)
	for _, ev := range []string{promptFilter + roleFrame, content("hello"), content(" world"), finishFrame + usage(9, 2), doneFrame} {
		io.WriteString(w, ev)
		f.Flush()
	}
	time.Sleep(2 * time.Millisecond)
}

// TestConnectionsReused: N sequential requests over real loopback TCP use
// one connection. A client that stops at [DONE] and closes the body
// before the terminator makes the transport drop each connection.
func TestConnectionsReused(t *testing.T) {
	srv, conns := countingServer(t, endsApart, false)
	ep, _ := api.Resolve(srv.URL, api.OpenAI, "", "", "m", "")
	c := New(Config{Endpoint: ep})
	defer c.Close()
	const n = 20
	for i := range n {
		rec := do(c, context.Background())
		if rec.Class != metrics.OK {
			t.Fatalf("request %d: %s %s", i, rec.Class, rec.Err)
		}
		if want := max(0, 1-i); rec.NewConns != want || rec.Proto != "HTTP/1.1" {
			t.Errorf("request %d: new connections %d (want %d), %s", i, rec.NewConns, want, rec.Proto)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d sequential requests opened %d connections, want 1", n, got)
	}
}

// TestConnectionPolicy: over TLS the default is HTTP/1.1, a connection per
// stream in flight, as the OpenAI SDKs do; --http2 multiplexes streams,
// over --connections N connections.
func TestConnectionPolicy(t *testing.T) {
	var inflight, peak atomic.Int64
	release := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		endsApart(w, r)
		inflight.Add(-1)
	}
	for _, tc := range []struct {
		http2       bool
		connections int
		proto       string
		want        int64
	}{{false, 0, "HTTP/1.1", 8}, {true, 0, "HTTP/2.0", 1}, {true, 2, "HTTP/2.0", 2}} {
		t.Run(fmt.Sprintf("http2=%v,connections=%d", tc.http2, tc.connections), func(t *testing.T) {
			peak.Store(0)
			srv, conns := countingServer(t, h, true)
			ep, _ := api.Resolve(srv.URL, api.OpenAI, "", "", "m", "")
			tlsCfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
			c := New(Config{Endpoint: ep, HTTP2: tc.http2, Connections: tc.connections, TLS: tlsCfg})
			defer c.Close()
			var wg sync.WaitGroup
			recs := make([]*metrics.Record, 8)
			for i := range recs {
				wg.Go(func() { recs[i] = do(c, context.Background()) })
			}
			for peak.Load() < 8 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()
			release = make(chan struct{})
			for _, r := range recs {
				if r.Class != metrics.OK || r.Proto != tc.proto {
					t.Fatalf("%s %s %s", r.Class, r.Err, r.Proto)
				}
			}
			if got := conns.Load(); got != tc.want {
				t.Errorf("8 concurrent streams opened %d connections, want %d", got, tc.want)
			}
		})
	}
}

// TestChoicesMustFinish: with n=2, a body that ends after choice 0's
// finish_reason but not choice 1's is broken; both finished is clean.
func TestChoicesMustFinish(t *testing.T) {
	choice := func(i int, text, finish string) string {
		f := "null"
		if finish != "" {
			f = `"` + finish + `"`
		}
		return fmt.Sprintf(`data: {"choices":[{"delta":{"content":%q},"finish_reason":%s,"index":%d}]}`+"\n\n", text, f, i)
	}
	cases := []struct {
		name  string
		body  string
		class metrics.Class
		err   string
	}{
		{"eof, choice 1 unfinished", choice(0, " a", "") + choice(1, " b", "") + choice(0, "", "stop"), metrics.Stream, "choice 1"},
		{"done, choice 1 unfinished", choice(0, " a", "") + choice(1, " b", "") + choice(0, "", "stop") + doneFrame, metrics.Stream, "choice 1"},
		{"eof, both finished", choice(1, " b", "") + choice(0, " a", "") + choice(1, "", "stop") + choice(0, "", "length"), metrics.OK, ""},
		{"done, none finished", choice(0, " a", "") + choice(1, " b", "") + doneFrame, metrics.OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{replies: []reply{{status: 200, steps: []step{{0, tc.body}}}}}
				var w metrics.Wire
				newClient(t, s, plan.RetryNone).Do(context.Background(), Request{Body: body, Choices: 2}, &w)
				if w.Class != tc.class || !strings.Contains(w.Err, tc.err) {
					t.Fatalf("class %s %q, want %s %q", w.Class, w.Err, tc.class, tc.err)
				}
			})
		})
	}
}

// TestHugeRetryAfter: a retry-after of 1e20 seconds must not overflow
// into a negative wait and a hot loop.
func TestHugeRetryAfter(t *testing.T) {
	for _, v := range []string{"1e20", "1e300", "Inf", "NaN", "-5"} {
		d := retryAfter(http.Header{"Retry-After": {v}}, time.Now())
		if d < 0 || d > maxWait {
			t.Errorf("retry-after %s: %v", v, d)
		}
		d = retryAfter(http.Header{"Retry-After-Ms": {v}}, time.Now())
		if d < 0 || d > maxWait {
			t.Errorf("retry-after-ms %s: %v", v, d)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		s := &script{replies: []reply{{status: 429, header: map[string]string{"retry-after": "1e20"}, steps: []step{{0, "{}"}}}}}
		rec := do(newClient(t, s, plan.RetryExponential), context.Background())
		if rec.Attempts != 1 || rec.Class != metrics.Throttled {
			t.Errorf("attempts %d class %s", rec.Attempts, rec.Class)
		}
	})
}

// TestEchoedKeyRedacted: a server that echoes the request's headers, in
// an error body or an SSE error event, never gets the key into the
// record.
func TestEchoedKeyRedacted(t *testing.T) {
	const key = "sk-live-0123456789abcdef"
	echo := func(r *http.Request) string {
		var b strings.Builder
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s: %s; ", k, strings.Join(v, ","))
		}
		return b.String()
	}
	bodies := []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":{"message":%q}}`, "bad key, you sent "+echo(r))
		},
		func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			io.WriteString(w, strings.Repeat("x", 290)+" "+echo(r)) // the key past the cut
		},
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"error\":{\"message\":%q}}\n\n", echo(r))
		},
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {not json %s\n\n", echo(r))
		},
	}
	for i, h := range bodies {
		srv := httptest.NewServer(h)
		for _, dialect := range []api.API{api.Azure, api.OpenAI} {
			ep, _ := api.Resolve(srv.URL, dialect, "", "d", "m", "v")
			c := New(Config{Endpoint: ep, Header: auth.KeyHeader(dialect, key), Redact: auth.NewRedactor(key).Redact})
			rec := do(c, context.Background())
			if rec.Class == metrics.OK || strings.Contains(rec.Err, key) || strings.Contains(rec.Err, key[:12]) {
				t.Errorf("server %d, %s: %s %q", i, dialect, rec.Class, rec.Err)
			}
		}
		srv.Close()
	}
}

// TestOneEventManyDeltas: an SSE event that ends the reasoning and starts
// the answer (vLLM's reasoning parser), or carries two tool calls, is one
// output event: no gap of zero between its parts.
func TestOneEventManyDeltas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := func(delta string) string {
			return `data: {"choices":[{"delta":` + delta + `,"index":0}]}` + "\n\n"
		}
		s := &script{replies: []reply{{status: 200, steps: []step{
			{0, ev(`{"reasoning_content":" think"}`)},
			{20 * time.Millisecond, ev(`{"reasoning_content":" done","content":" The"}`)},
			{20 * time.Millisecond, ev(`{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}},{"index":1,"function":{"name":"g","arguments":"{}"}}]}`)},
			{20 * time.Millisecond, ev(`{"content":" end"}`) + `data: {"choices":[{"delta":{},"finish_reason":"stop","index":0}]}` + "\n\n" + doneFrame},
		}}}}
		var w metrics.Wire
		newClient(t, s, plan.RetryNone).Do(context.Background(), Request{Body: body}, &w)
		if w.Class != metrics.OK || len(w.Events) != 4 {
			t.Fatalf("%s %q: %d events, want 4", w.Class, w.Err, len(w.Events))
		}
		if !w.Events[1].Kinds.Has(metrics.Reasoning) || !w.Events[1].Kinds.Visible() || !w.Events[2].Kinds.Has(metrics.Tool) {
			t.Errorf("kinds %v %v", w.Events[1].Kinds, w.Events[2].Kinds)
		}
		rec := metrics.NewRecord(0, w.Send)
		rec.Derive(&w, nil, false)
		for _, d := range rec.Chunks {
			if d != 20*time.Millisecond {
				t.Errorf("chunk gap %v", d)
			}
		}
		if ttfc, _ := rec.TTFTContent(); ttfc != 20*time.Millisecond {
			t.Errorf("time to content %v", ttfc)
		}
	})
}
