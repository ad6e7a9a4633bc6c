package sim

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	tk "github.com/tiktoken-go/tokenizer"

	"github.com/aoaibench/aoaibench/internal/memnet"
	"github.com/aoaibench/aoaibench/internal/models"
)

var update = flag.Bool("update", false, "rewrite golden files")

// env is a simulator on an in-memory network, inside a synctest bubble.
type env struct {
	t   *testing.T
	s   *Server
	hc  *http.Client
	url string
}

func run(t *testing.T, cfg Config, f func(e *env)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ln := memnet.Listen()
		hs := &http.Server{Handler: s.Handler()}
		go hs.Serve(ln)
		tr := &http.Transport{DialContext: ln.Dial, DisableCompression: true}
		e := &env{t: t, s: s, hc: &http.Client{Transport: tr}, url: "http://sim"}
		f(e)
		tr.CloseIdleConnections()
		hs.Close()
		s.Close()
		ln.Close()
		// Let connection goroutines finish their lingering close (net/http
		// waits 500ms after a refused body); virtual time, so free.
		time.Sleep(time.Second)
	})
}

func (e *env) post(path, body string, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	return resp
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := e.hc.Get(e.url + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, readAll(resp)
}

func readAll(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return string(b)
}

const classic = "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"

func chat(maxTokens int, stream bool) string {
	so := ""
	if stream {
		so = `,"stream":true,"stream_options":{"include_usage":true}`
	}
	return fmt.Sprintf(`{"messages":[{"role":"user","content":"hello world"}],"max_tokens":%d%s}`, maxTokens, so)
}

func errorOf(t *testing.T, body string) apiError {
	t.Helper()
	var e struct {
		Error apiError `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	return e.Error
}

func TestRoutes(t *testing.T) {
	run(t, Config{}, func(e *env) {
		cases := []struct {
			name, path, body string
			status           int
			code             string
		}{
			{"classic", classic, chat(3, true), 200, ""},
			{"classic without api-version", "/openai/deployments/gpt-4o-mini/chat/completions", chat(3, true), 404, "404"},
			{"unknown deployment", "/openai/deployments/nope/chat/completions?api-version=x", chat(3, true), 404, "DeploymentNotFound"},
			{"azure v1", "/openai/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`, 200, ""},
			{"openai", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true}`, 200, ""},
			{"openai unknown model", "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, 404, "DeploymentNotFound"},
			{"openai without model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400, ""},
			{"unknown path", "/nope", "{}", 404, "404"},
		}
		for _, c := range cases {
			resp := e.post(c.path, c.body)
			body := readAll(resp)
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, body)
				continue
			}
			if c.code != "" && fmt.Sprint(errorOf(t, body).Code) != c.code {
				t.Errorf("%s: code %v, want %s", c.name, errorOf(t, body).Code, c.code)
			}
		}
		if _, b := e.get("/healthz"); b != "ok\n" {
			t.Errorf("healthz: %q", b)
		}
		var models struct {
			Data []struct{ ID string } `json:"data"`
		}
		_, b := e.get("/v1/models")
		json.Unmarshal([]byte(b), &models)
		if len(models.Data) != 1 || models.Data[0].ID != "gpt-4o-mini" {
			t.Errorf("models %+v", models)
		}
	})
}

func TestAuth(t *testing.T) {
	run(t, Config{APIKey: "sekret"}, func(e *env) {
		for _, c := range []struct {
			name   string
			path   string
			hdr    []string
			status int
		}{
			{"no key classic", classic, nil, 401},
			{"no key v1", "/v1/chat/completions", nil, 401},
			{"wrong key", classic, []string{"api-key", "nope"}, 401},
			{"api-key", classic, []string{"api-key", "sekret"}, 200},
			{"bearer", classic, []string{"Authorization", "Bearer sekret"}, 200},
		} {
			resp := e.post(c.path, chat(1, false), c.hdr...)
			body := readAll(resp)
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
			}
			if c.status == 401 && (!strings.Contains(errorOf(t, body).Message, "key") || strings.Contains(body, "sekret")) {
				t.Errorf("%s: body %s", c.name, body)
			}
		}
		if st, _ := e.get("/healthz"); st != 200 {
			t.Errorf("healthz needs no key: %d", st)
		}
	})
}

func TestValidation(t *testing.T) {
	cfg := Config{Deployments: []simconfig.Deployment{
		{Name: "gpt-4o-mini"}, {Name: "o3-mini"}, {Name: "gpt-4", Model: "gpt-4"},
	}}
	big := strings.Repeat("time ", 9000)
	cases := []struct {
		name, dep, body, param, msg string
	}{
		{"malformed json", "gpt-4o-mini", `{"messages":`, "", "parse the JSON"},
		{"no messages", "gpt-4o-mini", `{"max_tokens":5}`, "messages", "required"},
		{"empty messages", "gpt-4o-mini", `{"messages":[]}`, "messages", "required"},
		{"messages wrong type", "gpt-4o-mini", `{"messages":"hi"}`, "messages", "expected an array"},
		{"max_tokens wrong type", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":"5"}`, "max_tokens", "expected an integer"},
		{"stream wrong type", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, "stream", "boolean"},
		{"bad role", "gpt-4o-mini", `{"messages":[{"role":"robot","content":"hi"}]}`, "messages[0].role", "robot"},
		{"content wrong type", "gpt-4o-mini", `{"messages":[{"role":"user","content":5}]}`, "messages[0].content", "expected a string"},
		{"max_tokens zero", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "max_tokens", ">= 1"},
		{"temperature", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"temperature":3}`, "temperature", "between 0 and 2"},
		{"top_p", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"top_p":1.5}`, "top_p", "between"},
		{"penalty", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"presence_penalty":-3}`, "presence_penalty", "between"},
		{"n", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"n":0}`, "n", "between 1 and 128"},
		{"stream_options without stream", "gpt-4o-mini", `{"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}`, "stream_options", "only allowed"},
		{"max_tokens on o-series", "o3-mini", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":5}`, "max_tokens", "max_completion_tokens"},
		{"beyond context window", "gpt-4", `{"messages":[{"role":"user","content":"` + big + `"}]}`, "messages", "maximum context length is 8192"},
		{"oversize body", "gpt-4o-mini", `{"messages":[{"role":"user","content":"` + strings.Repeat("x", MaxBody) + `"}]}`, "", "too large"},
	}
	run(t, cfg, func(e *env) {
		for _, c := range cases {
			resp := e.post("/openai/deployments/"+c.dep+"/chat/completions?api-version=v", c.body)
			body := readAll(resp)
			if resp.StatusCode != 400 {
				t.Errorf("%s: status %d, want 400: %.200s", c.name, resp.StatusCode, body)
				continue
			}
			ae := errorOf(t, body)
			if c.param != "" && (ae.Param == nil || *ae.Param != c.param) {
				t.Errorf("%s: param %v, want %s", c.name, ae.Param, c.param)
			}
			if !strings.Contains(ae.Message, c.msg) {
				t.Errorf("%s: message %q lacks %q", c.name, ae.Message, c.msg)
			}
		}
		// o-series accepts max_completion_tokens.
		resp := e.post("/openai/deployments/o3-mini/chat/completions?api-version=v", `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":3}`)
		if b := readAll(resp); resp.StatusCode != 200 || !strings.Contains(b, `"completion_tokens":3`) {
			t.Errorf("o-series max_completion_tokens: %d %s", resp.StatusCode, b)
		}
	})
}

