package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aoaibench/aoaibench/internal/simconfig"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// MaxBody is the largest request body the simulator reads.
const MaxBody = 8 << 20

// Server is a simulated Azure OpenAI resource with one or more deployments.
type Server struct {
	deps   map[string]*deployment
	names  []string
	key    string
	issuer *issuer // nil: no Microsoft Entra ID tokens
	// clock wakes goroutines and writes streams; in precise mode more
	// clocks write streams once it is busy (writer).
	clock   *clock
	clocks  []*clock
	directs atomic.Int64 // streams the clocks wrote to their sockets
	start   time.Time
	words   tokenizer.Words // output text is made of these single-token words
	first   atomic.Int64    // wall-clock arrival of the first request, Unix ns
	vector  string          // the embedding every input gets, as JSON
	reg     *prometheus.Registry
	scraped atomic.Bool // /metrics has been read: observe for it
}

type deployment struct {
	cfg       simconfig.Deployment
	tok       *tokenizer.Tokenizer
	reasoning bool          // takes max_completion_tokens, not max_tokens
	slots     chan struct{} // nil: no concurrency limit
	run       atomic.Int64  // streams running (holding a slot or not queued)
	waiting   atomic.Int64  // streams waiting for a slot
	prom      vllmMetrics
	// streamed counts output tokens as they are written, for throughput
	// while streams are still running.
	streamed atomic.Int64

	mu    sync.Mutex // guards everything below
	std   *standard
	ptu   *provisioned
	cache *promptCache // nil: no prompt caching
	rng   *mrand.Rand
	stats depStats
}

// New returns a simulator serving cfg's deployments.
func New(cfg Config) (*Server, error) {
	if len(cfg.Deployments) == 0 {
		cfg.Deployments = []simconfig.Deployment{simconfig.DefaultDeployment()}
	}
	s := &Server{deps: map[string]*deployment{}, key: cfg.APIKey, start: time.Now(), words: tokenizer.NewWords(), vector: embeddingVector()}
	if cfg.Identity != nil {
		s.issuer = newIssuer(*cfg.Identity)
	}
	n := 1
	if cfg.Precise {
		n = runtime.GOMAXPROCS(0)
	}
	for range n {
		s.clocks = append(s.clocks, newClock(cfg.Precise))
	}
	s.clock = s.clocks[0]
	for _, dc := range cfg.Deployments {
		if err := dc.FillFrom(cfg.PTUTable); err != nil {
			s.Close()
			return nil, err
		}
		if _, dup := s.deps[dc.Name]; dup {
			s.Close()
			return nil, fmt.Errorf("deployment %s: defined twice", dc.Name)
		}
		m, _ := models.Lookup(dc.Model) // fill checked the model
		tok, _ := tokenizer.Get(m.Encoding)
		d := &deployment{cfg: dc, tok: tok, reasoning: m.Reasoning, rng: mrand.New(mrand.NewPCG(dc.Seed, 0xa0a1b2c3)), stats: newDepStats()}
		if !dc.NoPromptCache {
			d.cache = newPromptCache(time.Duration(dc.CacheTTL))
		}
		if dc.MaxConcurrency > 0 {
			d.slots = make(chan struct{}, dc.MaxConcurrency)
		}
		if dc.Type == "provisioned" {
			d.ptu = newProvisioned(dc, s.start)
		} else {
			d.std = newStandard(dc.TPM, dc.RPMPer1K, s.start)
		}
		s.deps[dc.Name] = d
		s.names = append(s.names, dc.Name)
	}
	s.newMetrics()
	for _, n := range s.names {
		d := s.deps[n]
		if sp := d.cfg.Spillover; sp != "" {
			t := s.deps[sp]
			if d.ptu == nil || t == nil || t.std == nil {
				s.Close()
				return nil, fmt.Errorf("deployment %s: spillover %q: a provisioned deployment spills over to a standard one of the same resource", n, sp)
			}
		}
	}
	return s, nil
}

// connKey is the request context's key to its connection (ConnContext).
type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets the simulator write
// streams straight to their connections, which is how its timing stays
// exact with thousands of streams. Without it, each stream is written by
// its own goroutine.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// Close stops the simulator's clocks; streams still running end.
func (s *Server) Close() {
	for _, c := range s.clocks {
		c.close()
	}
}

