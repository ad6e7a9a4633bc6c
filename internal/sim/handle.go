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
	s.admit(w, r, d, req, msgs, arrived)
}

// admit runs a parsed request on deployment d: admission, on d or on the
// deployment it spills over to, then the answer.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, d *deployment, req *chatRequest, msgs []tokenizer.Message, arrived time.Time) {
	spill := s.spillTarget(d, r.Header.Get("x-ms-spillover-deployment"))
	a, dec := d.admission(req, msgs, spill != nil)
	from := ""
	if dec.outcome == spilled {
		// Never twice: the spillover deployment is a standard one.
		from, d = d.cfg.Name, spill
		a, dec = d.admission(req, msgs, false)
	}
	s.respond(w, r, d, req, a, dec, arrived, from)
}

// admission measures a request outside d's lock, then decides on it
// under the lock.
func (d *deployment) admission(req *chatRequest, msgs []tokenizer.Message, canSpill bool) (ask, decision) {
	a := d.measure(req, msgs)
	a.spill = canSpill
	d.mu.Lock()
	dec := d.decide(time.Now(), a)
	d.mu.Unlock()
	return a, dec
}

// spillTarget is where provisioned deployment d's overflow goes: the
// deployment a request's header names, else the one d is set up with. It
// is nil when d is not provisioned, or when the one named is not a
// standard deployment of this resource.
func (s *Server) spillTarget(d *deployment, named string) *deployment {
	if d.ptu == nil {
		return nil
	}
	if named == "" {
		named = d.cfg.Spillover
	}
	if t := s.deps[named]; t != nil && t.std != nil {
		return t
	}
	return nil
}

// respond writes the answer admission decided for a request of measure a
// on d. from names the provisioned deployment it spilled over from.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, d *deployment, req *chatRequest, a ask, dec decision, arrived time.Time, from string) {
	if dec.outcome == rejected {
		tooLong(w, d.cfg.ContextWindow, a)
		return
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
	dec.quota.write(h)
	switch dec.outcome {
	case throttled:
		s.throttle(w, d, req, dec.verdict, r.URL.Query().Get("api-version"))
		return
	case failed:
		writeError(w, dec.status, apiError{Code: strconv.Itoa(dec.status), Message: "The server had an error while processing your request. Sorry about that! (simulated fault)"})
		return
	}
	if dec.slow && d.cfg.HeaderDelay > 0 {
		ch := make(chan struct{}, 1)
		if !s.clock.sleepUntil(time.Now().Add(time.Duration(d.cfg.HeaderDelay)), ch, r.Context().Done()) {
			return
		}
	}
	sh := dec.answer
	st := &stream{
		s: s, d: d, w: w, r: r, req: req, prompt: a.prompt, cached: sh.cached, output: sh.output, n: a.n,
		ttft: sh.ttft, itlScale: sh.itlScale, seed: sh.seed, cut: dec.cut, arrived: arrived, asked: a.limit * a.n, reasoning: sh.reasoning,
	}
	if req.ag != nil {
		st.agent(a.limit)
	}
	st.run()
}

// tooLong answers 400 for a prompt of measure a past the context window.
func tooLong(w http.ResponseWriter, window int, a ask) {
	least := ""
	if !a.exact {
		least = "at least "
	}
	writeError(w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Param: param("messages"), Code: "context_length_exceeded",
		Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %s%d tokens. Please reduce the length of the messages.", window, least, a.prompt)})
}

// write sets the quota headers: x-ratelimit-* on standard deployments,
// utilization on provisioned ones.
func (q quotaFigures) write(h http.Header) {
	if q.provisioned {
		h.Set("azure-openai-deployment-utilization", fmt.Sprintf("%.1f%%", q.utilization))
		return
	}
	if q.tpm <= 0 {
		return
	}
	h.Set("x-ratelimit-limit-tokens", strconv.Itoa(q.tpm))
	h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(q.tokens))
	if q.requests >= 0 {
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(q.rpm))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(q.requests))
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
