package plan

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Error is bad input: a one-line message naming the flag or field. The
// command line exits with status 2 on it.
type Error struct {
	Msg string
	// Detail, if any, is what a user asks for with --verbose: a long
	// chain of causes (the Azure SDK's sign-in tries) the one line sums
	// up.
	Detail string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns a bad-input error.
func Errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// MaxRate is the highest rate a plan takes: a million requests a minute
// is far past what one machine sends.
const MaxRate = 1e9

// MaxConnections is the most HTTP/2 connections a run spreads over.
const MaxConnections = 1000

// MinContext is the smallest prompt of the fixed shape: a chat
// message's overhead (7 tokens) and one word.
const MinContext = 8

// MaxPrompt is the largest prompt of a model whose context window is not
// known.
const MaxPrompt = 2_000_000

// MaxShards is the most shards a plan may be divided into.
const MaxShards = 10000

// Validate checks every value of a normalized plan and how they combine,
// and returns the first problem, naming its flag. window is the model's
// context window (0 if unknown). It is the one place a plan's values are
// checked: the command line checks only what exists on the command line
// alone (a flag given twice, a flag that needs another).
func (p *Plan) Validate(window int) error {
	for _, check := range []func() error{p.validateLoad, p.validateShard, p.validateTarget, p.validateOutput,
		p.validateWorkload, p.validateAgent, p.validateSources, p.validateHeaders, p.validateStages} {
		if err := check(); err != nil {
			return err
		}
	}
	return p.validateLengths(window)
}

// validateLoad checks the schedule and the limits.
func (p *Plan) validateLoad() error {
	l := &p.Load
	switch {
	case l.Clients <= 0:
		return Errorf("--clients must be at least 1, got %d", l.Clients)
	case l.Clients > 1_000_000:
		return Errorf("--clients must be at most 1000000, got %d", l.Clients)
	case l.Requests < 0:
		return Errorf("--requests must not be negative, got %d", l.Requests)
	case l.Rate != nil && (!(*l.Rate > 0) || *l.Rate > MaxRate):
		return Errorf("--rate must be a positive number of requests per minute up to %g, got %g", float64(MaxRate), *l.Rate)
	case l.Rate != nil && len(l.Stages) > 0:
		return Errorf("--rate and --stages each set the rate: give one")
	case !(l.StartRate >= 0) || l.StartRate > MaxRate:
		return Errorf("--start-rate must be a rate from 0 to %g, got %g", float64(MaxRate), l.StartRate)
	case l.Warmup > 0 && l.Length() > 0 && l.Warmup >= l.Length():
		return Errorf("--warmup %s must be shorter than the run (%s)", l.Warmup, l.Length())
	case !l.Arrival.Valid():
		return Errorf("--arrival must be %s, got %q", words(Constant, Poisson), l.Arrival)
	case l.StartAt != "" && !validTime(l.StartAt):
		return Errorf("--start-at %q is not an RFC 3339 time (e.g. 2026-12-02T15:00:00Z)", l.StartAt)
	case l.Duration > 0 && l.Duration < Duration(time.Millisecond):
		return Errorf("--duration %s is under a millisecond: give 0 (no limit) or a duration a request fits in", l.Duration)
	case l.RequestTimeout <= 0:
		return Errorf("--request-timeout must be positive, got %s", l.RequestTimeout)
	case l.RequestTimeout < Duration(time.Millisecond):
		return Errorf("--request-timeout %s is under a millisecond: no request is answered that fast", l.RequestTimeout)
	case l.DrainTimeout < 0:
		return Errorf("--drain-timeout must not be negative, got %s", l.DrainTimeout)
	case !l.Retry.Valid():
		return Errorf("--retry must be %s, got %q", words(RetryNone, RetryExponential), l.Retry)
	}
	return nil
}

// validateShard checks a shard of a divided plan.
func (p *Plan) validateShard() error {
	l, sh := &p.Load, p.Load.Shard
	switch {
	case sh == nil:
	case sh.Count < 1 || sh.Count > MaxShards || sh.Index < 0 || sh.Index >= sh.Count:
		return Errorf("--shard %d/%d: want i/N with 0 <= i < N <= %d", sh.Index, sh.Count, MaxShards)
	case p.Workload.Turns > 1:
		return Errorf("--shard: conversations (--turns) are not divided among shards")
	case l.Requests > 0 && l.Requests < int64(sh.Count):
		return Errorf("--requests %d is fewer than the %d shards: a shard would have nothing to send", l.Requests, sh.Count)
	case l.Clients < sh.Count:
		return Errorf("--clients %d is fewer than the %d shards: each shard needs one at least (--clients is the total, divided among them)", l.Clients, sh.Count)
	}
	return nil
}

// validateTarget checks where requests go and how.
func (p *Plan) validateTarget() error {
	t := &p.Target
	switch {
	case t.Connections < 0 || t.Connections > MaxConnections:
		return Errorf("--connections must be between 1 and %d, got %d", MaxConnections, t.Connections)
	case t.Connections > 0 && !t.HTTP2:
		return Errorf("--connections spreads HTTP/2 streams: it needs --http2 (with HTTP/1.1 every request in flight has its own connection)")
	case t.HTTP2 && t.URL != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(t.URL)), "https://"):
		return Errorf("--http2 needs an https:// URL: HTTP/2 is negotiated over TLS")
	case t.URL == "" && len(t.Sim) == 0:
		return Errorf("plan: no endpoint URL and no simulator deployment")
	case !t.Auth.Valid():
		return Errorf("--auth must be %s, got %q", words(AuthKey, AuthEntra, AuthNone), t.Auth)
	case t.Spillover != "" && !httpguts.ValidHeaderFieldValue(t.Spillover):
		return Errorf("--spillover-deployment %q is not a deployment name", t.Spillover)
	}
	return nil
}