// events splits an SSE body into its data payloads.
func events(body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestStreamGolden(t *testing.T) {
	run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", TPM: 200000, Seed: 1}}}, func(e *env) {
		resp := e.post(classic, chat(3, true))
		body := readAll(resp)
		if resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Errorf("content type %q", resp.Header.Get("Content-Type"))
		}
		for _, h := range []string{"apim-request-id", "x-request-id", "x-ms-region", "x-ms-deployment-name",
			"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("header %s missing", h)
			}
		}
		// Ids and timestamps vary; everything else is the format.
		norm := regexp.MustCompile(`chatcmpl-[0-9a-f]+`).ReplaceAllString(body, "chatcmpl-ID")
		norm = regexp.MustCompile(`"created":[1-9][0-9]*`).ReplaceAllString(norm, `"created":T`)
		golden := "testdata/stream.golden"
		if *update {
			os.WriteFile(golden, []byte(norm), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if norm != string(want) {
			t.Errorf("stream differs from %s:\n%s", golden, norm)
		}
	})
}

func TestUsageMatchesTokenizer(t *testing.T) {
	for _, model := range []string{"gpt-4o-mini", "gpt-35-turbo"} {
		for _, k := range []int{1, 3, 7} {
			cfg := Config{Deployments: []simconfig.Deployment{{Name: "d", Model: model, TokensPerChunk: k, Seed: uint64(k)}}}
			run(t, cfg, func(e *env) {
				prompt := "Hello, how are you? Write me a poem about the sea."
				resp := e.post("/openai/deployments/d/chat/completions?api-version=v",
					fmt.Sprintf(`{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":%q}],"max_tokens":20,"stream":true,"stream_options":{"include_usage":true}}`, prompt))
				var text strings.Builder
				var usage struct{ PromptTokens, CompletionTokens int }
				chunks := 0
				for _, ev := range events(readAll(resp)) {
					if ev == "[DONE]" {
						continue
					}
					var c struct {
						Choices []struct {
							Delta struct{ Content string } `json:"delta"`
						} `json:"choices"`
						Usage *struct {
							PromptTokens     int `json:"prompt_tokens"`
							CompletionTokens int `json:"completion_tokens"`
						} `json:"usage"`
					}
					if err := json.Unmarshal([]byte(ev), &c); err != nil {
						t.Fatal(err)
					}
					for _, ch := range c.Choices {
						if ch.Delta.Content != "" {
							chunks++
						}
						text.WriteString(ch.Delta.Content)
					}
					if c.Usage != nil {
						usage.PromptTokens, usage.CompletionTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
					}
				}
				m, _ := models.Lookup(model)
				codec, _ := tk.Get(tk.Encoding(m.Encoding))
				n, _ := codec.Count(text.String())
				sys, _ := codec.Count("be brief")
				usr, _ := codec.Count(prompt)
				role, _ := codec.Count("system")
				wantPrompt := 3 + (3 + role + sys) + (3 + 1 + usr)
				if n != 20 || usage.CompletionTokens != 20 || usage.PromptTokens != wantPrompt {
					t.Errorf("%s k=%d: text has %d tokens, usage %d/%d, want 20/%d", model, k, n, usage.CompletionTokens, usage.PromptTokens, wantPrompt)
				}
				if want := (20 + k - 1) / k; chunks != want {
					t.Errorf("%s k=%d: %d content chunks, want %d", model, k, chunks, want)
				}
			})
		}
	}
}

