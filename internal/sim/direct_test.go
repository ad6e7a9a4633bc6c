package sim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// tcpSim is a simulator on a real loopback server, where its clock writes
// streams straight to their sockets. conn, if set, adjusts each accepted
// connection.
func tcpSim(t *testing.T, d simconfig.Deployment, conn func(net.Conn)) (*Server, *httptest.Server) {
	return tcpSimOpt(t, d, conn, true)
}

// tcpSimOpt is tcpSim; without direct, goroutines write the streams.
func tcpSimOpt(t *testing.T, d simconfig.Deployment, conn func(net.Conn), direct bool) (*Server, *httptest.Server) {
	t.Helper()
	if !canDirect {
		t.Skip("direct writes are Linux only")
	}
	s, err := New(Config{Deployments: []simconfig.Deployment{d}, Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if conn != nil {
			conn(c)
		}
		if !direct {
			return ctx
		}
		return s.ConnContext(ctx, c)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// fast is a deployment that streams quickly, for tests on real time.
func fast() simconfig.Deployment {
	return simconfig.Deployment{Name: "gpt-4o-mini", Model: "gpt-4o-mini", TTFT: simconfig.Duration(5 * time.Millisecond), ITL: simconfig.Duration(200 * time.Microsecond), Seed: 1}
}

// postTCP posts body to the classic route.
func postTCP(t *testing.T, hc *http.Client, url, body string) *http.Response {
	t.Helper()
	resp, err := hc.Post(url+classic, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestDirectSameStream checks that streams written by the clock to their
// sockets are the same streams, byte for byte, as those written through
// net/http by their goroutines, and that connections are reused after.
func TestDirectSameStream(t *testing.T) {
	d := fast()
	d.TPM = 200000
	d.TokensPerChunk = 2
	direct, dts := tcpSim(t, d, nil)
	plain, pts := tcpSimOpt(t, d, nil, false)
	norm := func(s string) string {
		s = regexp.MustCompile(`chatcmpl-[0-9a-f]+`).ReplaceAllString(s, "chatcmpl-ID")
		return regexp.MustCompile(`"created":[1-9][0-9]*`).ReplaceAllString(s, `"created":T`)
	}
	var reused []bool
	for i := range 3 {
		var got bool
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { got = i.Reused },
		})
		body := fmt.Sprintf(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":%d,"n":%d,"stream":true,"stream_options":{"include_usage":true}}`, 3+i, 1+i)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, dts.URL+classic, strings.NewReader(body))
		resp, err := dts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.TransferEncoding == nil || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("transfer encoding %v", resp.TransferEncoding)
		}
		a := norm(readAll(resp))
		b := norm(readAll(postTCP(t, pts.Client(), pts.URL, body)))
		if a != b || !strings.HasSuffix(a, "data: [DONE]\n\n") {
			t.Fatalf("request %d: direct stream\n%s\ndiffers from\n%s", i, a, b)
		}
		reused = append(reused, got)
	}
	if fmt.Sprint(reused) != "[false true true]" {
		t.Errorf("connection reused %v, want [false true true]", reused)
	}
	if direct.directs.Load() != 3 || plain.directs.Load() != 0 {
		t.Errorf("%d and %d streams written directly, want 3 and 0", direct.directs.Load(), plain.directs.Load())
	}
	// 3x1 + 4x2 + 5x3 tokens, in 2+2+3 chunks (a chunk has every choice).
	st := direct.Stats().Deployments["gpt-4o-mini"]
	if st.Completed != 3 || st.StreamedTokens != 26 || st.TimingError.Count != 7 {
		t.Errorf("completed %d, streamed %d tokens, timed %d chunks; want 3, 26, 7", st.Completed, st.StreamedTokens, st.TimingError.Count)
	}
}

// TestDirectChunks checks many-token streams, several tokens per chunk and
// several choices through direct writes: all tokens arrive, in order.
func TestDirectChunks(t *testing.T) {
	d := fast()
	d.TokensPerChunk = 7
	s, ts := tcpSim(t, d, nil)
	resp := postTCP(t, ts.Client(), ts.URL, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":200,"n":2,"stream":true,"stream_options":{"include_usage":true}}`)
	body := readAll(resp)
	per := map[string]int{}
	for _, m := range regexp.MustCompile(`"content":"((?: [a-z]+)+)"}.*?"index":(\d)`).FindAllStringSubmatch(body, -1) {
		per[m[2]] += len(strings.Fields(m[1]))
	}
	if per["0"] != 200 || per["1"] != 200 {
		t.Errorf("tokens per choice %v, want 200 each", per)
	}
	if !strings.Contains(body, `"completion_tokens":400`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream does not end with usage and [DONE]: ...%s", body[max(0, len(body)-300):])
	}
	if st := s.Stats().Deployments["gpt-4o-mini"]; st.StreamedTokens != 400 || st.TimingError.Count != 29 {
		t.Errorf("streamed %d tokens in %d timed chunks, want 400 in 29", st.StreamedTokens, st.TimingError.Count)
	}
}

// TestDirectSlowReader fills the socket: the clock hands the stream back
// to its goroutine, which waits for the reader, and the body is whole.
func TestDirectSlowReader(t *testing.T) {
	d := fast()
	d.ITL = 0
	s, ts := tcpSim(t, d, func(c net.Conn) { c.(*net.TCPConn).SetWriteBuffer(4096) })
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":3000,"stream":true}`
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", classic, len(body), body)
	// Not reading: wait until the server has written what the socket
	// takes and the rest waits on the reader.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Deployments["gpt-4o-mini"].StreamedTokens == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := s.Stats().Deployments["gpt-4o-mini"].StreamedTokens; n == 0 || n >= 3000 {
		t.Fatalf("%d tokens written before the client read; the socket should have filled", n)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if n := strings.Count(string(b), `"content":" `); n != 3000 || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("%d content events, want 3000 and [DONE]", n)
	}
	if st := s.Stats().Deployments["gpt-4o-mini"]; st.Completed != 1 || st.StreamedTokens != 3000 {
		t.Errorf("completed %d, streamed %d", st.Completed, st.StreamedTokens)
	}
}

// TestDirectDisconnect drops the client mid-stream: the stream ends, the
// server stays up and answers the next request.
func TestDirectDisconnect(t *testing.T) {
	d := fast()
	d.ITL = simconfig.Duration(2 * time.Millisecond)
	s, ts := tcpSim(t, d, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+classic, strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":2000,"stream":true}`))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for n := 0; n < 8000; {
		m, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Deployments["gpt-4o-mini"].Active != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := s.Stats().Deployments["gpt-4o-mini"]
	if st.Active != 0 || st.Completed != 0 {
		t.Fatalf("after the client left: active %d, completed %d", st.Active, st.Completed)
	}
	if st.StreamedTokens >= 2000 {
		t.Errorf("streamed %d tokens to a client that left", st.StreamedTokens)
	}
	body := readAll(postTCP(t, ts.Client(), ts.URL, chat(5, true)))
	if !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("next request: %q", body)
	}
}

// TestDirectCut checks the cut fault on a directly written stream.
func TestDirectCut(t *testing.T) {
	d := fast()
	d.CutStream = 1
	s, ts := tcpSim(t, d, nil)
	resp := postTCP(t, ts.Client(), ts.URL, chat(10, true))
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || strings.Contains(string(b), "[DONE]") || strings.Count(string(b), `"content":" `) != 5 {
		t.Fatalf("stream not cut after 5 of 10 chunks: err %v, body %s", err, b)
	}
	if st := s.Stats().Deployments["gpt-4o-mini"]; st.Cut != 1 {
		t.Errorf("cut %d", st.Cut)
	}
}

func TestFrame(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 255, 4096, 1 << 20} {
		buf := make([]byte, hdrRoom, hdrRoom+n)
		buf = append(buf, strings.Repeat("x", n)...)
		_, chunk := frame(buf)
		want := fmt.Sprintf("%x\r\n%s\r\n", n, strings.Repeat("x", n))
		if string(chunk) != want {
			t.Errorf("frame of %d bytes: %q...", n, chunk[:min(len(chunk), 20)])
		}
	}
}

func TestWriterPick(t *testing.T) {
	s := &Server{clocks: []*clock{{}, {}}}
	if s.writer(1000) != s.clocks[0] {
		t.Error("an idle simulator's stream goes to another clock than the first")
	}
	s.clocks[0].load.Store(clockLoad - 500)
	if s.writer(1000) != s.clocks[1] {
		t.Error("a full first clock still takes streams")
	}
	s.clocks[1].load.Store(clockLoad)
	if s.writer(1000) != s.clocks[0] {
		t.Error("with every clock full, the stream goes to another clock than the least loaded")
	}
}

// TestCompletedCountedOnce checks the ground truth when clients hang up
// the moment they have read [DONE], before the HTTP chunked terminator:
// the way most SSE clients end a stream. Every accepted stream that was
// written whole must count as completed exactly once, on both write paths.
func TestCompletedCountedOnce(t *testing.T) {
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			d := fast()
			s, ts := tcpSimOpt(t, d, nil, direct)
			addr := strings.TrimPrefix(ts.URL, "http://")
			body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":true}`
			const n = 40
			for range n {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", classic, len(body), body)
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("stream ended before [DONE]: %v", err)
					}
					if strings.HasPrefix(line, "data: [DONE]") {
						break
					}
				}
				c.Close() // at once, as a client that stops at [DONE] does
			}
			// The handlers see the hang-ups; give them until every stream
			// has ended (a deadline, not a fixed sleep: generous, as it
			// costs nothing when they end at once, and a busy machine with
			// -race can hold a handler up for seconds).
			deadline := time.Now().Add(30 * time.Second)
			for s.Stats().Deployments[d.Name].Active > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			st := s.Stats().Deployments[d.Name]
			if st.Accepted != n || st.Completed != n {
				t.Errorf("accepted %d, completed %d, want %d and %d", st.Accepted, st.Completed, n, n)
			}
		})
	}
}
