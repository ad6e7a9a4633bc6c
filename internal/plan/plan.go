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
	"bytes"
	"encoding/json"
	"os"
	"strings"

	"github.com/aoaibench/aoaibench/internal/simconfig"
	"github.com/aoaibench/aoaibench/internal/tools"
	"github.com/aoaibench/aoaibench/internal/vision"
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
	Auth Auth `json:"auth,omitempty"`
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
	Sim []simconfig.Deployment `json:"sim,omitempty"`
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
	Endpoint Endpoint `json:"endpoint_type,omitempty"`
	// NoStream asks for whole answers: no TTFT, no TPOT, only E2E.
	NoStream bool `json:"no_stream,omitempty"`
	// EmbeddingBatch is how many inputs an embeddings request carries
	// (0: 1).
	EmbeddingBatch int `json:"embedding_batch,omitempty"`
	// Tools sends that many synthetic function definitions with every
	// request (0: none; a dataset row's own tools win), with ToolChoice
	// (auto, required or none).
	Tools      int          `json:"tools,omitempty"`
	ToolChoice tools.Choice `json:"tool_choice,omitempty"`
	// ToolResultTokens is the length of the fixed result a conversation
	// answers each tool call with before its next turn (the agent loop).
	ToolResultTokens int `json:"tool_result_tokens,omitempty"`
	// ResponseFormat asks for JSON answers: "json" (a json_object
	// response format) or "schema:FILE" (a json_schema one, of the
	// file's schema); "" asks for none.
	ResponseFormat string `json:"response_format,omitempty"`
	// Images puts that many synthetic images of ImageSize ("WxH") at
	// ImageDetail in every synthetic prompt, inline.
	Images      int           `json:"images,omitempty"`
	ImageSize   string        `json:"image_size,omitempty"`
	ImageDetail vision.Detail `json:"image_detail,omitempty"`
}

// Agent reports whether requests carry tools, a response format or
// images (and so take the general path, not the fixed shape's).
func (w *Workload) Agent() bool { return w.Tools > 0 || w.ResponseFormat != "" || w.Images > 0 }

// SchemaFile is the file of a "schema:FILE" response format ("" for
// none, or for "json").
func (w *Workload) SchemaFile() string {
	f, _ := strings.CutPrefix(w.ResponseFormat, "schema:")
	if f == w.ResponseFormat {
		return ""
	}
	return f
}

// ModelName is the model the plan's requests go to, as far as the plan
// says: the simulator's first deployment's, else --model, else the
// deployment's name ("" when none is given).
func (p *Plan) ModelName() string {
	if p.Target.URL == "" && len(p.Target.Sim) > 0 {
		return p.Target.Sim[0].Model
	}
	if p.Target.Model != "" {
		return p.Target.Model
	}
	return p.Target.Deployment
}

// Dataset is a file of prompts.
type Dataset struct {
	Path    string        `json:"path"`
	Format  DatasetFormat `json:"format,omitempty"`   // sharegpt, jsonl, replay or csv; "" detects it
	Shuffle bool          `json:"shuffle,omitempty"`  // in a seeded order (else the file's)
	SkipBad bool          `json:"skip_bad,omitempty"` // skip rows that cannot be read, with a warning
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
	Arrival Arrival  `json:"arrival,omitempty"` // constant or poisson
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
	Retry          Retry    `json:"retry"` // none or exponential
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

// Shard is shard Index (from 0) of Count.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

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
	Dir     string     `json:"dir,omitempty"`      // requests.jsonl, run.json, summary.json, histograms.json
	LogFile string     `json:"log_file,omitempty"` // the live JSONL lines, also
	Format  LiveFormat `json:"format"`             // live line: human or jsonl
	Window  Duration   `json:"window"`             // the live line's sliding window
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

// Streams reports whether the workload's answers are streamed.
func (w *Workload) Streams() bool { return !w.NoStream && w.Endpoint != "embeddings" }

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

// RunFile is run.json: a run's plan, and what the run resolved from it.
// The run writes it before its first request; `load --plan` runs its plan
// again, merge checks shards against it, report reads its settings.
type RunFile struct {
	Plan
	Tool      string   `json:"tool"`
	Version   string   `json:"version"`
	Command   []string `json:"command,omitempty"` // the command line, redacted
	Start     string   `json:"start"`             // t=0, RFC 3339 in UTC
	Described string   `json:"target_description"`
	Tokenizer string   `json:"tokenizer"`
}

// ReadRunFile decodes run.json. Nothing but a plan and what the run
// resolved may be in it, so that a typo is not silently ignored.
func ReadRunFile(b []byte) (*RunFile, error) {
	var f RunFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Read reads a plan from run.json (or any file holding one).
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Errorf("--plan: %v", err)
	}
	f, err := ReadRunFile(b)
	if err != nil {
		return nil, Errorf("--plan %s: %v", path, err)
	}
	p := f.Plan
	if p.Schema == 0 || p.Schema > Version {
		return nil, Errorf("--plan %s: not an aoaibench plan of version %d (schema %d)", path, Version, p.Schema)
	}
	return &p, nil
}
