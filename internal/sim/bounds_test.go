package sim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Hostile requests on a real loopback server: what each costs the process
// (client and simulator together, as allocated bytes, which do not depend
// on how busy the machine is), and slow or idle clients cut off.

// startBounds starts a simulator of one instant, unlimited deployment.
func startBounds(t *testing.T, cfg Config) *Running {
	t.Helper()
	cfg.Deployments = []simconfig.Deployment{{Name: "gpt-4o-mini", Seed: 1}}
	r, err := Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// allocated returns the bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// tail keeps the last bytes written to it and counts them all.
type tail struct {
	n    int64
	last []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	t.last = append(t.last, p...)
	if len(t.last) > 4096 {
		t.last = append(t.last[:0], t.last[len(t.last)-1024:]...)
	}
	return len(p), nil
}

// TestWholeAnswerBounded: a whole answer of 128 choices of 127,991
// tokens (100 MB of JSON) is written as it is made: the process allocates
// a few MB for it, where building it in memory took hundreds.
func TestWholeAnswerBounded(t *testing.T) {
	r := startBounds(t, Config{})
	hc := &http.Client{}
	var got tail
	status := 0
	mb := allocated(func() {
		resp, err := hc.Post(r.URL()+classic, "application/json",
			strings.NewReader(`{"messages":[{"role":"user","content":"hello world"}],"n":128,"max_tokens":128000}`))
		if err != nil {
			t.Fatal(err)
		}
		status = resp.StatusCode
		io.Copy(&got, resp.Body)
		resp.Body.Close()
	}) >> 20
	// The prompt is 9 tokens: each choice has the rest of the window.
	want := fmt.Sprintf(`"usage":{"completion_tokens":%d,`, 128*(128000-9))
	if status != 200 || got.n < 90<<20 || !strings.Contains(string(got.last), want) {
		t.Fatalf("status %d, %d bytes ending %q: want 200, 90 MB or more, ending with %s", status, got.n, got.last[max(len(got.last)-300, 0):], want)
	}
	t.Logf("%d MB allocated for a whole answer of %d MB", mb, got.n>>20)
	if mb > 16 {
		t.Errorf("%d MB allocated for a whole answer of %d MB", mb, got.n>>20)
	}
	if st := r.Stats().Deployments["gpt-4o-mini"]; st.Completed != 1 || st.CompletionTokens != 128*(128000-9) {
		t.Errorf("stats: completed %d, completion tokens %d", st.Completed, st.CompletionTokens)
	}
}

// TestEmbeddingsBounded: 2,048 embeddings (25 MB of JSON) are written as
// they are made too.
func TestEmbeddingsBounded(t *testing.T) {
	r := startBounds(t, Config{})
	inputs := `"a"` + strings.Repeat(`,"a"`, 2047)
	var got tail
	mb := allocated(func() {
		resp, err := http.Post(r.URL()+"/openai/deployments/gpt-4o-mini/embeddings?api-version=x", "application/json",
			strings.NewReader(`{"input":[`+inputs+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&got, resp.Body)
		resp.Body.Close()
	}) >> 20
	if got.n < 20<<20 || !strings.Contains(string(got.last), `"usage":{"prompt_tokens":2048,"total_tokens":2048}}`) {
		t.Fatalf("%d bytes ending %q", got.n, got.last[max(len(got.last)-200, 0):])
	}
	t.Logf("%d MB allocated for %d MB of embeddings", mb, got.n>>20)
	if mb > 8 {
		t.Errorf("%d MB allocated for %d MB of embeddings", mb, got.n>>20)
	}
}

// TestHugePromptRefusedCheaply: prompts of 8 MB are refused for passing
// the context window after counting little more than the window. What it
// costs is the body's copies (24 MB, decoding it) and the counting of
// 128,000 tokens (0 to 40 MB, twice that with -race), where counting the
// whole prompt cost 330 to 440 MB and seconds. Embeddings' inputs are
// counted the same way.
func TestHugePromptRefusedCheaply(t *testing.T) {
	r := startBounds(t, Config{})
	wrap := func(s string) string { return `{"messages":[{"role":"user","content":"` + s + `"}],"max_tokens":5}` }
	const huge = 8 << 20 // bodies of 8 MB: what counting them costs does not depend on MaxBody
	fill := func(unit string, room int) string { return strings.Repeat(unit, (huge-room)/len(unit)) }
	// 2,048 inputs of 667 tokens.
	many := `"` + strings.Repeat("hello ", 667)[:4000] + `"`
	many = many + strings.Repeat(","+many, 2047)
	for _, c := range []struct {
		name, path, body string
		most             uint64 // MB
	}{
		{"one word", classic, wrap(fill("a", 64)), 64},
		{"letters", classic, wrap(fill("qwertyuiopasdfghjklzxcvbnm", 64)), 64},
		{"words", classic, wrap(fill("hello ", 64)), 160},
		{"2,048 inputs to embed", "/openai/deployments/gpt-4o-mini/embeddings?api-version=x", `{"input":[` + many + `]}`, 160},
	} {
		if len(c.body) > huge {
			t.Fatalf("%s: body of %d bytes", c.name, len(c.body))
		}
		status, body := 0, ""
		mb := allocated(func() {
			resp, err := http.Post(r.URL()+c.path, "application/json", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			status, body = resp.StatusCode, readAll(resp)
		}) >> 20
		if status != 400 || !strings.Contains(body, `"code":"context_length_exceeded"`) || !strings.Contains(body, "resulted in at least ") {
			t.Errorf("%s: %d %s", c.name, status, body)
		}
		t.Logf("%s: %d MB allocated to refuse it", c.name, mb)
		if mb > c.most {
			t.Errorf("%s: %d MB allocated to refuse it, want at most %d", c.name, mb, c.most)
		}
	}
	// Within the window, the count is exact.
	text := strings.Repeat("hello ", 127000)
	tok, _ := tokenizer.Get(tokenizer.O200k)
	want := fmt.Sprintf(`"prompt_tokens":%d,`, tok.CountMessages([]tokenizer.Message{{Role: "user", Content: text}}))
	resp, _ := http.Post(r.URL()+classic, "application/json", strings.NewReader(wrap(text)))
	if b := readAll(resp); resp.StatusCode != 200 || !strings.Contains(b, want) {
		t.Errorf("within the window: %d %.300s, want %s", resp.StatusCode, b, want)
	}
}

// TestSlowBodyCut: a body trickled a byte at a time is answered 408 once
// the read timeout passes, and its connection closed; so is one the
// handler does not read (an unknown deployment's), which net/http would
// otherwise wait for to discard it.
func TestSlowBodyCut(t *testing.T) {
	r := startBounds(t, Config{ReadTimeout: 300 * time.Millisecond})
	for _, c := range []struct {
		path   string
		status int
	}{{classic, http.StatusRequestTimeout}, {"/openai/deployments/nope/chat/completions?api-version=x", http.StatusNotFound}} {
		// The server's read timeout runs from when it starts reading the
		// connection, which can be before Dial returns here: timed from
		// before the dial, the wait measured here is never shorter than
		// the server's, however late this goroutine runs on a busy machine.
		start := time.Now()
		conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", c.path)
		go func() {
			for {
				time.Sleep(20 * time.Millisecond)
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		// Generous: the answer is due 300 ms after the headers.
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer to a trickled body after %v: %v", c.path, time.Since(start), err)
		}
		body := readAll(resp)
		if resp.StatusCode != c.status || !resp.Close || time.Since(start) < 300*time.Millisecond {
			t.Errorf("%s: after %v: %d (closing %v) %s", c.path, time.Since(start), resp.StatusCode, resp.Close, body)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: connection not closed: %v", c.path, err)
		}
	}
	if st := r.Stats().Deployments["gpt-4o-mini"]; st.Invalid != 1 {
		t.Errorf("invalid %d, want 1", st.Invalid)
	}
}

// TestReadTimeoutSparesStreams: the read deadline ends with the body: a
// stream that lasts longer than the read timeout is served whole.
func TestReadTimeoutSparesStreams(t *testing.T) {
	r, err := Start(Config{ReadTimeout: 100 * time.Millisecond, Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", ITL: simconfig.Duration(10 * time.Millisecond)}}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	resp, err := http.Post(r.URL()+classic, "application/json", strings.NewReader(chat(40, true)))
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(resp); resp.StatusCode != 200 || !strings.HasSuffix(b, "data: [DONE]\n\n") {
		t.Errorf("a 400 ms stream after a read timeout of 100 ms: %d %q", resp.StatusCode, b[max(len(b)-100, 0):])
	}
}

// TestIdleConnectionClosed: a keep-alive connection left idle is closed
// after the idle timeout.
func TestIdleConnectionClosed(t *testing.T) {
	r := startBounds(t, Config{IdleTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", strings.TrimPrefix(r.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server's idle timeout runs from when it has written the answer,
	// which can be before this goroutine has read it: timed from before
	// the request, the idle time measured here is never shorter than the
	// server's, however late this goroutine runs on a busy machine.
	idle := time.Now()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: sim\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.Close {
		t.Fatalf("healthz: %v, closing %v", err, resp != nil && resp.Close)
	}
	readAll(resp)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF || time.Since(idle) < 300*time.Millisecond {
		t.Errorf("idle connection: read %d, %v after %v; want EOF after 300ms", n, err, time.Since(idle))
	}
}

// TestHeadersBounded: headers past 64 KB are refused.
func TestHeadersBounded(t *testing.T) {
	r := startBounds(t, Config{})
	req, _ := http.NewRequest(http.MethodGet, r.URL()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(resp); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KB of headers: %d", resp.StatusCode)
	}
}

// TestAgentInputBounded: hostile agent requests (a schema of 30,000
// properties, which took seconds to compile; tools described in 1 MB; a 27
// MB inline image
// that is not one, one past vision.MaxInline, 10,000 tools, a schema
// nested 4,000 deep, an 11th image of 4096x4096) are refused with a 400,
// and a schema of 1,900 properties answered, at a bounded cost: the 27 MB image's copies (the client's, the body,
// its message, its part, its URL, the decoded bytes) are about six times
// its size.
func TestAgentInputBounded(t *testing.T) {
	r := startBounds(t, Config{})
	junk := func(n int) string { return "data:image/png;base64," + strings.Repeat("QUJD", n/4) }
	img := func(url string) string {
		return `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"` + url + `"}}]}]}`
	}
	tenThousand := `[` + strings.Repeat(`{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},`, 9999) + `{"type":"function","function":{"name":"f"}}]`
	deep := strings.Repeat(`{"type":"object","properties":{"a":`, 2000) + `{}` + strings.Repeat(`}}`, 2000)
	big := pngURL(t, 4096, 4096)
	var eleven []string
	for range 11 {
		eleven = append(eleven, `{"type":"image_url","image_url":{"url":"`+big+`"}}`)
	}
	wide := func(props int) string {
		var b strings.Builder
		b.WriteString(`{"type":"object","properties":{"p0":{"type":"string"}`)
		for i := 1; i < props; i++ {
			fmt.Fprintf(&b, `,"p%d":{"type":"string"}`, i)
		}
		return b.String() + `}}`
	}
	format := func(sch string) string {
		return `{"max_tokens":20,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + sch + `}},"messages":[{"role":"user","content":"hi"}]}`
	}
	bigTools := `[{"type":"function","function":{"name":"f","description":"` + strings.Repeat("describe ", 120_000) + `"}}]`
	for _, c := range []struct {
		name, body, want string
		most             uint64 // MB
	}{
		{"a schema of 1,900 properties, answered", format(wide(1900)), `"finish_reason":"length"`, 200},
		{"a schema of 30,000 properties", format(wide(30_000)), "has more than 2000 objects", 32},
		{"a tool described in 1 MB", `{"tools":` + bigTools + `,"messages":[{"role":"user","content":"hi"}]}`, "over 1024 KB of definitions", 32},
		{"27 MB that is no image", img(junk(27 << 20)), "not a JPEG, PNG, GIF or WebP", 200},
		{"past MaxInline", img(junk(28<<20 + 4)), "over 28 MB", 200},
		{"10,000 tools", `{"tools":` + tenThousand + `,"messages":[{"role":"user","content":"hi"}]}`, "got an array with length 10000", 64},
		{"a schema 4,000 deep", `{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + deep + `}},"messages":[{"role":"user","content":"hi"}]}`, "nests deeper than 64", 64},
		{"eleven images", `{"messages":[{"role":"user","content":[` + strings.Join(eleven, ",") + `]}]}`, "Max is 10", 64},
	} {
		if len(c.body) > MaxBody {
			t.Fatalf("%s: body of %d bytes", c.name, len(c.body))
		}
		status, body := 0, ""
		mb := allocated(func() {
			resp, err := http.Post(r.URL()+classic, "application/json", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			status, body = resp.StatusCode, readAll(resp)
		}) >> 20
		if status != 400 && !strings.HasSuffix(c.name, "answered") || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %.300s, want 400 with %q", c.name, status, body, c.want)
		}
		t.Logf("%s: %d MB allocated to answer a body of %d MB", c.name, mb, len(c.body)>>20)
		if mb > c.most {
			t.Errorf("%s: %d MB allocated, want at most %d", c.name, mb, c.most)
		}
	}
}