// clockLoad is the chunks per second one clock writes before streams go
// to the next: about a third of a core here. Each clock is a thread that
// wakes for its own due times, so a second one costs wake-ups that one
// clock saves; past this load, one clock would fall behind.
const clockLoad = 25000

// writer picks the clock for a stream of rate chunks per second: the
// first with room for it, else the least loaded.
func (s *Server) writer(rate int64) *clock {
	best := s.clocks[0]
	for _, c := range s.clocks {
		l := c.load.Load()
		if l+rate <= clockLoad {
			return c
		}
		if l < best.load.Load() {
			best = c
		}
	}
	return best
}

// Deployments returns the configured deployments, defaults filled in.
func (s *Server) Deployments() []simconfig.Deployment {
	var out []simconfig.Deployment
	for _, n := range s.names {
		out = append(out, s.deps[n].cfg)
	}
	return out
}

// Handler returns the simulator's HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, k := range []kind{kindChat, kindCompletions, kindEmbeddings} {
		mux.HandleFunc("POST /openai/deployments/{name}/"+k.path(), s.classic(k))
		mux.HandleFunc("POST /openai/v1/"+k.path(), s.v1(k))
		mux.HandleFunc("POST /v1/"+k.path(), s.v1(k))
	}
	// The Responses API: Azure's classic form names the deployment in the
	// body's model, as the v1 form does.
	mux.HandleFunc("POST /openai/responses", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api-version") == "" {
			writeError(w, http.StatusNotFound, apiError{Code: "404", Message: "Resource not found"})
			return
		}
		s.serve(w, r, "", kindResponses)
	})
	mux.HandleFunc("POST /openai/v1/responses", s.v1(kindResponses))
	mux.HandleFunc("POST /v1/responses", s.v1(kindResponses))
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /openai/v1/models", s.models)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", s.metricsHandler())
	if s.issuer != nil {
		mux.HandleFunc("GET /msi/token", s.issuer.serveToken)
	}
	mux.HandleFunc("GET /sim/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Stats())
	})
	mux.HandleFunc("POST /sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, apiError{Code: "404", Message: "Resource not found"})
	})
	return s.auth(mux)
}

// apiError is the body of an OpenAI/Azure error.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type,omitempty"`
	Param   *string `json:"param"`
	Code    any     `json:"code"`
}

func param(p string) *string { return &p }

func writeError(w http.ResponseWriter, status int, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]apiError{"error": e})
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open := r.URL.Path == "/healthz" || r.URL.Path == "/msi/token" || r.URL.Path == "/metrics"
		if open || s.key == "" && s.issuer == nil {
			next.ServeHTTP(w, r)
			return
		}
		if s.key != "" && (r.Header.Get("api-key") == s.key || r.Header.Get("Authorization") == "Bearer "+s.key) {
			next.ServeHTTP(w, r)
			return
		}
		if s.issuer != nil && s.issuer.valid(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		if s.issuer != nil {
			writeError(w, http.StatusUnauthorized, apiError{Code: "401", Message: "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."})
			return
		}
		if strings.HasPrefix(r.URL.Path, "/openai/deployments/") {
			writeError(w, http.StatusUnauthorized, apiError{Code: "401", Message: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."})
			return
		}
		writeError(w, http.StatusUnauthorized, apiError{Type: "invalid_request_error", Code: "invalid_api_key",
			Message: "Incorrect API key provided. Give it in the api-key header or as Authorization: Bearer."})
	})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	var data []model
	for _, n := range s.names {
		data = append(data, model{n, "model", s.start.Unix(), "aoaibench-sim"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}

// kind is the API a request is for.
type kind uint8

const (
	kindChat kind = iota
	kindResponses
	kindCompletions
	kindEmbeddings
)

func (k kind) path() string {
	return [...]string{"chat/completions", "responses", "completions", "embeddings"}[k]
}

// operation names the kind in Azure's 429 message.
func (k kind) operation() string {
	return [...]string{"ChatCompletions_Create", "Responses_Create", "Completions_Create", "Embeddings_Create"}[k]
}

func (s *Server) classic(k kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api-version") == "" {
			writeError(w, http.StatusNotFound, apiError{Code: "404", Message: "Resource not found"})
			return
		}
		s.serve(w, r, r.PathValue("name"), k)
	}
}

func (s *Server) v1(k kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "", k) }
}

