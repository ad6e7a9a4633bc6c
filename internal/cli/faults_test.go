package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// The credentials every run of the fault matrix sends: the key (from the
// environment, or from a --params file), a --header read from the
// environment, a --header typed in full, the URL's password. A hostile
// server echoes them wherever it can.
const (
	faultEnvKey  = "sk-fault-env-key-0123456789"
	faultFileKey = "sk-fault-file-key-9876543210"
	faultEnvHdr  = "fault-env-header-secret-4242"
	faultLitHdr  = "fault-typed-header-secret-4343"
	faultPass    = "fault-url-password-4444"
	faultUser    = "me"
)

// faultSecrets are the texts that must appear nowhere: each credential,
// its 10-character prefix (a cut after redaction would leave one), and
// the basic credential Go builds from the URL's user info, which decodes
// to the password.
func faultSecrets() []string {
	basic := base64.StdEncoding.EncodeToString([]byte(faultUser + ":" + faultPass))
	var out []string
	for _, s := range []string{faultEnvKey, faultFileKey, faultEnvHdr, faultLitHdr, faultPass, basic} {
		out = append(out, s, s[:10])
	}
	return out
}

// faultServer is one behaviour's loopback server and what it needs.
type faultServer struct {
	*httptest.Server
	n     atomic.Int64  // requests that reached it, 1 first
	quit  chan struct{} // closed when the case ends: hanging handlers return
	other string        // another host's URL, for redirects
	mu    sync.Mutex
	conns []net.Conn // hijacked connections, closed when the case ends
	wg    sync.WaitGroup
}

// hijack takes over the connection of w: the handler writes raw bytes.
// The connection is closed when the case ends, if not before.
func (s *faultServer) hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	c, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	c.SetDeadline(time.Now().Add(40 * time.Second))
	return c, rw
}

// reset closes c with a TCP reset instead of an orderly close.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// wait blocks until the request is gone or the case ends.
func (s *faultServer) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.quit:
	}
	return false
}

// echo is every credential a request carried, as a server that echoes
// its request puts them: the key (either dialect), both headers, the
// URL's password and the basic credential alone, without its "Basic".
func echo(r *http.Request) string {
	parts := []string{r.Header.Get("Api-Key"), r.Header.Get("X-Env"), r.Header.Get("X-Lit")}
	if _, p, ok := r.BasicAuth(); ok {
		parts = append(parts, p)
	}
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic "); ok {
		parts = append(parts, b)
	}
	return strings.Join(parts, " ")
}

// keptHeaders are the response headers a record keeps.
var keptHeaders = []string{"apim-request-id", "x-request-id", "x-ms-region", "x-ms-deployment-name", "x-ms-spillover-from-deployment"}

// SSE helpers: a chat stream's events.
func sseEvent(js string) string { return "data: " + js + "\n\n" }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func chatContent(text string) string {
	return sseEvent(`{"choices":[{"index":0,"delta":{"content":` + jsonString(text) + `}}]}`)
}

func chatFinish(reason string) string {
	return sseEvent(`{"choices":[{"index":0,"delta":{},"finish_reason":` + jsonString(reason) + `}]}`)
}

func chatUsage(prompt, completion string) string {
	return sseEvent(`{"choices":[],"usage":{"prompt_tokens":` + prompt + `,"completion_tokens":` + completion + `}}`)
}

const sseDone = "data: [DONE]\n\n"

// goodStream is a well-formed answer.
func goodStream() string {
	return chatContent("hello") + chatContent(" world") + chatFinish("stop") + chatUsage("20", "2") + sseDone
}

// writeEvents writes body event by event, flushing each, as a server
// streams.
func writeEvents(w http.ResponseWriter, body string) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	for _, part := range strings.SplitAfter(body, "\n\n") {
		if part == "" {
			continue
		}
		io.WriteString(w, part)
		w.(http.Flusher).Flush()
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	io.WriteString(z, s)
	z.Close()
	return b.Bytes()
}

// rawAnswer is a whole HTTP/1.1 answer with a Content-Length, and the
// kept headers echoing the credentials.
func rawAnswer(r *http.Request, body string, extra string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
	for _, h := range keptHeaders {
		fmt.Fprintf(&b, "%s: id-%s\r\n", h, echo(r))
	}
	fmt.Fprintf(&b, "%sContent-Length: %d\r\n\r\n%s", extra, len(body), body)
	return b.String()
}

// fault is one server behaviour of the matrix, and what a user should get.
type fault struct {
	name string
	// serve answers request n (1 first); the kept headers already echo
	// the credentials, unless it sets them itself.
	serve func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64)
	args  []string // flags besides the common ones
	n, c  int      // -n and -c (default 6 and 2)
	d     string   // -d (default 15s)
	// timeout is --request-timeout (default 5s): longer for a case that
	// must work, slowly, on a busy machine.
	timeout string
	code    int // the exit status the README's table gives
	// want is what a record's error or warning must say ("" when every
	// answer was right; a|b: either).
	want string
	// params sends the key of a --params file instead of the
	// environment's.
	params bool
	// valid: the run has a rate, so a busy machine may make it exit 3 for
	// its schedule alone (worked).
	valid bool
	// clean: every request must be ok, with no warning.
	clean bool
	// check, if set, says what is wrong with the run's summary.json and
	// stderr ("" when nothing is): state a server's answers must not grow.
	check func(summary []byte, stderr string) string
	// redacted are fields of requests.jsonl that must hold the echo,
	// redacted: what the server echoed was kept, not dropped.
	redacted []string
}