func TestLatencyExact(t *testing.T) {
	// Inside the bubble time is virtual: the stream's timing is exactly the
	// configured model, and /sim/stats reports it.
	cfg := Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", TTFT: simconfig.Duration(200 * time.Millisecond),
		Prefill: simconfig.Duration(time.Millisecond), ITL: simconfig.Duration(20 * time.Millisecond)}}}
	run(t, cfg, func(e *env) {
		start := time.Now()
		resp := e.post(classic, chat(10, true)) // prompt is 9 tokens
		var firstContent, end time.Duration
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			if strings.Contains(line, `"content":" `) && firstContent == 0 {
				firstContent = time.Since(start)
			}
			end = time.Since(start)
		}
		resp.Body.Close()
		if firstContent != 209*time.Millisecond || end != 209*time.Millisecond+9*20*time.Millisecond {
			t.Fatalf("first content at %v, end at %v", firstContent, end)
		}
		st := e.s.Stats().Deployments["gpt-4o-mini"]
		c := st.Classes["p9_o10"]
		// HDR histograms keep 3 significant digits.
		near := func(a, b float64) bool { return math.Abs(a-b) <= b*1e-3 }
		if c.Count != 1 || !near(*c.TTFT.P50, 0.209) || c.TTFTConfigured != 0.209 || !near(*c.TPOT.P50, 0.02) || c.TPOTConfigured != 0.02 {
			t.Errorf("stats: count %d ttft %v (configured %v) tpot %v (configured %v)", c.Count, *c.TTFT.P50, c.TTFTConfigured, *c.TPOT.P50, c.TPOTConfigured)
		}
		if *st.TimingError.Max != 0 {
			t.Errorf("timing error %v in virtual time", *st.TimingError.Max)
		}
	})
}