// chatRequest is the part of a request the simulator uses, in the chat
// API's terms: the other APIs' fields are read and turned into these.
type chatRequest struct {
	kind                kind
	texts               []string  // completions' prompt, embeddings' inputs: counted without chat overhead
	Messages            []message `json:"messages"`
	Model               string    `json:"model"`
	MaxTokens           *int      `json:"max_tokens"`
	MaxCompletionTokens *int      `json:"max_completion_tokens"`
	N                   *int      `json:"n"`
	Stream              bool      `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature      *float64 `json:"temperature"`
	TopP             *float64 `json:"top_p"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	// The Responses API's.
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	MaxOutputTokens *int            `json:"max_output_tokens"`
	// Legacy completions'.
	Prompt json.RawMessage `json:"prompt"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name"`
}

func invalid(w http.ResponseWriter, p, format string, a ...any) {
	e := apiError{Type: "invalid_request_error", Message: fmt.Sprintf(format, a...)}
	if p != "" {
		e.Param = param(p)
	}
	writeError(w, http.StatusBadRequest, e)
}

// readBody reads a request's body, of at most MaxBody bytes; it writes
// the error and returns false when it cannot (too large, or not whole
// within the server's read timeout).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= MaxBody {
		buf.Grow(int(n) + bytes.MinRead) // one allocation, not a doubling series
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBody)); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			invalid(w, "", "Request body too large: the limit is %d bytes.", MaxBody)
		case errors.Is(err, os.ErrDeadlineExceeded):
			writeError(w, http.StatusRequestTimeout, apiError{Code: "408",
				Message: "The request body did not arrive in time."})
		default:
			invalid(w, "", "Could not read the request body: %v", err)
		}
		return nil, false
	}
	return buf.Bytes(), true
}

// parse validates a request's body; it writes the error and returns false
// on bad input.
func (s *Server) parse(w http.ResponseWriter, body []byte, d *deployment, k kind) (*chatRequest, []tokenizer.Message, bool) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			invalid(w, te.Field, "Invalid type for '%s': expected %s, but got %s.", te.Field, jsonType(te.Type.String()), te.Value)
		} else {
			invalid(w, "", "We could not parse the JSON body of your request: %v", err)
		}
		return nil, nil, false
	}
	req.kind = k
	if !s.translate(w, &req) {
		return nil, nil, false
	}
	// Inputs to embed have no messages (req.texts); other requests are
	// chat messages by now.
	if len(req.Messages) == 0 && k != kindEmbeddings {
		invalid(w, "messages", "'messages' is a required property and must be a non-empty array.")
		return nil, nil, false
	}
	msgs := make([]tokenizer.Message, len(req.Messages))
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "user", "assistant", "tool", "developer":
		default:
			invalid(w, fmt.Sprintf("messages[%d].role", i), "Invalid value for 'messages[%d].role': %q is not one of system, user, assistant, tool, developer.", i, m.Role)
			return nil, nil, false
		}
		text, ok := contentText(m.Content)
		if !ok {
			invalid(w, fmt.Sprintf("messages[%d].content", i), "Invalid type for 'messages[%d].content': expected a string or an array of text parts.", i)
			return nil, nil, false
		}
		msgs[i] = tokenizer.Message{Role: m.Role, Content: text, Name: m.Name}
	}
	reasoning := d.reasoning
	if reasoning && req.MaxTokens != nil {
		writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param("max_tokens"), Code: "unsupported_parameter",
			Message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."})
		return nil, nil, false
	}
	for name, v := range map[string]*int{"max_tokens": req.MaxTokens, "max_completion_tokens": req.MaxCompletionTokens} {
		if v != nil && *v < 1 {
			invalid(w, name, "Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", name, *v)
			return nil, nil, false
		}
	}
	if req.N != nil && (*req.N < 1 || *req.N > 128) {
		invalid(w, "n", "Invalid 'n': expected a value between 1 and 128, but got %d instead.", *req.N)
		return nil, nil, false
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
	}{{"temperature", req.Temperature, 0, 2}, {"top_p", req.TopP, 0, 1}, {"frequency_penalty", req.FrequencyPenalty, -2, 2}, {"presence_penalty", req.PresencePenalty, -2, 2}} {
		if c.v != nil && (*c.v < c.lo || *c.v > c.hi) {
			invalid(w, c.name, "Invalid '%s': expected a value between %g and %g, but got %g instead.", c.name, c.lo, c.hi, *c.v)
			return nil, nil, false
		}
	}
	if req.StreamOptions != nil && !req.Stream {
		invalid(w, "stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		return nil, nil, false
	}
	return &req, msgs, true
}