// faults is the matrix: servers that break HTTP, SSE and the API's rules,
// as an attacker or a buggy gateway would.
func faults() []fault {
	ok := func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) { writeEvents(w, goodStream()) }
	redirect := func(status int) func(*faultServer, http.ResponseWriter, *http.Request, int64) {
		return func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
			// The Location carries the key in its user info and query.
			to := strings.Replace(s.other, "http://", "http://u:"+r.Header.Get("Api-Key")+"@", 1)
			http.Redirect(w, r, to+"/openai/deployments/dep/chat/completions?key="+echo(r), status)
		}
	}
	status := func(code int, body string) func(*faultServer, http.ResponseWriter, *http.Request, int64) {
		return func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, strings.ReplaceAll(body, "ECHO", echo(r)))
		}
	}
	throttle := func(header, value string) func(*faultServer, http.ResponseWriter, *http.Request, int64) {
		return func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set(header, value)
			w.WriteHeader(429)
			fmt.Fprintf(w, `{"error":{"code":"429","message":"Rate limit reached for %s. Retry later."}}`, echo(r))
		}
	}
	stream := func(body string) func(*faultServer, http.ResponseWriter, *http.Request, int64) {
		return func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
			writeEvents(w, strings.ReplaceAll(body, "ECHO", echo(r)))
		}
	}
	typed := func(ct, enc string, body []byte) func(*faultServer, http.ResponseWriter, *http.Request, int64) {
		return func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Content-Type", ct)
			if enc != "" {
				w.Header().Set("Content-Encoding", enc)
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}
	}
	chunk := func(choice string) string { return sseEvent(`{"choices":[` + choice + `]}`) }
	respEvent := func(typ, rest string) string {
		return "event: " + typ + "\n" + sseEvent(`{"type":"`+typ+`",`+rest+`}`)
	}
	responsesGood := respEvent("response.created", `"response":{"status":"in_progress"}`) +
		respEvent("response.output_text.delta", `"delta":"hi"`) +
		respEvent("response.completed", `"response":{"status":"completed","usage":{"input_tokens":20,"output_tokens":1}}`)
	responses := []string{"--endpoint-type", "responses", "-a", "2025-04-01-preview"}
	embeddings := []string{"--endpoint-type", "embeddings"}
	nested := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	deepOK := strings.Repeat("[", 2000) + strings.Repeat("]", 2000)

	return []fault{
		{name: "a well-formed server (control)", clean: true, serve: ok, code: ExitOK},
		{name: "a well-formed server, key from --params", clean: true, serve: ok, code: ExitOK, params: true},
		{name: "a well-formed server at a rate", serve: ok, code: ExitOK, args: []string{"-r", "600"}, c: 6, timeout: "25s", valid: true},

		// Redirects to another host: never followed, the first request
		// stops the run.
		{name: "301 to another host", serve: redirect(301), code: ExitFailed, want: "redirect to http://"},
		{name: "302 to another host", serve: redirect(302), code: ExitFailed, want: "redirect to http://"},
		{name: "307 to another host", serve: redirect(307), code: ExitFailed, want: "redirect to http://", params: true},
		{name: "308 to another host", serve: redirect(308), code: ExitFailed, want: "redirect to http://"},

		// Every credential echoed into every kept header, finish_reason,
		// error bodies and error events.
		{name: "echo into headers and finish_reason", clean: true, code: ExitOK, redacted: []string{"request_id", "region", "deployment", "spilled_from", "finish"},
			serve: stream(chatContent("hi ECHO") + chatFinish("stop ECHO") + sseDone)},
		{name: "echo into headers and finish_reason, key from --params", clean: true, code: ExitOK, params: true, redacted: []string{"request_id", "region", "deployment", "spilled_from", "finish"},
			serve: stream(chatContent("hi ECHO") + chatFinish("stop ECHO") + sseDone)},
		{name: "echo into x-request-id, with no apim-request-id", clean: true, code: ExitOK, redacted: []string{"request_id"},
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Del("apim-request-id")
				w.Header().Set("x-request-id", "req-"+echo(r))
				writeEvents(w, goodStream())
			}},
		{name: "echo into the answer, with --log-request-content", clean: true, code: ExitOK, args: []string{"--log-request-content"},
			redacted: []string{"answer_text"}, serve: stream(chatContent("your key is ECHO") + chatFinish("stop") + sseDone)},
		{name: "echo cut by a kept header's length", clean: true, code: ExitOK,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				for i, h := range keptHeaders {
					w.Header().Set(h, strings.Repeat("x", 60+10*i)+echo(r))
				}
				writeEvents(w, goodStream())
			}},
		{name: "500 echoing credentials in its error body", code: ExitFailed, want: "500 upstream failed for",
			serve: status(500, `{"error":{"message":"upstream failed for ECHO"}}`)},
		{name: "401 echoing credentials", code: ExitFailed, want: "401", params: true,
			serve: status(401, `{"error":{"code":"401","message":"Access denied: key ECHO is not valid"}}`)},
		{name: "403 echoing credentials", code: ExitFailed, want: "403",
			serve: status(403, `{"error":{"message":"forbidden ECHO"}}`)},
		{name: "404 echoing credentials", code: ExitFailed, want: "404",
			serve: status(404, `{"error":{"message":"DeploymentNotFound ECHO"}}`)},
		{name: "SSE error event echoing credentials", code: ExitFailed, want: "error event: bad request",
			serve: stream(chatContent("a") + "event: error\n" + sseEvent(`{"error":{"message":"bad request: ECHO"}}`))},
		{name: "Responses error event echoing credentials", code: ExitFailed, want: "error event", args: responses,
			serve: stream(respEvent("response.output_text.delta", `"delta":"hi"`) + respEvent("response.failed", `"response":{"status":"failed","error":{"message":"ECHO"}}`))},
		// Terminal escapes in what is printed: a title change, a screen
		// clear, a NUL (Go's client refuses them in headers).
		{name: "ANSI escapes and NUL in a 401's body", code: ExitFailed, want: "401",
			serve: status(401, "\x1b]0;pwned\x07\x1b[2J\x00denied ECHO")},
		{name: "ANSI escapes in an error event and finish_reason", code: ExitFailed, want: "error event",
			serve: stream(chatContent("a\x1b[2J") + chatFinish("stop\x1b]0;t\x07") + sseEvent(`{"error":{"message":"\u001b[31mred\u0007 ECHO"}}`))},

		// Hangs, cuts, trickles.
		{name: "hangs after its headers", code: ExitFailed, want: "--request-timeout", c: 3,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				s.wait(r, time.Minute)
			}},
		{name: "hangs after its first event", code: ExitFailed, want: "--request-timeout", c: 3,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				writeEvents(w, chatContent("hi"))
				s.wait(r, time.Minute)
			}},
		{name: "endless output past the timeout", code: ExitFailed, want: "--request-timeout", c: 3,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Content-Type", "text/event-stream")
				ev := []byte(chatContent(strings.Repeat("word ", 200)))
				for s.wait(r, time.Millisecond) {
					if _, err := w.Write(ev); err != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
			}},
		{name: "keep-alive comments past the timeout", code: ExitFailed, want: "--request-timeout", c: 3,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				writeEvents(w, chatContent("hi"))
				for s.wait(r, 50*time.Millisecond) {
					io.WriteString(w, ": keep-alive\n\n")
					w.(http.Flusher).Flush()
				}
			}},
		{name: "headers after the timeout", code: ExitFailed, want: "--request-timeout",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if s.wait(r, 10*time.Second) {
					writeEvents(w, goodStream())
				}
			}},
		{name: "headers a byte at a time past the timeout", code: ExitFailed, want: "--request-timeout",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				defer c.Close()
				for _, b := range []byte("HTTP/1.1 200 OK\r\nX-Slow: " + strings.Repeat("s", 200)) {
					rw.WriteByte(b)
					if rw.Flush() != nil || !s.wait(r, 100*time.Millisecond) {
						return
					}
				}
			}},
		{name: "slow headers within the timeout", clean: true, code: ExitOK, timeout: "25s",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if s.wait(r, 700*time.Millisecond) {
					writeEvents(w, goodStream())
				}
			}},
		{name: "cuts the stream mid-event", code: ExitFailed, want: "unexpected EOF",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				writeEvents(w, chatContent("hi"))
				io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"con`)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // no chunked terminator: a cut connection
			}},
		{name: "ends cleanly mid-event", code: ExitFailed, want: "malformed event",
			serve: stream(chatContent("hi") + `data: {"choices":[{"index":0,"delta":{"con`)},
		// Two requests at once, one round: a busy machine's slow round
		// would otherwise meet -d and the drain timeout.
		{name: "trickles a byte at a time", clean: true, code: ExitOK, timeout: "25s", n: 2,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Content-Type", "text/event-stream")
				for _, b := range []byte(goodStream()) {
					w.Write([]byte{b})
					w.(http.Flusher).Flush()
					if !s.wait(r, time.Millisecond) {
						return
					}
				}
			}},
		{name: "a line over 16 MB", code: ExitFailed, want: "too long", n: 2, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				writeEvents(w, chatContent("hi"))
				io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"")
				line := bytes.Repeat([]byte("a"), 1<<20)
				for range 17 {
					if _, err := w.Write(line); err != nil {
						return
					}
				}
				io.WriteString(w, "\"}}]}\n\n"+chatFinish("stop")+sseDone)
			}},
		{name: "an event of many lines over 16 MB", code: ExitFailed, want: "too long", n: 2, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				writeEvents(w, chatContent("hi"))
				line := []byte("data: " + strings.Repeat("a", 1<<20) + "\n")
				for range 40 {
					if _, err := w.Write(line); err != nil {
						return
					}
				}
				io.WriteString(w, "\n"+chatFinish("stop")+sseDone)
			}},
		{name: "headers over 1 MB", code: ExitFailed, want: "headers exceeded",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("X-Huge", strings.Repeat("h", 2<<20))
				writeEvents(w, goodStream())
			}},
		{name: "a new x-ms-deployment-name in every answer", code: ExitOK, clean: true, n: 40, c: 4,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("x-ms-deployment-name", fmt.Sprintf("replica-%d-%s", n, echo(r)))
				writeEvents(w, goodStream())
			},
			check: func(summary []byte, stderr string) string {
				var res struct {
					Deployments map[string]json.RawMessage `json:"deployments"`
				}
				json.Unmarshal(summary, &res)
				if n := len(res.Deployments); n > 9 || n == 0 {
					return fmt.Sprintf("summary.json splits the figures over %d deployments", n)
				}
				if n := strings.Count(stderr, "TTFT p50"); n > 9 {
					return fmt.Sprintf("stderr has %d deployments' lines", n)
				}
				return ""
			}},
		// Bounded by the cap on events, or on a machine too busy to read a
		// million events in 5 s, by --request-timeout.
		{name: "tiny events as fast as the connection goes", code: ExitFailed, want: "output events|--request-timeout", n: 1, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Content-Type", "text/event-stream")
				evs := []byte(strings.Repeat(`data: {"choices":[{"delta":{"content":"a"}}]}`+"\n\n", 4096))
				for r.Context().Err() == nil {
					if _, err := w.Write(evs); err != nil {
						return
					}
				}
			}},
		{name: "a 500 KB request id ending in the key", clean: true, code: ExitOK,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("apim-request-id", strings.Repeat("i", 500<<10)+echo(r))
				writeEvents(w, goodStream())
			}},

		// The API's rules broken.
		{name: "choice index 99999999999", code: ExitFailed, want: "index is not a count",
			serve: stream(chunk(`{"index":99999999999,"delta":{"content":"x"}}`) + chatFinish("stop") + sseDone)},
		{name: "a choice that was not asked for", code: ExitFailed, want: "output for choice 1, which was not asked for",
			serve: stream(chatContent("a") + chunk(`{"index":1,"delta":{"content":"x"}}`) + chatFinish("stop") +
				chunk(`{"index":1,"delta":{},"finish_reason":"stop"}`) + sseDone)},
		{name: "text after finish_reason", code: ExitFailed, want: "output after choice 0's finish_reason",
			serve: stream(chatContent("a") + chatFinish("stop") + chatContent("b") + sseDone)},
		{name: "a second finish_reason", code: ExitOK, want: "finish_reason came twice",
			serve: stream(chatContent("a") + chatFinish("stop") + chatFinish("length") + sseDone)},
		{name: "a Responses stream to a chat request", code: ExitFailed, want: "a Responses API event in a chat stream",
			serve: stream(responsesGood)},
		{name: "a chat stream to a Responses request", code: ExitFailed, want: "chat completions chunk in a Responses API stream",
			args: responses, serve: ok},
		{name: "Responses stream, well-formed", clean: true, code: ExitOK, args: responses, serve: stream(responsesGood)},
		{name: `embeddings with "embedding":"notalist"`, code: ExitFailed, want: "not vectors", args: embeddings,
			serve: typed("application/json", "", []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":"notalist"}],"usage":{"prompt_tokens":3,"total_tokens":3}}`))},
		{name: "two embeddings for one input", code: ExitFailed, want: "2 embeddings for 1 inputs", args: embeddings,
			serve: typed("application/json", "", []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]},{"object":"embedding","index":1,"embedding":[0.2]}],"usage":{"prompt_tokens":3}}`))},
		{name: `"prompt_tokens":"10"`, code: ExitOK, want: "usage prompt_tokens is not a number",
			serve: stream(chatContent("a") + chatFinish("stop") + chatUsage(`"10"`, "1") + sseDone)},
		{name: "usage counts past 2^31", code: ExitOK, want: "usage completion_tokens 99999999999 is not a count",
			serve: stream(chatContent("a") + chatFinish("stop") + chatUsage("20", "99999999999") + sseDone)},
		{name: "a usage count of 1e999", code: ExitOK, want: "usage prompt_tokens 1e999 is not a count",
			serve: stream(chatContent("a") + chatFinish("stop") + chatUsage("1e999", "1") + sseDone)},
		{name: "NaN in usage", code: ExitFailed, want: "malformed event",
			serve: stream(chatContent("a") + chatFinish("stop") + chatUsage("NaN", "1") + sseDone)},
		{name: "Infinity and NaN in headers", clean: true, code: ExitOK,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("azure-openai-deployment-utilization", "NaN%")
				w.Header().Set("x-ratelimit-remaining-tokens", "99999999999999999999999")
				w.Header().Set("x-ratelimit-remaining-requests", "-5")
				w.Header().Set("x-ratelimit-limit-tokens", "Infinity")
				w.Header().Set("retry-after-ms", "Infinity")
				writeEvents(w, goodStream())
			}},
		{name: "reasoning and cached tokens past their totals", code: ExitOK, clean: true,
			serve: stream(chatContent("a") + chatFinish("stop") + sseEvent(`{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,`+
				`"completion_tokens_details":{"reasoning_tokens":4000},"prompt_tokens_details":{"cached_tokens":9000}}}`) + sseDone)},
		{name: "finish_reason a number", code: ExitFailed, want: "malformed event",
			serve: stream(chatContent("a") + chunk(`{"index":0,"delta":{},"finish_reason":5}`) + sseDone)},
		{name: "choices an object", code: ExitFailed, want: "malformed event",
			serve: stream(sseEvent(`{"choices":{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}}`) + sseDone)},
		{name: "choice index 1e400", code: ExitFailed, want: "index is not a count",
			serve: stream(chunk(`{"index":1e400,"delta":{"content":"x"},"finish_reason":"stop"}`) + sseDone)},
		{name: "duplicate usage frames", clean: true, code: ExitOK,
			serve: stream(chatContent("a") + chatFinish("stop") + chatUsage("20", "1") + chatUsage("20", "1") + sseDone)},
		{name: "[DONE] missing", clean: true, code: ExitOK, serve: stream(chatContent("a") + chatFinish("stop") + chatUsage("20", "1"))},
		{name: "[DONE] alone", code: ExitFailed, want: "[DONE] came before any event", serve: stream(sseDone)},
		{name: "no finish_reason, [DONE] sent", code: ExitOK, want: "no finish_reason came before [DONE]",
			serve: stream(chatContent("a") + chatContent("b") + sseDone)},
		{name: "no finish_reason, no [DONE]", code: ExitFailed, want: "stream ended before finish_reason",
			serve: stream(chatContent("a") + chatContent("b"))},
		{name: "invalid UTF-8 in content, finish_reason and headers", code: ExitOK,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("x-ms-region", "east\xff\xfeus "+echo(r))
				writeEvents(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xff\xc3b\"}}]}\n\n"+
					"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"st\xffop\"}]}\n\n"+sseDone)
			}},
		{name: "invalid UTF-8 in an error body", code: ExitFailed, want: "502",
			serve: status(502, "\xff\xfe<html>bad gateway \xc3 ECHO</html>")},
		{name: "JSON nested 200,000 deep", code: ExitFailed, want: "malformed event",
			serve: stream(sseEvent(`{"x":`+nested+`,"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}`) + sseDone)},
		{name: "JSON nested 2,000 deep in an unknown key", clean: true, code: ExitOK,
			serve: stream(sseEvent(`{"x":`+deepOK+`,"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}`) + sseDone)},
		{name: "a stream with CR line endings", code: ExitOK, clean: true,
			serve: stream(strings.ReplaceAll(goodStream(), "\n", "\r"))},
		{name: "a stream that starts with a byte order mark", code: ExitOK, clean: true,
			serve: stream("\ufeff" + sseEvent(`{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}`) + sseDone)},
		{name: "10,000 one-byte events", clean: true, code: ExitOK, n: 2, timeout: "25s",
			serve: stream(strings.Repeat(chatContent("a"), 10000) + chatFinish("stop") + sseDone)},

		// Bodies that are not event streams.
		{name: "a gzip body", code: ExitFailed, want: "Content-Encoding gzip",
			serve: typed("text/event-stream", "gzip", gzipped(goodStream()))},
		{name: "an application/json answer to a stream", code: ExitFailed, want: "Content-Type application/json",
			serve: typed("application/json", "", []byte(`{"choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}]}`))},
		{name: "an HTML 200", code: ExitFailed, want: "Content-Type text/html",
			serve: typed("text/html", "", []byte("<html><body>Service Unavailable</body></html>"))},
		{name: "an empty 200", code: ExitFailed, want: "empty", serve: typed("text/event-stream", "", nil)},
		{name: "a whole answer over 16 MB", code: ExitFailed, want: "over 16 MB", args: []string{"--no-stream"}, n: 2, c: 1,
			serve: typed("application/json", "", append(append([]byte(`{"choices":[{"index":0,"message":{"content":"`), bytes.Repeat([]byte("a"), 17<<20)...), `"},"finish_reason":"stop"}]}`...))},
		{name: "a whole answer, nested 200,000 deep", code: ExitFailed, want: "malformed answer", args: []string{"--no-stream"},
			serve: typed("application/json", "", []byte(`{"x":`+nested+`}`))},
		{name: "a Content-Length shorter than the stream", code: ExitFailed, want: "stream ended before finish_reason",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				defer c.Close()
				full := rawAnswer(r, goodStream(), "")
				// The same answer, its length cut to the first event.
				cut := strings.Replace(full, fmt.Sprintf("Content-Length: %d", len(goodStream())), fmt.Sprintf("Content-Length: %d", len(chatContent("hello"))), 1)
				rw.WriteString(cut)
				rw.Flush()
			}},
		{name: "broken chunked encoding", code: ExitFailed, want: "chunk",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				defer c.Close()
				ev := chatContent("hi")
				fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\nzz\r\nnonsense", len(ev), ev)
				rw.Flush()
			}},
		{name: "an HTTP/1.0 answer ended by close", clean: true, code: ExitOK,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				defer c.Close()
				rw.WriteString("HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + goodStream())
				rw.Flush()
			}},

		// Status codes and throttling.
		{name: "429 storm, Retry-After huge", code: ExitFailed, want: "429", d: "4s",
			serve: throttle("Retry-After", "99999999999999999999")},
		{name: "429 storm, Retry-After negative", code: ExitFailed, want: "429",
			serve: throttle("Retry-After", "-30")},
		{name: "429 storm, Retry-After an HTTP-date an hour ahead", code: ExitFailed, want: "429", d: "4s",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				throttle("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))(s, w, r, n)
			}},
		{name: "429 storm, retry-after-ms NaN, retrying", code: ExitFailed, want: "429", d: "4s",
			args: []string{"--retry", "exponential"}, serve: throttle("retry-after-ms", "NaN")},
		// Honoured to the millisecond: about 1,500 attempts a second per
		// request, for the 60 s retry budget (see the report).
		{name: "429 storm, retry-after-ms 1, retrying", code: ExitFailed, want: "429", d: "2s", c: 1,
			args: []string{"--retry", "exponential"}, serve: throttle("retry-after-ms", "1")},
		{name: "429 storm, Retry-After huge, retrying", code: ExitFailed, want: "429", d: "4s",
			args: []string{"--retry", "exponential"}, serve: throttle("Retry-After", "1e300")},
		{name: "429 every other request, Retry-After a past HTTP-date, retrying", code: ExitOK, want: "429", c: 1,
			args: []string{"--retry", "exponential"},
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n%2 == 1 {
					throttle("Retry-After", "Thu, 01 Jan 1970 00:00:00 GMT")(s, w, r, n)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "503 every other request, retrying", code: ExitOK, want: "503", c: 1,
			args: []string{"--retry", "exponential"},
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n%2 == 1 {
					status(503, `{"error":{"message":"busy ECHO"}}`)(s, w, r, n)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "a 500 with a 50 MB body", code: ExitFailed, want: "500 [REDACTED]",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				w.WriteHeader(500)
				io.WriteString(w, echo(r))
				line := bytes.Repeat([]byte("x"), 1<<20)
				for range 50 {
					if _, err := w.Write(line); err != nil {
						return
					}
				}
			}},
		// The README's rule: more than half failed (429s aside) is a
		// failed run; half is not.
		{name: "500 for half the requests", code: ExitOK, want: "500", c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n%2 == 1 {
					status(500, `{"error":{"message":"half ECHO"}}`)(s, w, r, n)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "500 for two requests in three", code: ExitFailed, want: "500", c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n%3 != 0 {
					status(500, `{"error":{"message":"most ECHO"}}`)(s, w, r, n)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "429 for five requests in six", code: ExitOK, want: "429", c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n < 6 {
					throttle("retry-after-ms", "1")(s, w, r, n)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "502 HTML storm", code: ExitFailed, want: "502",
			serve: status(502, "<html><head><title>502 Bad Gateway</title></head><body>nginx ECHO</body></html>")},
		{name: "204 No Content", code: ExitFailed, want: "204", serve: status(204, "")},
		{name: "status 999", code: ExitFailed, want: "999", serve: status(999, `{"error":{"message":"what"}}`)},
		{name: "400 naming stream_options, always", code: ExitFailed, want: "stream_options",
			serve: status(400, `{"error":{"message":"Unrecognized request argument supplied: stream_options ECHO"}}`)},
		{name: "101 Switching Protocols, then silence", code: ExitFailed, want: "101 Switching Protocols",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: Upgrade\r\n\r\n")
				rw.Flush()
				s.wg.Go(func() {
					defer c.Close()
					select {
					case <-s.quit:
					case <-time.After(30 * time.Second):
					}
				})
			}},
		{name: "a thousand 103 Early Hints first", clean: true, code: ExitOK,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				defer c.Close()
				rw.WriteString(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n", 1000))
				rw.WriteString(rawAnswer(r, goodStream(), "Connection: close\r\n"))
				rw.Flush()
			}},

		// Connections.
		{name: "resets every connection", code: ExitFailed, want: "",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, _ := s.hijack(w)
				reset(c)
			}},
		{name: "resets after its headers", code: ExitFailed, want: "reset",
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				ev := chatContent("hi")
				fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(ev), ev)
				rw.Flush()
				time.Sleep(20 * time.Millisecond) // let the event be read first
				reset(c)
			}},
		{name: "resets every third request", code: ExitOK, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n%3 == 0 {
					c, _ := s.hijack(w)
					reset(c)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "dies after its first answer", code: ExitFailed, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				if n > 1 {
					c, _ := s.hijack(w)
					reset(c)
					return
				}
				writeEvents(w, goodStream())
			}},
		{name: "keep-alive abuse: closes each connection unannounced", code: ExitOK, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				rw.WriteString(rawAnswer(r, goodStream(), "Connection: keep-alive\r\n"))
				rw.Flush()
				c.Close()
			}},
		{name: "keep-alive abuse: unsolicited answers echoing credentials", clean: true, code: ExitOK, c: 1,
			serve: func(s *faultServer, w http.ResponseWriter, r *http.Request, n int64) {
				c, rw := s.hijack(w)
				// Each answer is followed by a second one nobody asked for;
				// both are well-formed, so whichever request reads which,
				// every request is answered.
				s.wg.Go(func() {
					defer c.Close()
					for {
						junk := rawAnswer(r, chatContent("unasked "+echo(r))+chatFinish("stop")+sseDone, "")
						if _, err := rw.WriteString(rawAnswer(r, goodStream(), "") + junk); err != nil || rw.Flush() != nil {
							return
						}
						next, err := http.ReadRequest(rw.Reader)
						if err != nil {
							return
						}
						io.Copy(io.Discard, next.Body)
						r = next
					}
				})
			}},
	}
}