func TestQueueAndLoadFactor(t *testing.T) {
	cfg := Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", TTFT: simconfig.Duration(100 * time.Millisecond),
		ITL: simconfig.Duration(10 * time.Millisecond), MaxConcurrency: 2, LoadFactor: 1}}}
	run(t, cfg, func(e *env) {
		// Four requests at once on two slots: the last two wait for the
		// first two to finish, so their TTFT grows by a whole request.
		ttft := make(chan time.Duration, 4)
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				resp := e.post(classic, chat(5, true))
				r := bufio.NewReader(resp.Body)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						break
					}
					if strings.Contains(line, `"content":" `) {
						ttft <- time.Since(start)
						io.Copy(io.Discard, r)
						break
					}
				}
				resp.Body.Close()
			})
		}
		wg.Wait()
		var got []time.Duration
		for range 4 {
			got = append(got, <-ttft)
		}
		fast, slow := 0, 0
		for _, d := range got {
			if d == 100*time.Millisecond {
				fast++
			} else if d > 150*time.Millisecond {
				slow++
			}
		}
		if fast != 2 || slow != 2 {
			t.Fatalf("TTFTs %v: want two at 100ms and two queued", got)
		}
		// Two streams on a two-slot deployment with load factor 1: each
		// gap is 10ms * (1 + 2/2) = 20ms.
		c := e.s.Stats().Deployments["gpt-4o-mini"].Classes["p9_o5"]
		if c.QueueMean <= 0 || *c.TPOT.Max <= 0.010 {
			t.Errorf("queue %v, TPOT max %v: want queueing and slower decoding", c.QueueMean, *c.TPOT.Max)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", Fail5xx: 1}}}, func(e *env) {
			for range 10 {
				resp := e.post(classic, chat(2, true))
				readAll(resp)
				if resp.StatusCode != 500 && resp.StatusCode != 503 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			if st := e.s.Stats().Deployments["gpt-4o-mini"]; st.Failed != 10 {
				t.Errorf("failed %d", st.Failed)
			}
		})
	})
	t.Run("cut stream", func(t *testing.T) {
		run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", CutStream: 1}}}, func(e *env) {
			resp := e.post(classic, chat(10, true))
			b, err := io.ReadAll(resp.Body)
			if err == nil || strings.Contains(string(b), "[DONE]") || !strings.Contains(string(b), `"content":" `) {
				t.Fatalf("stream not cut mid-way: err %v, %d bytes", err, len(b))
			}
		})
	})
	t.Run("429 storm", func(t *testing.T) {
		run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", Storm429: 1}}}, func(e *env) {
			resp := e.post(classic, chat(2, true))
			readAll(resp)
			if resp.StatusCode != 429 || resp.Header.Get("retry-after-ms") == "" || resp.Header.Get("retry-after") == "" {
				t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
			}
		})
	})
	t.Run("slow headers", func(t *testing.T) {
		run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", SlowHeaders: 1, HeaderDelay: simconfig.Duration(3 * time.Second)}}}, func(e *env) {
			start := time.Now()
			resp := e.post(classic, chat(2, true))
			if d := time.Since(start); d != 3*time.Second {
				t.Errorf("headers after %v, want 3s", d)
			}
			readAll(resp)
		})
	})
}

func TestThrottleHTTP(t *testing.T) {
	// 1,000 TPM: one 9+600-token request fits, the second does not. (The
	// RPM ratio is raised so that only the token limit is in play.)
	run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", TPM: 1000, RPMPer1K: 600}}}, func(e *env) {
		readAll(e.post(classic, chat(600, false)))
		resp := e.post(classic, chat(600, false))
		body := readAll(resp)
		if resp.StatusCode != 429 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		ms, _ := strconv.Atoi(resp.Header.Get("retry-after-ms"))
		s, _ := strconv.Atoi(resp.Header.Get("retry-after"))
		msg := errorOf(t, body).Message
		// The first request's tokens leave the window 60 s after it was
		// admitted, in virtual time at once (no latency is configured).
		if ms != 60000 || s != (ms+999)/1000 || !strings.Contains(msg, "exceeded token rate limit") ||
			!strings.Contains(msg, fmt.Sprintf("Please retry after %d seconds", s)) {
			t.Fatalf("retry-after-ms %d retry-after %d message %q", ms, s, msg)
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		if resp := e.post(classic, chat(600, false)); resp.StatusCode != 200 {
			t.Fatalf("after retry-after-ms: status %d", resp.StatusCode)
		} else {
			readAll(resp)
		}
	})
}

func TestProvisionedHTTP(t *testing.T) {
	// 15 PTUs of 1,600 TPM: utilization climbs with each admitted
	// estimate (2,000 max tokens at 4 units each, a third of 24,000), and
	// at 100% the answer is 429 at once.
	run(t, Config{Deployments: []simconfig.Deployment{{Name: "gpt-4o-mini", Type: "provisioned", PTU: 15, TPMPerPTU: 1600, TTFT: simconfig.Duration(time.Millisecond), ITL: simconfig.Duration(time.Microsecond)}}}, func(e *env) {
		var utils []string
		status := 0
		for range 5 {
			resp := e.post(classic, chat(2000, false))
			readAll(resp)
			utils = append(utils, resp.Header.Get("azure-openai-deployment-utilization"))
			status = resp.StatusCode
			if status == 429 {
				if resp.Header.Get("retry-after-ms") == "" {
					t.Error("429 without retry-after-ms")
				}
				break
			}
		}
		if status != 429 || !strings.HasSuffix(utils[0], "%") {
			t.Fatalf("utilizations %v, last status %d", utils, status)
		}
		pct := func(s string) float64 { v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64); return v }
		for i := 1; i < len(utils)-1; i++ {
			if pct(utils[i]) <= pct(utils[i-1]) {
				t.Errorf("utilization did not climb: %v", utils)
			}
		}
		if last := pct(utils[len(utils)-1]); last < 100 {
			t.Errorf("429 at %v%% utilization", last)
		}
	})
}