// translate turns a Responses, completions or embeddings request into
// the chat terms the simulator runs on; it writes the error and returns
// false on bad input.
func (s *Server) translate(w http.ResponseWriter, req *chatRequest) bool {
	switch req.kind {
	case kindResponses:
		if req.Messages != nil || req.MaxTokens != nil || req.N != nil || req.StreamOptions != nil {
			name := map[bool]string{true: "messages", false: "max_tokens"}[req.Messages != nil]
			if req.N != nil {
				name = "n"
			} else if req.StreamOptions != nil {
				name = "stream_options"
			}
			writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param(name), Code: "unknown_parameter",
				Message: fmt.Sprintf("Unknown parameter: '%s'.", name)})
			return false
		}
		if req.Instructions != "" {
			req.Messages = append(req.Messages, message{Role: "system", Content: json.RawMessage(strconv.Quote(req.Instructions))})
		}
		var text string
		if json.Unmarshal(req.Input, &text) == nil {
			b, _ := json.Marshal(text)
			req.Messages = append(req.Messages, message{Role: "user", Content: b})
		} else {
			var items []message
			if len(req.Input) == 0 || json.Unmarshal(req.Input, &items) != nil || len(items) == 0 {
				invalid(w, "input", "'input' is a required property: a string or a non-empty array of input items.")
				return false
			}
			req.Messages = append(req.Messages, items...)
		}
		if v := req.MaxOutputTokens; v != nil && *v < 16 {
			invalid(w, "max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got %d instead.", *v)
			return false
		}
		req.MaxTokens, req.MaxOutputTokens = req.MaxOutputTokens, nil
		if req.MaxTokens != nil && req.MaxCompletionTokens == nil {
			// One limit for reasoning models and others alike.
			req.MaxCompletionTokens, req.MaxTokens = req.MaxTokens, nil
		}
	case kindCompletions:
		texts, ok := stringOrStrings(req.Prompt)
		if !ok || len(texts) != 1 {
			invalid(w, "prompt", "'prompt' is a required property: one string (the simulator takes no batch of prompts).")
			return false
		}
		req.texts = texts
		b, _ := json.Marshal(texts[0])
		req.Messages = []message{{Role: "user", Content: b}}
	case kindEmbeddings:
		texts, ok := stringOrStrings(req.Input)
		if !ok || len(texts) == 0 || len(texts) > 2048 {
			invalid(w, "input", "'input' is a required property: a string or an array of 1 to 2048 strings.")
			return false
		}
		if req.Stream {
			invalid(w, "stream", "Embeddings are not streamed.")
			return false
		}
		// Counted as they are, not as messages: no copy of them.
		req.texts, req.Messages = texts, nil
	}
	return true
}

// stringOrStrings reads a string or an array of strings.
func stringOrStrings(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many, true
	}
	return nil, false
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	case goType == "string":
		return "a string"
	}
	return "an object"
}

