// Package plan is the serializable description of a run: what to test,
// with what traffic, on what schedule, for how long, against which
// objectives, and where the results go. The command line only fills one
// in; run.json is one, written before the first request, and
// `aoaibench load --plan run.json` runs it again exactly.
//
// Validate checks every bad input a run can know of before it starts, in
// one place, and names the flag (or field) at fault.
package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// Version is the plan format this package writes.
const Version = 1

// Plan is a run's description.
type Plan struct {
	Schema   int      `json:"schema"`
	Target   Target   `json:"target"`
	Workload Workload `json:"workload"`
	Load     Load     `json:"load"`
	SLO      SLO      `json:"slo"`
	Output   Output   `json:"output"`
}

// Target is what is tested and how requests reach it.
type Target struct {
	// URL is the endpoint's base URL; empty tests the built-in simulator
	// with the deployments in Sim (the first is tested).
	URL        string `json:"url,omitempty"`
	API        string `json:"api,omitempty"` // azure, azure-v1, openai; "" chooses from the URL
	Deployment string `json:"deployment,omitempty"`
	Model      string `json:"model,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	// KeyEnv names the environment variable holding the API key: the key
	// itself is never part of a plan.
	KeyEnv string `json:"key_env,omitempty"`
	// Auth is key, entra or none; "" chooses: key when KeyEnv is set,
	// else entra for an Azure host, else none.
	Auth string `json:"auth,omitempty"`
	// Headers are sent with every request, "Name: value"; a value of
	// env:VAR is read from the environment when the run starts. Other
	// values are secrets too: run.json keeps only env: references.
	Headers []string `json:"headers,omitempty"`
	// Spillover names the deployment Azure sends a provisioned
	// deployment's overflow to (x-ms-spillover-deployment).
	Spillover string `json:"spillover,omitempty"`
	// HTTP2 negotiates HTTP/2 (else HTTP/1.1, as the OpenAI SDKs do);
	// Connections spreads HTTP/2 streams over that many connections.
	HTTP2       bool `json:"http2,omitempty"`
	Connections int  `json:"connections,omitempty"`
	// Sim is the simulator's deployments when URL is empty.
	Sim []sim.Deployment `json:"sim,omitempty"`
}

// Workload is what each request asks.
type Workload struct {
	Shape            string   `json:"shape"`          // balanced, context, generation or custom
	ContextTokens    int      `json:"context_tokens"` // prompt tokens, chat overhead included
	MaxTokens        int      `json:"max_tokens"`     // 0: none sent
	Completions      int      `json:"completions"`    // n
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	Temperature      *float64 `json:"temperature,omitempty"`
	TopP             *float64 `json:"top_p,omitempty"`
	Tokenizer        string   `json:"tokenizer,omitempty"` // "" from the model
	Seed             uint64   `json:"seed"`                // prompts' unique words and Poisson gaps
	// Synthetic draws each request's prompt and output lengths from
	// distributions (GuideLLM's keys, e.g.
	// prompt_tokens=800,prompt_tokens_stdev=300,output_tokens=200); ""
	// sends ContextTokens and MaxTokens every time.
	Synthetic string `json:"synthetic,omitempty"`
	// Dataset sends a file's prompts instead of synthetic ones.
	Dataset *Dataset `json:"dataset,omitempty"`
	// PrefixTokens starts every synthetic prompt with a shared system
	// message of that many tokens (one of Prefixes distinct ones), which a
	// prompt cache can serve; the rest of each prompt stays unique.
	PrefixTokens int `json:"prefix_tokens,omitempty"`
	Prefixes     int `json:"prefixes,omitempty"`
	// Turns makes each arrival a conversation of up to Turns requests,
	// each carrying the whole history with the answers as received
	// (0 or 1: single requests). ThinkTime is the pause before each
	// following turn: "2s", "1s-5s" (uniform) or "exp:2s" (exponential).
	Turns     int    `json:"turns,omitempty"`
	ThinkTime string `json:"think_time,omitempty"`
	// LogContent writes each request's prompt and answer text to
	// requests.jsonl (off by default: they may be confidential).
	LogContent bool `json:"log_content,omitempty"`
	// Endpoint is chat (""), responses, completions or embeddings.
	Endpoint string `json:"endpoint_type,omitempty"`
	// NoStream asks for whole answers: no TTFT, no TPOT, only E2E.
	NoStream bool `json:"no_stream,omitempty"`
	// EmbeddingBatch is how many inputs an embeddings request carries
	// (0: 1).
	EmbeddingBatch int `json:"embedding_batch,omitempty"`
}

// Dataset is a file of prompts.
type Dataset struct {
	Path    string `json:"path"`
	Format  string `json:"format,omitempty"`   // sharegpt, jsonl, replay or csv; "" detects it
	Shuffle bool   `json:"shuffle,omitempty"`  // in a seeded order (else the file's)
	SkipBad bool   `json:"skip_bad,omitempty"` // skip rows that cannot be read, with a warning
	// MaxTokens overrides the rows' output lengths when set.
	MaxTokens int `json:"max_tokens,omitempty"`
}

// Trace replays a recorded trace: its arrival times and lengths.
type Trace struct {
	Path  string  `json:"path"`
	Speed float64 `json:"speed,omitempty"` // 2 replays twice as fast; 0 means 1
	// Block is the tokens of one hash_ids block (0: 512, as in Mooncake's
	// traces).
	Block int `json:"block,omitempty"`
}

// Load is the schedule and the limits of a run.
type Load struct {
	// Rate is requests per minute (open loop); nil keeps Clients in
	// flight (closed loop).
	Rate    *float64 `json:"rate,omitempty"`
	Arrival string   `json:"arrival,omitempty"` // constant or poisson
	Clients int      `json:"clients"`           // most requests in flight
	// AutoClients says Clients was not given: an open loop's cap of
	// AutoClients, sized for the rate.
	AutoClients bool `json:"auto_clients,omitempty"`
	// Requests and Duration stop dispatch (0: no limit).
	Requests int64    `json:"requests,omitempty"`
	Duration Duration `json:"duration,omitempty"`
	// RequestTimeout bounds one attempt; DrainTimeout the wait for
	// requests in flight once dispatch stops (0 cuts them off at once).
	RequestTimeout Duration `json:"request_timeout"`
	DrainTimeout   Duration `json:"drain_timeout"`
	Retry          string   `json:"retry"` // none or exponential
	// NoCheck sends the first request like any other: by default, an
	// answer of 401, 403 or 404, or none at all, stops the run.
	NoCheck bool `json:"no_check,omitempty"`
	// Stages ramp the rate (requests per minute) linearly from StartRate,
	// or, with StageClients, the number of clients of a closed loop. The
	// run lasts as long as its stages.
	Stages       []Stage `json:"stages,omitempty"`
	StartRate    float64 `json:"start_rate,omitempty"`
	StageClients bool    `json:"stage_clients,omitempty"`
	// Warmup is sent but left out of the figures: the first part of the
	// run, while connections open and a deployment's state settles.
	Warmup Duration `json:"warmup,omitempty"`
	// Trace dispatches a recorded trace's requests at its offsets: it is
	// the schedule and the workload.
	Trace *Trace `json:"trace,omitempty"`
	// Shard makes this run one of several machines' share of the load:
	// together they send what the plan says. StartAt (RFC 3339) is when
	// they all start.
	Shard   *Shard `json:"shard,omitempty"`
	StartAt string `json:"start_at,omitempty"`
}

// DefaultClients is a closed loop's clients when none are given: the
// original tool's default.
const DefaultClients = 20

// AutoClients caps an open loop's requests in flight when no cap is
// given: requests leave when the schedule says, as many at once as the
// rate and the endpoint's latency need (as vegeta's workers grow on
// demand), up to this. It is far past what a deployment's quota lets
// through, and within a process's open files.
const AutoClients = 10000

// Shard is shard Index (from 0) of Count.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// MaxShards is the most shards a plan may be divided into.
const MaxShards = 10000

// Stage is one step of a ramp: over Duration, from the previous target to
// Target.
type Stage struct {
	Duration Duration `json:"duration"`
	Target   float64  `json:"target"`
}

// Open reports whether the plan runs an open loop (a rate, or stages of
// rates).
func (l *Load) Open() bool {
	return l.Rate != nil || len(l.Stages) > 0 && !l.StageClients || l.Trace != nil
}

// Length is how long dispatch runs: the duration, else the stages' total
// (0: until the request count).
func (l *Load) Length() Duration {
	if l.Duration > 0 || len(l.Stages) == 0 {
		return l.Duration
	}
	var t Duration
	for _, s := range l.Stages {
		t += s.Duration
	}
	return t
}

// SLO holds the per-request objectives goodput counts, and the whole-run
// objectives (thresholds) whose miss makes the run exit with ExitSLO.
type SLO struct {
	TTFT       Duration    `json:"ttft,omitempty"`
	TPOT       Duration    `json:"tpot,omitempty"`
	E2E        Duration    `json:"e2e,omitempty"`
	Thresholds []Threshold `json:"thresholds,omitempty"`
}

// Output is where results go.
type Output struct {
	Dir     string   `json:"dir,omitempty"`      // requests.jsonl, run.json, summary.json, histograms.json
	LogFile string   `json:"log_file,omitempty"` // the live JSONL lines, also
	Format  string   `json:"format"`             // live line: human or jsonl
	Window  Duration `json:"window"`             // the live line's sliding window
	// MetricsListen serves the live figures to Prometheus at this
	// address (/metrics).
	MetricsListen string `json:"metrics_listen,omitempty"`
	// MetricsLinger keeps serving the final figures this long after the
	// run, so that a scraper gets them.
	MetricsLinger Duration `json:"metrics_linger,omitempty"`
	// ServerMetrics are inference servers' Prometheus endpoints, scraped
	// every second while the run goes.
	ServerMetrics []string `json:"server_metrics,omitempty"`
}

// Normalize fills the defaults a plan leaves open (a zero value), so
// that run.json records what the run resolved: the clients (AutoClients
// for an open loop, DefaultClients for a closed one).
func (p *Plan) Normalize() {
	if p.Load.Clients == 0 {
		if p.Load.Open() {
			p.Load.Clients, p.Load.AutoClients = AutoClients, true
		} else {
			p.Load.Clients = DefaultClients
		}
	}
}

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

// MaxPrompt is the largest prompt of a model whose context window is not
// known.
const MaxPrompt = 2_000_000

// Validate checks the plan and returns the first problem, naming its flag.
// window is the model's context window (0 if unknown).
func (p *Plan) Validate(window int) error {
	l, w := &p.Load, &p.Workload
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
	case l.Arrival != "" && l.Arrival != "constant" && l.Arrival != "poisson":
		return Errorf("--arrival must be constant or poisson, got %q", l.Arrival)
	case l.Shard != nil && (l.Shard.Count < 1 || l.Shard.Count > MaxShards || l.Shard.Index < 0 || l.Shard.Index >= l.Shard.Count):
		return Errorf("--shard %d/%d: want i/N with 0 <= i < N <= %d", l.Shard.Index, l.Shard.Count, MaxShards)
	case l.Shard != nil && w.Turns > 1:
		return Errorf("--shard: conversations (--turns) are not divided among shards")
	case l.Shard != nil && l.Requests > 0 && l.Requests < int64(l.Shard.Count):
		return Errorf("--requests %d is fewer than the %d shards: a shard would have nothing to send", l.Requests, l.Shard.Count)
	case l.Shard != nil && l.Clients < l.Shard.Count:
		return Errorf("--clients %d is fewer than the %d shards: each shard needs one at least (--clients is the total, divided among them)", l.Clients, l.Shard.Count)
	case l.StartAt != "" && !validTime(l.StartAt):
		return Errorf("--start-at %q is not an RFC 3339 time (e.g. 2026-12-02T15:00:00Z)", l.StartAt)
	case l.Duration > 0 && l.Duration < Duration(time.Millisecond):
		return Errorf("--duration %s is under a millisecond: give 0 (no limit) or a duration a request fits in", l.Duration)
	case l.RequestTimeout <= 0:
		return Errorf("--request-timeout must be positive, got %s", l.RequestTimeout)
	case l.RequestTimeout < Duration(time.Millisecond):
		return Errorf("--request-timeout %s is under a millisecond: no request is answered that fast", l.RequestTimeout)
	case l.Retry != "none" && l.Retry != "exponential":
		return Errorf("--retry must be none or exponential, got %q", l.Retry)
	case p.Output.Window <= 0:
		return Errorf("--aggregation-window must be positive, got %s", p.Output.Window)
	case p.Output.Format != "human" && p.Output.Format != "jsonl":
		return Errorf("--output-format must be human or jsonl, got %q", p.Output.Format)
	case w.ContextTokens <= 0:
		return Errorf("--context-tokens must be at least 1, got %d", w.ContextTokens)
	case w.MaxTokens < 0:
		return Errorf("--max-tokens must be at least 1, got %d", w.MaxTokens)
	case w.Completions < 1 || w.Completions > 128:
		return Errorf("--completions must be between 1 and 128, got %d", w.Completions)
	case p.Target.Connections < 0 || p.Target.Connections > MaxConnections:
		return Errorf("--connections must be between 1 and %d, got %d", MaxConnections, p.Target.Connections)
	case p.Target.Connections > 0 && !p.Target.HTTP2:
		return Errorf("--connections spreads HTTP/2 streams: it needs --http2 (with HTTP/1.1 every request in flight has its own connection)")
	case p.Target.HTTP2 && p.Target.URL != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(p.Target.URL)), "https://"):
		return Errorf("--http2 needs an https:// URL: HTTP/2 is negotiated over TLS")
	case p.Target.URL == "" && len(p.Target.Sim) == 0:
		return Errorf("plan: no endpoint URL and no simulator deployment")
	}
	if err := p.validateTraffic(); err != nil {
		return err
	}
	for i, st := range l.Stages {
		hi := MaxRate
		if l.StageClients {
			hi = 1_000_000
		}
		if st.Duration <= 0 || !(st.Target >= 0) || st.Target > hi {
			return Errorf("--stages: stage %d: want a positive duration and a target from 0 to %g, got %s:%g", i+1, hi, st.Duration, st.Target)
		}
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
	// A prompt longer than the model takes would be refused by every
	// server, after minutes of building it: say so now.
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

// validateTraffic checks the workload's sources and how they combine.
func (p *Plan) validateTraffic() error {
	w, l := &p.Workload, &p.Load
	switch {
	case w.Dataset != nil && strings.TrimSpace(w.Dataset.Path) == "":
		return Errorf("--dataset: no file given")
	case w.Dataset != nil && w.Dataset.Format != "" && !oneOf(w.Dataset.Format, "sharegpt", "jsonl", "replay", "csv"):
		return Errorf("--dataset-format must be sharegpt, jsonl, replay or csv, got %q", w.Dataset.Format)
	case w.Dataset != nil && w.Dataset.MaxTokens < 0:
		return Errorf("--max-tokens must be at least 1, got %d", w.Dataset.MaxTokens)
	case w.Dataset != nil && w.Synthetic != "":
		return Errorf("--dataset and --synthetic each give the prompts: give one")
	case w.Dataset != nil && w.PrefixTokens > 0:
		return Errorf("--prefix-tokens shapes synthetic prompts: a dataset's prompts are sent as they are")
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
	case l.Trace != nil && strings.TrimSpace(l.Trace.Path) == "":
		return Errorf("--trace: no file given")
	case l.Trace != nil && (l.Rate != nil || len(l.Stages) > 0):
		return Errorf("--trace is the schedule: give no --rate or --stages")
	case l.Trace != nil && (w.Dataset != nil || w.Synthetic != "" || w.PrefixTokens > 0 || w.Turns > 1):
		return Errorf("--trace gives each request's lengths and shared blocks: give no --dataset, --synthetic, --prefix-tokens or --turns")
	case l.Trace != nil && (!(l.Trace.Speed >= 0) || l.Trace.Speed > 1e6):
		return Errorf("--trace-speed must be a positive factor up to 1e6, got %g", l.Trace.Speed)
	case l.Trace != nil && (l.Trace.Block < 0 || l.Trace.Block > 1<<20):
		return Errorf("--trace-block must be from 1 to %d tokens, got %d", 1<<20, l.Trace.Block)
	case w.Completions > 1 && w.Turns > 1:
		return Errorf("--completions %d and --turns: a conversation carries one answer forward; give one", w.Completions)
	case w.Endpoint != "" && !oneOf(w.Endpoint, "chat", "responses", "completions", "embeddings"):
		return Errorf("--endpoint-type must be chat, responses, completions or embeddings, got %q", w.Endpoint)
	case w.EmbeddingBatch < 0 || w.EmbeddingBatch > 2048:
		return Errorf("--embedding-batch must be from 1 to 2048 (0: one), got %d", w.EmbeddingBatch)
	case w.EmbeddingBatch > 1 && w.Endpoint != "embeddings":
		return Errorf("--embedding-batch needs --endpoint-type embeddings")
	case w.Endpoint == "embeddings" && w.Turns > 1:
		return Errorf("--turns sends conversations: an embeddings endpoint has none")
	case w.Endpoint != "" && w.Endpoint != "chat" && w.Completions > 1:
		return Errorf("--completions (n) is a chat parameter: --endpoint-type %s has none", w.Endpoint)
	case p.Target.Auth != "" && !oneOf(p.Target.Auth, "key", "entra", "none"):
		return Errorf("--auth must be key, entra or none, got %q", p.Target.Auth)
	}
	for i, h := range p.Target.Headers {
		// The text is never quoted back: it may be a secret given without
		// its name.
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
	if l := p.Output.MetricsLinger; l < 0 || l > Duration(time.Hour) {
		return Errorf("--metrics-linger must be from 0 to 1h, got %s", l)
	} else if l > 0 && p.Output.MetricsListen == "" {
		return Errorf("--metrics-linger keeps --metrics-listen's figures up: give --metrics-listen too")
	}
	for _, m := range p.Output.ServerMetrics {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			shown := "(unparsable URL)" // it may hold a password
			if err == nil {
				shown = api.WithoutPassword(m)
			}
			return Errorf("--server-metrics %s: want the http(s) URL of a Prometheus endpoint (e.g. http://vllm:8000/metrics)", shown)
		}
	}
	if s := p.Target.Spillover; s != "" && !httpguts.ValidHeaderFieldValue(s) {
		return Errorf("--spillover-deployment %q is not a deployment name", s)
	}
	if !w.Streams() && (p.SLO.TTFT > 0 || p.SLO.TPOT > 0 || hasObjective(p.SLO.Thresholds, "ttft", "tpot", "itl")) {
		return Errorf("--slo: a run that is not streamed (--no-stream, embeddings) has no TTFT, TPOT or ITL to hold to an objective")
	}
	return nil
}

// Streams reports whether the workload's answers are streamed.
func (w *Workload) Streams() bool { return !w.NoStream && w.Endpoint != "embeddings" }

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

// NotWritten stands in run.json for a header value given on the command
// line: it may be a secret.
const NotWritten = "(not written: give it again, or as env:VAR)"

// HeadersForFile returns headers fit for run.json: env:VAR values as they
// are, any other value replaced by NotWritten.
func HeadersForFile(hs []string) []string {
	var out []string
	for _, h := range hs {
		name, value, _ := strings.Cut(h, ":")
		if !strings.HasPrefix(strings.TrimSpace(value), "env:") {
			value = " " + NotWritten
		}
		out = append(out, name+":"+value)
	}
	return out
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// Read reads a plan from run.json (or any file holding one).
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Errorf("--plan: %v", err)
	}
	// run.json is a plan and what the run resolved from it; nothing
	// else may be in it, so that a typo is not silently ignored.
	var f struct {
		Plan
		Tool      string   `json:"tool"`
		Version   string   `json:"version"`
		Command   []string `json:"command"`
		Start     string   `json:"start"`
		Described string   `json:"target_description"`
		Tokenizer string   `json:"tokenizer"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, Errorf("--plan %s: %v", path, err)
	}
	p := f.Plan
	if p.Schema == 0 || p.Schema > Version {
		return nil, Errorf("--plan %s: not an aoaibench plan of version %d (schema %d)", path, Version, p.Schema)
	}
	return &p, nil
}

