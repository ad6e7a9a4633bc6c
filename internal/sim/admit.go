package sim

import (
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Admission: a deployment's decision on a request, taken under its lock
// as a function of its state (quota, prompt cache, dice), the request's
// measure and the time. It writes nothing; handle.go writes the HTTP
// answer from the decision, outside the lock.

// ask is what admission weighs of a request, measured outside the
// deployment's lock: counting a prompt is admission's costly part.
type ask struct {
	kind   kind
	prompt int      // prompt tokens; counting stops past the context window
	exact  bool     // prompt is the whole count, not a lower bound
	n      int      // choices
	limit  int      // output tokens per choice: max tokens, or the default (0: embeddings)
	asked  bool     // the request gave its max tokens
	hashes []uint64 // the prompt's prefixes at each cache step (none: not cacheable)
	spill  bool     // a provisioned deployment's overflow has a deployment to go to
}

// outcome is admission's answer to a request.
type outcome uint8

const (
	admitted  outcome = iota // served: streamed, or answered whole
	rejected                 // 400: the prompt passes the context window
	throttled                // 429: the quota, the utilization or the storm fault
	failed                   // 500 or 503: the 5xx fault
	spilled                  // throttled for utilization, served by the spillover deployment
)

// decision is admission's decision on one request.
type decision struct {
	outcome outcome
	verdict verdict // throttled: why, and when capacity returns
	status  int     // failed: 500 or 503
	quota   quotaFigures
	answer  answerShape // admitted
	cut     bool        // admitted: the cut fault drops the stream half-way
	slow    bool        // admitted: the slow-headers fault delays the headers
}

// answerShape is an admitted request's answer: its lengths and timing.
type answerShape struct {
	cached    int           // prompt tokens the prompt cache serves
	output    int           // visible tokens per choice
	reasoning int           // hidden reasoning tokens per choice
	ttft      time.Duration // to the first token, the reasoning's included
	itlScale  float64       // the jitter on the time per token
	seed      uint64        // picks the words (and a fault's status)
}

// quotaFigures are the quota headers' values at a decision: a provisioned
// deployment's utilization, or a standard one's limits and what is left
// of them (tpm 0: no quota, no headers).
type quotaFigures struct {
	provisioned   bool
	utilization   float64 // percent of a minute's capacity
	tpm, tokens   int     // tokens a minute, and left in the window
	rpm, requests int     // requests a minute, and left (requests < 0: no request limit)
}

// measure counts a request's prompt and the output it may generate, for
// admission.
func (d *deployment) measure(req *chatRequest, msgs []tokenizer.Message) ask {
	a := ask{kind: req.kind, n: 1}
	a.prompt, a.exact = d.countPrompt(req, msgs)
	window := d.cfg.ContextWindow
	if a.prompt > window {
		return a // refused: the rest does not matter
	}
	if req.N != nil {
		a.n = *req.N
	}
	a.limit, a.asked = d.cfg.DefaultOutput, true
	switch {
	case req.MaxTokens != nil:
		a.limit = *req.MaxTokens
	case req.MaxCompletionTokens != nil:
		a.limit = *req.MaxCompletionTokens
	default:
		a.asked = false
	}
	a.limit = max(min(a.limit, window-a.prompt), 1)
	if a.kind == kindEmbeddings {
		a.limit = 0
	}
	if d.cache != nil && a.kind != kindEmbeddings && a.prompt >= CacheMin+tokenizer.PerReply {
		a.hashes, _ = prefixHashes(nil, d.tok, msgs, nil)
	}
	return a
}

// countPrompt counts a request's prompt tokens. Counting stops once the
// prompt passes the context window: an 8 MB prompt is refused after
// counting little more than a window of it. exact is false when the
// count is only a lower bound.
func (d *deployment) countPrompt(req *chatRequest, msgs []tokenizer.Message) (prompt int, exact bool) {
	window := d.cfg.ContextWindow
	if req.texts == nil {
		// Tools, a schema and images add their tokens to the messages'.
		extra := req.ag.extra() + req.images.tokens
		n, exact := d.tok.CountMessagesUpTo(msgs, max(window-extra, 0))
		// A schema's count stops past the window too.
		return n + extra, exact && extra <= window
	}
	// A prompt string, or inputs to embed: tokens, no chat overhead.
	for i, t := range req.texts {
		n, ok := d.tok.CountUpTo(t, window-prompt)
		prompt += n
		if !ok || prompt > window {
			return prompt, ok && i == len(req.texts)-1
		}
	}
	return prompt, true
}

// decide is admission, at now, of a request of measure a: d.mu must be
// held. It changes only d's own state (its quota, prompt cache, dice and
// counts). Every dice roll happens in the same order whatever the
// outcome, as it always has, so that a seed replays the same run.
func (d *deployment) decide(now time.Time, a ask) decision {
	if a.prompt > d.cfg.ContextWindow {
		d.stats.Invalid++
		return decision{outcome: rejected}
	}
	v, cached := d.admitQuota(now, a)
	fail := v.ok && d.roll(d.cfg.Fail5xx)
	dec := decision{verdict: v}
	dec.cut = v.ok && !fail && d.roll(d.cfg.CutStream)
	dec.slow = v.ok && !fail && d.roll(d.cfg.SlowHeaders)
	dec.answer = d.shape(a, cached)
	switch {
	case !v.ok && a.spill && v.reason == "utilization":
		// The spillover deployment answers, with its own figures.
		d.stats.Spilled++
		dec.outcome = spilled
		return dec
	case !v.ok:
		d.stats.Throttled[v.reason]++
		dec.outcome = throttled
	case fail:
		d.stats.Failed++
		dec.outcome, dec.status = failed, 500
		if dec.answer.seed%2 == 1 {
			dec.status = 503
		}
	default:
		d.stats.Accepted++
	}
	dec.quota = d.figures(now)
	return dec
}

// roll is a fault's dice: true with probability p.
func (d *deployment) roll(p float64) bool { return p > 0 && d.rng.Float64() < p }

// admitQuota rolls the 429 storm's dice, then takes the request's tokens
// from the quota. It returns the verdict and the prompt tokens the cache
// serves; an admitted prompt's prefixes are cached.
func (d *deployment) admitQuota(now time.Time, a ask) (verdict, int) {
	storm := d.roll(d.cfg.Storm429)
	cached := 0
	if len(a.hashes) > 0 {
		cached = d.cache.hit(now, a.hashes)
	}
	var v verdict
	switch {
	case storm:
		v = verdict{reason: "storm", after: time.Duration(1+d.rng.IntN(5)) * time.Second}
	case d.ptu != nil:
		// In utilization units: cached tokens count nothing, output
		// tokens the model's output ratio each.
		v = d.ptu.admit(now, a.prompt-cached, a.limit*a.n)
	default:
		v = d.std.admit(now, a.prompt+a.limit*a.n)
	}
	if !v.ok {
		return v, 0
	}
	if len(a.hashes) > 0 {
		d.cache.add(now, a.hashes)
	}
	return v, cached
}

// shape rolls the answer of a request with cached prompt tokens: its
// lengths, its time to first token and per token, and its words' seed.
func (d *deployment) shape(a ask, cached int) answerShape {
	c := &d.cfg
	// Hidden reasoning comes out of the same max_completion_tokens as the
	// answer.
	reasoning := max(min(c.ReasoningTokens, a.limit-1), 0)
	sh := answerShape{cached: cached, reasoning: reasoning, output: d.outputLength(a, reasoning)}
	sh.itlScale = d.jitter()
	prefill := time.Duration(a.prompt-cached)*time.Duration(c.Prefill) + time.Duration(cached)*time.Duration(c.CachedPrefill)
	sh.ttft = time.Duration(float64(time.Duration(c.TTFT)+prefill) * d.jitter())
	// Reasoning streams nothing: its tokens come before the first.
	sh.ttft += time.Duration(float64(time.Duration(c.ITL)*time.Duration(reasoning)) * sh.itlScale)
	sh.seed = d.rng.Uint64()
	return sh
}

// outputLength rolls the visible tokens of each choice.
func (d *deployment) outputLength(a ask, reasoning int) int {
	c := &d.cfg
	visible := a.limit - reasoning
	switch {
	case a.kind == kindEmbeddings:
		return 0
	case !a.asked && c.DefaultOutputStdev > 0:
		// No max_tokens: the model stops where it will, up to the
		// context window.
		most := max(c.ContextWindow-a.prompt-reasoning, 1)
		v := int(math.Round(float64(c.DefaultOutput) + float64(c.DefaultOutputStdev)*d.rng.NormFloat64()))
		return min(max(v, 1), most)
	case c.OutputMin > 0 && c.OutputMin < visible:
		return c.OutputMin + d.rng.IntN(visible-c.OutputMin+1)
	}
	return visible
}

// jitter rolls a latency's factor: 1 ± Jitter.
func (d *deployment) jitter() float64 {
	if d.cfg.Jitter == 0 {
		return 1
	}
	return 1 + d.cfg.Jitter*(2*d.rng.Float64()-1)
}

// figures reads the quota headers' values at now.
func (d *deployment) figures(now time.Time) quotaFigures {
	if d.ptu != nil {
		return quotaFigures{provisioned: true, utilization: d.ptu.utilization(now)}
	}
	if d.std.tpm <= 0 {
		return quotaFigures{}
	}
	reqs, toks := d.std.remaining(now)
	return quotaFigures{tpm: d.std.tpm, tokens: toks, rpm: d.std.rpm, requests: reqs}
}