// faultTotals counts what the matrix found, over every case.
type faultTotals struct {
	cases, panics, lost, duplicated, leaked, unbounded, wrongExit, unnamed, badFiles atomic.Int64
}

// TestFaultMatrix runs load against servers that misbehave in every way
// listed in faults, and counts, over all of them, panics, records lost or
// written twice, secrets written anywhere, runs that do not end (or
// whose state grows with what a server sends), exit statuses other than
// the README's, and faults no record names; each must be 0. The cases
// run together (most of their time is spent waiting on timeouts), a
// one-line result each, then the totals.
func TestFaultMatrix(t *testing.T) {
	// net/http writes some of a server's bytes to the standard logger
	// (an unsolicited answer on an idle connection): they are output too.
	// Main sends the logger nowhere; this catches it if it ever does not.
	var logged lockedBuffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)

	var tot faultTotals
	cases := faults()
	logs := make([]*caseLog, len(cases))
	base := t.TempDir()
	slots := make(chan struct{}, 16) // the CPU-heavy cases must not starve the timed ones
	var wg sync.WaitGroup
	for i, f := range cases {
		logs[i] = &caseLog{}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			tmp, err := os.MkdirTemp(base, "case")
			if err != nil {
				logs[i].Errorf("%v", err)
				return
			}
			runFault(logs[i], f, &tot, tmp)
		})
	}
	wg.Wait()
	for i, f := range cases {
		t.Run(f.name, func(t *testing.T) { logs[i].replay(t) })
	}
	for _, s := range faultSecrets() {
		if strings.Contains(logged.String(), s) {
			tot.leaked.Add(1)
			t.Errorf("the standard logger was given %q: %.300q", s, logged.String())
		}
	}
	t.Logf("fault matrix: %d behaviours; panics %d, lost records %d, duplicated records %d, leaked secrets %d, unbounded runs %d, wrong exit codes %d",
		tot.cases.Load(), tot.panics.Load(), tot.lost.Load(), tot.duplicated.Load(), tot.leaked.Load(), tot.unbounded.Load(), tot.wrongExit.Load())
	t.Logf("fault matrix: faults no record named %d, results not valid JSON or UTF-8 or holding control bytes %d", tot.unnamed.Load(), tot.badFiles.Load())
	if len(cases) < 40 {
		t.Errorf("only %d behaviours", len(cases))
	}
}