// validateOutput checks where results go, and the live figures.
func (p *Plan) validateOutput() error {
	o := &p.Output
	switch {
	case o.Window <= 0:
		return Errorf("--aggregation-window must be positive, got %s", o.Window)
	case !o.Format.Valid():
		return Errorf("--output-format must be %s, got %q", words(Human, JSON), o.Format)
	case o.MetricsLinger < 0 || o.MetricsLinger > Duration(time.Hour):
		return Errorf("--metrics-linger must be from 0 to 1h, got %s", o.MetricsLinger)
	case o.MetricsLinger > 0 && o.MetricsListen == "":
		return Errorf("--metrics-linger keeps --metrics-listen's figures up: give --metrics-listen too")
	}
	for i, m := range o.ServerMetrics {
		// The URL is not quoted back: it may hold a password.
		if u, err := url.Parse(m); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Errorf("--server-metrics number %d: want the http(s) URL of a Prometheus endpoint (e.g. http://vllm:8000/metrics)", i+1)
		}
	}
	return nil
}

// validateWorkload checks what each request asks.
func (p *Plan) validateWorkload() error {
	w := &p.Workload
	switch {
	case w.Dataset == nil && p.Load.Trace == nil && w.Synthetic == "" && w.ContextTokens < MinContext:
		// The fixed shape's prompt: a dataset's, a trace's or a
		// distribution's lengths are their own.
		return Errorf("--context-tokens must be at least %d (the chat overhead and a word), got %d", MinContext, w.ContextTokens)
	case w.MaxTokens < 0:
		return Errorf("--max-tokens must be at least 1, got %d", w.MaxTokens)
	case w.Completions < 1 || w.Completions > 128:
		return Errorf("--completions must be between 1 and 128, got %d", w.Completions)
	case !w.Endpoint.Valid():
		return Errorf("--endpoint-type must be %s, got %q", words(Chat, Responses, Completions, Embeddings), w.Endpoint)
	case w.EmbeddingBatch < 0 || w.EmbeddingBatch > 2048:
		return Errorf("--embedding-batch must be from 1 to 2048 (0: one), got %d", w.EmbeddingBatch)
	case w.EmbeddingBatch > 1 && w.Endpoint != Embeddings:
		return Errorf("--embedding-batch needs --endpoint-type embeddings")
	case w.Endpoint == Embeddings && w.Turns > 1:
		return Errorf("--turns sends conversations: an embeddings endpoint has none")
	case w.Endpoint != "" && w.Endpoint != Chat && w.Completions > 1:
		return Errorf("--completions (n) is a chat parameter: --endpoint-type %s has none", w.Endpoint)
	case w.Completions > 1 && w.Turns > 1:
		return Errorf("--completions %d and --turns: a conversation carries one answer forward; give one", w.Completions)
	case w.PrefixTokens < 0 || w.PrefixTokens > MaxPrompt:
		return Errorf("--prefix-tokens must be from 0 to %d, got %d", MaxPrompt, w.PrefixTokens)
	case w.Prefixes < 0 || w.Prefixes > 1_000_000:
		return Errorf("--prefixes must be from 1 to 1000000, got %d", w.Prefixes)
	case w.Prefixes > 1 && w.PrefixTokens == 0:
		return Errorf("--prefixes %d needs --prefix-tokens: the number of distinct shared prefixes of that length", w.Prefixes)
	case w.Turns < 0 || w.Turns > 10_000:
		return Errorf("--turns must be from 1 to 10000, got %d", w.Turns)
	case w.ThinkTime != "" && w.Turns < 2:
		return Errorf("--think-time is the pause between the turns of a conversation: it needs --turns 2 or more")
	case !w.Streams() && (p.SLO.TTFT > 0 || p.SLO.TPOT > 0 || hasObjective(p.SLO.Thresholds, "ttft", "tpot", "itl")):
		return Errorf("--slo: a run that is not streamed (--no-stream, embeddings) has no TTFT, TPOT or ITL to hold to an objective")
	}
	for _, r := range []struct {
		name   string
		v      *float64
		lo, hi float64
	}{{"frequency-penalty", w.FrequencyPenalty, -2, 2}, {"presence-penalty", w.PresencePenalty, -2, 2},
		{"temperature", w.Temperature, 0, 2}, {"top-p", w.TopP, 0, 1}} {
		if r.v != nil && (math.IsNaN(*r.v) || *r.v < r.lo || *r.v > r.hi) {
			return Errorf("--%s must be between %g and %g, got %g", r.name, r.lo, r.hi, *r.v)
		}
	}
	return nil
}

