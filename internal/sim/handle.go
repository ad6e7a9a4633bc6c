package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// A request's way through the simulator: the deployment it names, its
// body read and checked, admission, then the answer or the error.

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