// caseLog collects one case's results while the cases run together; the
// test replays them in the case's own subtest.
type caseLog struct {
	mu     sync.Mutex
	lines  []string
	failed []bool
}

func (c *caseLog) add(failed bool, format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, a...))
	c.failed = append(c.failed, failed)
}

// Errorf records a failure of the case.
func (c *caseLog) Errorf(format string, a ...any) { c.add(true, format, a...) }

// Logf records a line of the case's log.
func (c *caseLog) Logf(format string, a ...any) { c.add(false, format, a...) }

func (c *caseLog) replay(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, l := range c.lines {
		if c.failed[i] {
			t.Error(l)
		} else {
			t.Log(l)
		}
	}
}

// runMain runs the command line in-process, as runCLI does.
func runMain(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(k string) string { return env[k] }})
	return code, o.String(), e.String()
}

// faultRecord is what the matrix reads of a requests.jsonl line.
type faultRecord struct {
	ID       int64  `json:"id"`
	Class    string `json:"class"`
	Attempts int64  `json:"attempts"`
	Err      string `json:"error"`
	Warn     string `json:"warning"`
}

// runFault runs one behaviour and checks it, counting what went wrong.
func runFault(t *caseLog, f fault, tot *faultTotals, tmp string) {
	tot.cases.Add(1)
	s := &faultServer{quit: make(chan struct{})}
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	s.other = other.URL
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.n.Add(1)
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		for _, h := range keptHeaders {
			w.Header().Set(h, "id-"+echo(r))
		}
		f.serve(s, w, r, n)
	}))
	defer func() {
		close(s.quit)
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.CloseClientConnections()
		s.Close()
		s.wg.Wait()
	}()

	dir, logFile, html := filepath.Join(tmp, "out"), filepath.Join(tmp, "run.log"), filepath.Join(tmp, "report.html")
	n, c, d := cmpOr(f.n, 6), cmpOr(f.c, 2), f.d
	if d == "" {
		d = "15s"
	}
	args := []string{"load", "--api", "azure", "-e", "dep", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-d", d,
		"--request-timeout", cmpOrString(f.timeout, "5s"), "--drain-timeout", "2s",
		"--output-dir", dir, "-f", "jsonl", "--log-file", logFile,
		"--header", "X-Env: env:HDR", "--header", "X-Lit: " + faultLitHdr}
	if f.params {
		params := filepath.Join(tmp, "p.parameters")
		if err := os.WriteFile(params, []byte("OPENAI_API_KEY="+faultFileKey+"\n"), 0o600); err != nil {
			t.Errorf("%v", err)
			return
		}
		args = append(args, "--params", params)
	}
	args = append(append(args, f.args...), strings.Replace(s.URL, "http://", "http://"+faultUser+":"+faultPass+"@", 1))
	env := map[string]string{"OPENAI_API_KEY": faultEnvKey, "HDR": faultEnvHdr}

	// Main must return, with no panic, in bounded time.
	type result struct {
		code           int
		stdout, stderr string
		panicked       any
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.panicked = p
			}
			done <- res
		}()
		res.code, res.stdout, res.stderr = runMain(env, args...)
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(90 * time.Second):
		tot.unbounded.Add(1)
		t.Errorf("load did not end in 90 s")
		return
	}
	took := time.Since(start)
	if res.panicked != nil {
		tot.panics.Add(1)
		t.Errorf("panic: %v", res.panicked)
		return
	}
	if took > 30*time.Second {
		tot.unbounded.Add(1)
		t.Errorf("took %v", took.Round(time.Millisecond))
	}
	codeOK := res.code == f.code
	if f.valid && f.code == ExitOK {
		codeOK = worked(res.code, res.stderr)
	}
	if !codeOK {
		tot.wrongExit.Add(1)
		t.Errorf("exit %d, want %d: %s", res.code, f.code, lastLines(res.stderr, 4))
	}
	if n := elsewhere.Load(); n != 0 {
		tot.leaked.Add(1)
		t.Errorf("another host was sent %d requests", n)
	}

	// One record per request sent, ids unique, classes adding up.
	var sum struct {
		Requests struct {
			Sent, OK, Attempts, Warned, Throttled, HTTP, Timeout, Connection, Stream, Incomplete int64
		} `json:"requests"`
	}
	sb, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil || json.Unmarshal(sb, &sum) != nil {
		tot.lost.Add(1)
		t.Errorf("summary.json: %v", err)
		return
	}
	q := sum.Requests
	rb, _ := os.ReadFile(filepath.Join(dir, "requests.jsonl"))
	var recs []faultRecord
	ids := map[int64]bool{}
	classes := map[string]int64{}
	var warned, attempts int64
	for i, line := range strings.Split(strings.TrimSuffix(string(rb), "\n"), "\n") {
		if line == "" {
			continue
		}
		var r faultRecord
		if !utf8.ValidString(line) || json.Unmarshal([]byte(line), &r) != nil {
			tot.badFiles.Add(1)
			t.Errorf("requests.jsonl:%d is not valid JSON in UTF-8: %.200q", i+1, line)
			continue
		}
		if ids[r.ID] {
			tot.duplicated.Add(1)
			t.Errorf("request %d recorded twice", r.ID)
		}
		ids[r.ID] = true
		recs = append(recs, r)
		classes[r.Class]++
		attempts += r.Attempts
		if r.Warn != "" {
			warned++
		}
	}
	switch {
	case int64(len(recs)) < q.Sent:
		tot.lost.Add(q.Sent - int64(len(recs)))
		t.Errorf("%d records for %d requests sent", len(recs), q.Sent)
	case int64(len(recs)) > q.Sent:
		tot.duplicated.Add(int64(len(recs)) - q.Sent)
		t.Errorf("%d records for %d requests sent", len(recs), q.Sent)
	}
	if q.Sent == 0 && f.code == ExitOK {
		t.Errorf("nothing was sent")
	}
	got := map[string]int64{"ok": q.OK, "throttled": q.Throttled, "http": q.HTTP, "timeout": q.Timeout,
		"connection": q.Connection, "stream": q.Stream, "incomplete": q.Incomplete}
	for class, n := range classes {
		if got[class] != n {
			tot.lost.Add(1)
			t.Errorf("%d records of class %q, summary.json says %d", n, class, got[class])
		}
	}
	for class, n := range got {
		if classes[class] != n {
			tot.lost.Add(1)
			t.Errorf("summary.json counts %d %q, the records %d", n, class, classes[class])
		}
	}
	if warned != q.Warned || attempts != q.Attempts {
		tot.lost.Add(1)
		t.Errorf("records: %d warned, %d attempts; summary.json: %d, %d", warned, attempts, q.Warned, q.Attempts)
	}

	if f.check != nil {
		if msg := f.check(sb, res.stderr); msg != "" {
			tot.unbounded.Add(1)
			t.Errorf("%s", msg)
		}
	}
	for _, field := range f.redacted {
		for _, line := range strings.Split(strings.TrimSpace(string(rb)), "\n") {
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			if v, _ := m[field].(string); !strings.Contains(v, "[REDACTED]") {
				tot.unnamed.Add(1)
				t.Errorf("%s %q: the echo was not kept, redacted", field, v)
			}
		}
	}
	if f.clean {
		for _, r := range recs {
			if r.Class != "ok" || r.Warn != "" {
				tot.unnamed.Add(1)
				t.Errorf("request %d: %s %q, warning %q; want ok", r.ID, r.Class, r.Err, r.Warn)
			}
		}
	}

	// What went wrong is named.
	if f.want != "" {
		named := false
		for _, r := range recs {
			for _, want := range strings.Split(f.want, "|") {
				named = named || strings.Contains(r.Err, want) || strings.Contains(r.Warn, want)
			}
		}
		if !named {
			tot.unnamed.Add(1)
			t.Errorf("no record says %q: %.600s", f.want, rb)
		}
	}

	// No secret anywhere, and no terminal control bytes where a person
	// reads.
	rc, _, rerr := runMain(nil, "report", dir, "-o", html)
	if rc != ExitOK {
		tot.wrongExit.Add(1)
		t.Errorf("report: exit %d: %s", rc, rerr)
	}
	texts := map[string]string{"stdout": res.stdout, "stderr": res.stderr}
	filepath.WalkDir(tmp, func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && !strings.HasSuffix(path, ".parameters") {
			b, _ := os.ReadFile(path)
			texts[path] = string(b)
			if strings.HasSuffix(path, ".json") && (!utf8.Valid(b) || !json.Valid(b)) {
				tot.badFiles.Add(1)
				t.Errorf("%s is not valid JSON in UTF-8", filepath.Base(path))
			}
		}
		return nil
	})
	for where, text := range texts {
		for _, sec := range faultSecrets() {
			if strings.Contains(text, sec) {
				tot.leaked.Add(1)
				t.Errorf("%s holds %q", where, sec)
			}
		}
	}
	for _, where := range []string{"stdout", "stderr"} {
		if i := strings.IndexFunc(texts[where], func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }); i >= 0 {
			tot.badFiles.Add(1)
			t.Errorf("%s holds a control byte: %q", where, texts[where][max(i-40, 0):min(i+40, len(texts[where]))])
		}
	}
	t.Logf("exit %d in %v: %d sent, %d ok, %d attempts; %s", res.code, took.Round(time.Millisecond), q.Sent, q.OK, q.Attempts, firstProblem(recs))
}

func cmpOrString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// firstProblem is the first record's error or warning, for the case's
// line in the log.
func firstProblem(recs []faultRecord) string {
	for _, r := range recs {
		if r.Err != "" {
			return r.Class + ": " + r.Err
		}
		if r.Warn != "" {
			return "warning: " + r.Warn
		}
	}
	return "no error"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