// ParseStages reads --stages: DURATION:TARGET,..., e.g. 30s:60,2m:600,1m:600
// (requests per minute), or with a "c" after every target, client counts
// of a closed loop (30s:10c,2m:100c). It returns the stages and whether
// they are of clients.
func ParseStages(flag, s string) ([]Stage, bool, error) {
	var out []Stage
	clients, rates := false, false
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		d, t, ok := strings.Cut(tok, ":")
		if !ok {
			return nil, false, Errorf("%s: %q is not DURATION:TARGET (e.g. 2m:600)", flag, tok)
		}
		dur, err := ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, false, Errorf("%s: %q: the duration %q is not a positive duration", flag, tok, d)
		}
		if c, isC := strings.CutSuffix(t, "c"); isC {
			t, clients = c, true
		} else {
			rates = true
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return nil, false, Errorf("%s: %q: the target %q is not a rate (or client count) of 0 or more", flag, tok, t)
		}
		if clients && v != math.Trunc(v) {
			return nil, false, Errorf("%s: %q: a client count is a whole number", flag, tok)
		}
		out = append(out, Stage{Duration: dur, Target: v})
	}
	if len(out) == 0 {
		return nil, false, Errorf("%s: no stage in %q (want e.g. 30s:60,2m:600)", flag, s)
	}
	if clients && rates {
		return nil, false, Errorf("%s: %q mixes rates and client counts (c): give one kind", flag, s)
	}
	return out, clients, nil
}

// validTime reports whether s is an RFC 3339 time.
func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