// contentText returns a message's text: a string, or text parts.
func contentText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// newID returns n random hex digits.
func newID(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func requestID() string {
	h := newID(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// serve runs one request against a deployment.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, name string, k kind) {
	arrived := time.Now()
	s.first.CompareAndSwap(0, arrived.UnixNano())
	var body []byte
	if name == "" {
		// v1 routes: the deployment is the body's model; peek at it.
		var ok bool
		if body, ok = s.readBody(w, r); !ok {
			return
		}
		var m struct {
			Model string `json:"model"`
		}
		if json.Unmarshal(body, &m) != nil {
			invalid(w, "", "We could not parse the JSON body of your request.")
			return
		}
		if m.Model == "" {
			invalid(w, "model", "'model' is a required property.")
			return
		}
		name = m.Model
	}
	d := s.deps[name]
	if d == nil {
		writeError(w, http.StatusNotFound, apiError{Code: "DeploymentNotFound",
			Message: "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."})
		return
	}
	if body == nil {
		var ok bool
		if body, ok = s.readBody(w, r); !ok {
			d.count(func(st *depStats) { st.Invalid++ })
			return
		}
	}
	req, msgs, ok := s.parse(w, body, d, k)
	if !ok {
		d.count(func(st *depStats) { st.Invalid++ })
		return
	}
	s.admit(w, r, d, req, msgs, arrived, "")
}

// admit runs a parsed request on deployment d: admission, faults, then
// the answer. from names the provisioned deployment it spilled over from.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, d *deployment, req *chatRequest, msgs []tokenizer.Message, arrived time.Time, from string) {
	k := req.kind
	// Counting stops once the prompt passes the context window: an 8 MB
	// prompt is refused after counting little more than a window of it.
	window := d.cfg.ContextWindow
	prompt, exact := 0, true
	if req.texts != nil {
		// A prompt string, or inputs to embed: tokens, no chat overhead.
		for i, t := range req.texts {
			n, ok := d.tok.CountUpTo(t, window-prompt)
			prompt += n
			if !ok || prompt > window {
				exact = ok && i == len(req.texts)-1
				break
			}
		}
	} else {
		prompt, exact = d.tok.CountMessagesUpTo(msgs, window)
	}
	if prompt > window {
		least := ""
		if !exact {
			least = "at least "
		}
		writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param("messages"), Code: "context_length_exceeded",
			Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %s%d tokens. Please reduce the length of the messages.", window, least, prompt)})
		d.count(func(st *depStats) { st.Invalid++ })
		return
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}
	limit := d.cfg.DefaultOutput
	asked := true
	if req.MaxTokens != nil {
		limit = *req.MaxTokens
	} else if req.MaxCompletionTokens != nil {
		limit = *req.MaxCompletionTokens
	} else {
		asked = false
	}
	limit = max(min(limit, d.cfg.ContextWindow-prompt), 1)
	if k == kindEmbeddings {
		limit = 0
	}
	est := prompt + limit*n
	// The prompt's prefixes at each cache step, hashed outside the lock.
	var hashes []uint64
	if d.cache != nil && k != kindEmbeddings && prompt >= CacheMin+tokenizer.PerReply {
		hashes, _ = prefixHashes(nil, d.tok, msgs, nil)
	}

	h := w.Header()
	rid := requestID()
	h.Set("apim-request-id", rid)
	h.Set("x-request-id", rid)
	h.Set("x-ms-region", d.cfg.Region)
	h.Set("x-ms-deployment-name", d.cfg.Name)
	if from != "" {
		h.Set("x-ms-spillover-from-deployment", from)
	}
	// Spillover: to the deployment this request names, else the one the
	// deployment is set up with; never twice.
	var spill *deployment
	if from == "" && d.ptu != nil {
		name := r.Header.Get("x-ms-spillover-deployment")
		if name == "" {
			name = d.cfg.Spillover
		}
		if t := s.deps[name]; t != nil && t.std != nil {
			spill = t
		}
	}

	// Admission, then the fault dice, under the deployment's lock.
	d.mu.Lock()
	now := time.Now()
	var v verdict
	storm := d.cfg.Storm429 > 0 && d.rng.Float64() < d.cfg.Storm429
	cached := 0
	if len(hashes) > 0 {
		cached = d.cache.hit(now, hashes)
	}
	switch {
	case storm:
		v = verdict{reason: "storm", after: time.Duration(1+d.rng.IntN(5)) * time.Second}
	case d.ptu != nil:
		// In utilization units: cached tokens count nothing, output
		// tokens the model's output ratio each.
		v = d.ptu.admit(now, prompt-cached, limit*n)
	default:
		v = d.std.admit(now, est)
	}
	if v.ok && len(hashes) > 0 {
		d.cache.add(now, hashes)
	} else {
		cached = 0
	}
	fail := v.ok && d.cfg.Fail5xx > 0 && d.rng.Float64() < d.cfg.Fail5xx
	cut := v.ok && !fail && d.cfg.CutStream > 0 && d.rng.Float64() < d.cfg.CutStream
	slow := v.ok && !fail && d.cfg.SlowHeaders > 0 && d.rng.Float64() < d.cfg.SlowHeaders
	// Hidden reasoning comes out of the same max_completion_tokens as the
	// answer.
	reasoning := max(min(d.cfg.ReasoningTokens, limit-1), 0)
	visible := limit - reasoning
	output := visible
	switch {
	case k == kindEmbeddings:
		output = 0
	case !asked && d.cfg.DefaultOutputStdev > 0:
		// No max_tokens: the model stops where it will, up to the
		// context window.
		most := max(d.cfg.ContextWindow-prompt-reasoning, 1)
		v := int(math.Round(float64(d.cfg.DefaultOutput) + float64(d.cfg.DefaultOutputStdev)*d.rng.NormFloat64()))
		output = min(max(v, 1), most)
	case d.cfg.OutputMin > 0 && d.cfg.OutputMin < visible:
		output = d.cfg.OutputMin + d.rng.IntN(visible-d.cfg.OutputMin+1)
	}
	jit := func() float64 {
		if d.cfg.Jitter == 0 {
			return 1
		}
		return 1 + d.cfg.Jitter*(2*d.rng.Float64()-1)
	}
	itlScale := jit()
	prefill := time.Duration(prompt-cached)*time.Duration(d.cfg.Prefill) + time.Duration(cached)*time.Duration(d.cfg.CachedPrefill)
	ttft := time.Duration(float64(time.Duration(d.cfg.TTFT)+prefill) * jit())
	// Reasoning streams nothing: its tokens come before the first.
	ttft += time.Duration(float64(time.Duration(d.cfg.ITL)*time.Duration(reasoning)) * itlScale)
	seed := d.rng.Uint64()
	if !v.ok && spill != nil && v.reason == "utilization" {
		d.stats.Spilled++
		d.mu.Unlock()
		s.admit(w, r, spill, req, msgs, arrived, d.cfg.Name)
		return
	}
	s.rateHeaders(d, h, now)
	if !v.ok {
		d.stats.Throttled[v.reason]++
	} else if fail {
		d.stats.Failed++
	} else {
		d.stats.Accepted++
	}
	d.mu.Unlock()

	if !v.ok {
		s.throttle(w, d, req, v, r.URL.Query().Get("api-version"))
		return
	}
	if fail {
		status := http.StatusInternalServerError
		if seed%2 == 1 {
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, apiError{Code: strconv.Itoa(status), Message: "The server had an error while processing your request. Sorry about that! (simulated fault)"})
		return
	}
	if slow && d.cfg.HeaderDelay > 0 {
		ch := make(chan struct{}, 1)
		if !s.clock.sleepUntil(time.Now().Add(time.Duration(d.cfg.HeaderDelay)), ch, r.Context().Done()) {
			return
		}
	}
	st := &stream{
		s: s, d: d, w: w, r: r, req: req, prompt: prompt, cached: cached, output: output, n: n,
		ttft: ttft, itlScale: itlScale, seed: seed, cut: cut, arrived: arrived, asked: limit * n, reasoning: reasoning,
	}
	st.run()
}

// rateHeaders sets the quota headers: x-ratelimit-* on standard
// deployments, utilization on provisioned ones. Called under d.mu.
func (s *Server) rateHeaders(d *deployment, h http.Header, now time.Time) {
	if d.ptu != nil {
		h.Set("azure-openai-deployment-utilization", fmt.Sprintf("%.1f%%", d.ptu.utilization(now)))
		return
	}
	if d.std.tpm <= 0 {
		return
	}
	reqs, toks := d.std.remaining(now)
	h.Set("x-ratelimit-limit-tokens", strconv.Itoa(d.std.tpm))
	h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(toks))
	if reqs >= 0 {
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(d.std.rpm))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(reqs))
	}
}

// throttle answers 429 with Azure's wording and retry headers.
func (s *Server) throttle(w http.ResponseWriter, d *deployment, req *chatRequest, v verdict, apiVersion string) {
	ms := max(int64(math.Ceil(float64(v.after)/float64(time.Millisecond))), 1)
	secs := (ms + 999) / 1000
	w.Header().Set("retry-after-ms", strconv.FormatInt(ms, 10))
	w.Header().Set("retry-after", strconv.FormatInt(secs, 10))
	what := map[string]string{
		"tokens": "token rate limit", "requests": "call rate limit",
		"utilization": "the provisioned throughput capacity", "storm": "token rate limit",
	}[v.reason]
	tier := "of your current OpenAI S0 pricing tier"
	if d.ptu != nil {
		tier = "of your provisioned deployment (100% utilization)"
	}
	if apiVersion == "" {
		apiVersion = "v1"
	}
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	writeError(w, http.StatusTooManyRequests, apiError{Code: "429", Message: fmt.Sprintf(
		"Requests to the %s Operation under Azure OpenAI API version %s have exceeded %s %s. Please retry after %d %s. (aoaibench simulator)",
		req.kind.operation(), apiVersion, what, tier, secs, unit)})
}

func (d *deployment) count(f func(*depStats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}