// validateSources checks where prompts come from (synthetic, a dataset,
// a trace) and how the sources combine.
func (p *Plan) validateSources() error {
	w, l := &p.Workload, &p.Load
	if d := w.Dataset; d != nil {
		switch {
		case strings.TrimSpace(d.Path) == "":
			return Errorf("--dataset: no file given")
		case !d.Format.Valid():
			return Errorf("--dataset-format must be %s, got %q", words(ShareGPT, JSONL, Replay, CSV), d.Format)
		case d.MaxTokens < 0:
			return Errorf("--max-tokens must be at least 1, got %d", d.MaxTokens)
		case w.Synthetic != "":
			return Errorf("--dataset and --synthetic each give the prompts: give one")
		case w.PrefixTokens > 0:
			return Errorf("--prefix-tokens shapes synthetic prompts: a dataset's prompts are sent as they are")
		}
	}
	if t := l.Trace; t != nil {
		switch {
		case strings.TrimSpace(t.Path) == "":
			return Errorf("--trace: no file given")
		case l.Rate != nil || len(l.Stages) > 0:
			return Errorf("--trace is the schedule: give no --rate or --stages")
		case w.Dataset != nil || w.Synthetic != "" || w.PrefixTokens > 0 || w.Turns > 1:
			return Errorf("--trace gives each request's lengths and shared blocks: give no --dataset, --synthetic, --prefix-tokens or --turns")
		case !(t.Speed > 0) || t.Speed > 1e6:
			return Errorf("--trace-speed must be a positive factor up to 1e6, got %g", t.Speed)
		case t.Block < 1 || t.Block > 1<<20:
			return Errorf("--trace-block must be from 1 to %d tokens, got %d", 1<<20, t.Block)
		}
	}
	return nil
}

// validateHeaders checks the --header values sent with every request.
// The text is never quoted back: it may be a secret given without its
// name.
func (p *Plan) validateHeaders() error {
	for i, h := range p.Target.Headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !httpguts.ValidHeaderFieldName(name) {
			return Errorf("--header number %d: want 'Name: value' with a header's name (a value of env:VAR is read from the environment)", i+1)
		}
		switch {
		case value == NotWritten:
			return Errorf("--header %s: run.json does not keep header values: give it on the command line as env:VAR", name)
		case !httpguts.ValidHeaderFieldValue(value):
			return Errorf("--header %s: the value holds characters a header cannot carry", name)
		}
		switch strings.ToLower(name) {
		case "host", "content-length", "transfer-encoding", "connection":
			return Errorf("--header %s: the transport sets it; it cannot be given", name)
		}
	}
	return nil
}

// validateStages checks a ramp's stages.
func (p *Plan) validateStages() error {
	l := &p.Load
	hi := MaxRate
	if l.StageClients {
		hi = 1_000_000
	}
	for i, st := range l.Stages {
		if st.Duration <= 0 || !(st.Target >= 0) || st.Target > hi {
			return Errorf("--stages: stage %d: want a positive duration and a target from 0 to %g, got %s:%g", i+1, hi, st.Duration, st.Target)
		}
	}
	return nil
}

// validateLengths checks that a request fits the model: a prompt longer
// than it takes would be refused by every server, after minutes of
// building it. window is the model's context window (0 if unknown).
func (p *Plan) validateLengths(window int) error {
	w := &p.Workload
	total := w.ContextTokens + w.MaxTokens*w.Completions
	what := fmt.Sprintf("--context-tokens %d plus --max-tokens %d is", w.ContextTokens, w.MaxTokens)
	if w.MaxTokens == 0 {
		what = fmt.Sprintf("--context-tokens %d is", w.ContextTokens)
	}
	switch {
	case window > 0 && w.ContextTokens+w.MaxTokens > window:
		return Errorf("%s over the model's context window of %d tokens", what, window)
	case window == 0 && total > MaxPrompt:
		return Errorf("%s over %d tokens, more than any model takes", what, MaxPrompt)
	}
	return nil
}

// hasObjective reports whether a threshold's figure starts with one of
// the prefixes.
func hasObjective(ths []Threshold, prefixes ...string) bool {
	for _, th := range ths {
		for _, p := range prefixes {
			if strings.HasPrefix(th.Figure, p) {
				return true
			}
		}
	}
	return false
}
