package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/alecthomas/kong"

	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/load"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/output"
	"github.com/aoaibench/aoaibench/internal/schedule"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/workload"
)

// LoadCmd is `aoaibench load`: the original tool's load flags, plus
// aoaibench's own.
type LoadCmd struct {
	Endpoint string `arg:"" optional:"" help:"Base URL of the endpoint (https://NAME.openai.azure.com, http://127.0.0.1:8000 ...). Omit it to test the built-in simulator."`

	Deployment string   `short:"e" help:"Azure OpenAI deployment name (for OpenAI-compatible servers, the model when --model is not given)." json:"deployment,omitempty"`
	APIVersion string   `short:"a" default:"2024-10-21" help:"Azure OpenAI API version (classic Azure endpoints)." json:"api_version"`
	APIKeyEnv  string   `short:"k" default:"OPENAI_API_KEY" help:"Environment variable that holds the API key (optional for loopback servers)." json:"api_key_env"`
	API        string   `enum:"azure,azure-v1,openai," default:"" help:"Request dialect: azure, azure-v1 or openai; chosen from the URL when empty." json:"api,omitempty"`
	Model      string   `help:"Model name: sent to OpenAI-compatible servers, and for Azure the model behind the deployment (sets the tokenizer)." json:"model,omitempty"`
	Clients    int      `short:"c" default:"20" help:"Most requests in flight at once; without --rate, exactly this many are kept in flight." json:"clients"`
	Requests   int64    `short:"n" help:"Stop after this many requests (0: no limit)." json:"requests,omitempty"`
	Duration   float64  `short:"d" help:"Stop after this many seconds (0: no limit)." json:"duration,omitempty"`
	Rate       *float64 `short:"r" help:"Requests per minute, fractional allowed (0.5 is one every 2 minutes); omit for a closed loop of --clients." json:"rate,omitempty"`
	Arrival    string   `enum:"constant,poisson" default:"constant" help:"Arrivals with --rate: constant gaps, or poisson (exponential gaps of the same mean)." json:"arrival"`
	Seed       *uint64  `help:"Seed for Poisson gaps and the prompts' unique words (random when omitted; recorded in run.json)." json:"-"`

	AggregationWindow float64  `short:"w" default:"60" help:"Seconds of the sliding window behind the live line's figures." json:"aggregation_window"`
	ShapeProfile      string   `short:"s" name:"shape-profile" aliases:"shape" enum:"balanced,context,generation,custom," default:"" help:"Request shape: balanced (500 context/500 max tokens), context (2000/200), generation (500/1000) or custom (default balanced, or custom when -p is given)." json:"shape_profile"`
	ContextTokens     int      `short:"p" help:"Prompt tokens per request, chat overhead included (custom shape)." json:"context_tokens"`
	MaxTokens         *int     `short:"m" help:"max_tokens per request (custom shape; max_completion_tokens for o-series)." json:"max_tokens,omitempty"`
	Completions       int      `short:"i" default:"1" help:"Completions per request (n)." json:"completions"`
	FrequencyPenalty  *float64 `help:"frequency_penalty to send (-2 to 2)." json:"frequency_penalty,omitempty"`
	PresencePenalty   *float64 `help:"presence_penalty to send (-2 to 2)." json:"presence_penalty,omitempty"`
	Temperature       *float64 `help:"temperature to send (0 to 2)." json:"temperature,omitempty"`
	TopP              *float64 `help:"top_p to send (0 to 1)." json:"top_p,omitempty"`
	Tokenizer         string   `help:"Tokenizer for client-side counts (o200k_base or cl100k_base); from the model when empty." json:"tokenizer,omitempty"`

	OutputFormat   string  `short:"f" enum:"human,jsonl" default:"human" help:"Live line on stdout each second: human, or jsonl (the original tool's JSON object)." json:"output_format"`
	Retry          string  `short:"t" enum:"none,exponential" default:"none" help:"On 429, 5xx or connection errors: none, or exponential (honours retry-after-ms, for up to 60 s)." json:"retry"`
	RequestTimeout float64 `default:"600" help:"Seconds one attempt may take, headers to end of stream." json:"request_timeout"`
	DrainTimeout   float64 `default:"60" help:"Seconds to wait for requests in flight when dispatch stops; the rest count as incomplete." json:"drain_timeout"`
	OutputDir      string  `aliases:"log-save-dir" type:"path" help:"Directory for requests.jsonl, run.json and summary.json." json:"output_dir,omitempty"`
	NoProbe        bool    `help:"Skip the first probe request that checks the endpoint answers." json:"no_probe,omitempty"`
	Params         string  `type:"existingfile" help:"Read the lab's benchmark.parameters file (AOAI_ENDPOINT, AOAI_DEPLOYMENT, TEST_NAME, RATE, DURATION...); flags win over it." json:"params,omitempty"`
	LogFile        string  `type:"path" help:"Also write the JSONL live lines to this file (TEST_NAME.log with --params)." json:"log_file,omitempty"`
	CPUProfile     string  `name:"cpu-profile" type:"path" help:"Write a pprof CPU profile of the run to this file." json:"-"`
	MemProfile     string  `name:"mem-profile" type:"path" help:"Write a pprof allocation profile at the end of the run to this file." json:"-"`

	SLOTTFT float64 `name:"slo-ttft" help:"Goodput objective: TTFT at most this many seconds." json:"slo_ttft,omitempty"`
	SLOTPOT float64 `name:"slo-tpot" help:"Goodput objective: TPOT at most this many seconds." json:"slo_tpot,omitempty"`
	SLOE2E  float64 `name:"slo-e2e" help:"Goodput objective: E2E at most this many seconds." json:"slo_e2e,omitempty"`

	SimFlags `embed:"" group:"Simulator (when no ENDPOINT is given)"`

	testName string // TEST_NAME from --params
	fileKey  string // OPENAI_API_KEY from --params; never printed
}

// shape resolves the shape profile into context and max tokens.
func (c *LoadCmd) shape() (context, maxTokens int, err error) {
	name := c.ShapeProfile
	if name == "" {
		name = "balanced"
		if c.ContextTokens > 0 || c.MaxTokens != nil {
			name = "custom"
		}
	}
	c.ShapeProfile = name
	if name != "custom" {
		if c.ContextTokens > 0 || c.MaxTokens != nil {
			return 0, 0, usagef("--context-tokens and --max-tokens need --shape-profile custom, not %s", name)
		}
		s := workload.Shapes[name]
		return s.Context, s.MaxTokens, nil
	}
	if c.ContextTokens <= 0 {
		return 0, 0, usagef("--shape-profile custom needs --context-tokens (-p)")
	}
	if c.MaxTokens != nil {
		maxTokens = *c.MaxTokens
	}
	return c.ContextTokens, maxTokens, nil
}

// validate checks every flag and returns the first problem, naming the flag.
func (c *LoadCmd) validate() error {
	inRange := func(name string, v *float64, lo, hi float64) error {
		if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
			return usagef("--%s must be between %g and %g, got %g", name, lo, hi, *v)
		}
		return nil
	}
	switch {
	case c.Clients <= 0:
		return usagef("--clients must be at least 1, got %d", c.Clients)
	case c.Requests < 0:
		return usagef("--requests must not be negative, got %d", c.Requests)
	case c.Duration < 0 || math.IsNaN(c.Duration):
		return usagef("--duration must not be negative, got %g", c.Duration)
	case c.Rate != nil && (!(*c.Rate > 0) || math.IsInf(*c.Rate, 0)):
		return usagef("--rate must be a positive number of requests per minute, got %g", *c.Rate)
	case !(c.AggregationWindow > 0):
		return usagef("--aggregation-window must be a positive number of seconds, got %g", c.AggregationWindow)
	case c.ContextTokens < 0:
		return usagef("--context-tokens must not be negative, got %d", c.ContextTokens)
	case c.MaxTokens != nil && *c.MaxTokens < 1:
		return usagef("--max-tokens must be at least 1, got %d", *c.MaxTokens)
	case c.Completions < 1:
		return usagef("--completions must be at least 1, got %d", c.Completions)
	case !(c.RequestTimeout > 0):
		return usagef("--request-timeout must be a positive number of seconds, got %g", c.RequestTimeout)
	case c.DrainTimeout < 0:
		return usagef("--drain-timeout must not be negative, got %g", c.DrainTimeout)
	case c.SLOTTFT < 0 || c.SLOTPOT < 0 || c.SLOE2E < 0:
		return usagef("--slo-ttft, --slo-tpot and --slo-e2e must not be negative")
	}
	for _, r := range []error{
		inRange("frequency-penalty", c.FrequencyPenalty, -2, 2), inRange("presence-penalty", c.PresencePenalty, -2, 2),
		inRange("temperature", c.Temperature, 0, 2), inRange("top-p", c.TopP, 0, 1),
	} {
		if r != nil {
			return r
		}
	}
	ctx, _, err := c.shape()
	if err != nil {
		return err
	}
	if ctx < workload.MinContext {
		return usagef("--context-tokens must be at least %d (chat overhead included), got %d", workload.MinContext, ctx)
	}
	if c.Tokenizer != "" {
		if _, err := tokenizer.Get(c.Tokenizer); err != nil {
			return usagef("--tokenizer: %v", err)
		}
	}
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// target is a resolved endpoint with its key and model.
type target struct {
	ep    client.Endpoint
	key   string
	model string // the model family, for tokenizer and o-series rules
	note  string // printed on stderr before the run
	close func()
	sim   *sim.Server // the built-in simulator, when it is the target
}

// resolve turns the endpoint flags into a target.
func (c *LoadCmd) resolve(env *Env) (*target, error) {
	if c.Endpoint == "" {
		return c.simTarget(env)
	}
	ep, err := client.Resolve(c.Endpoint, client.API(c.API), c.Deployment, c.Model, c.APIVersion)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	key := env.Getenv(c.APIKeyEnv)
	if c.fileKey != "" {
		key = c.fileKey
	}
	if key == "" && !ep.Loopback {
		return nil, usagef("--api-key-env: environment variable %s is empty or not set (a key is needed for %s)", c.APIKeyEnv, ep.Target())
	}
	return &target{ep: ep, key: key, model: firstNonEmpty(c.Model, c.Deployment), close: func() {}}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Run runs the load test.
func (c *LoadCmd) Run(env *Env, kctx *kong.Context) error {
	if c.Params != "" {
		key, notes, err := c.applyParams(kctx)
		if err != nil {
			return err
		}
		c.fileKey = key
		for _, n := range notes {
			fmt.Fprintln(env.Stderr, n)
		}
		if c.testName != "" {
			if c.OutputDir == "" {
				c.OutputDir = c.testName
			}
			if c.LogFile == "" {
				c.LogFile = c.testName + ".log"
			}
		}
	}
	if err := c.validate(); err != nil {
		return err
	}
	ctxTokens, maxTokens, _ := c.shape()
	t, err := c.resolve(env)
	if err != nil {
		return err
	}
	defer t.close()
	warn := func(s string) { fmt.Fprintln(env.Stderr, s) }
	if t.note != "" {
		warn(t.note)
	}

	enc, encNote := c.Tokenizer, ""
	if enc == "" {
		if m, ok := models.Lookup(t.model); ok {
			enc = m.Encoding
		} else {
			enc = tokenizer.O200k
			encNote = fmt.Sprintf("note: cannot tell the model from %q; client-side token counts use %s (set --model or --tokenizer)", t.model, enc)
		}
	}
	// The vocabulary loads on the first count of text outside the word
	// list, after that request's stream has ended: prompts and simulated
	// output never need it, and no measurement waits for it.
	tok, _ := tokenizer.Get(enc)

	seed := rand.Uint64()
	if c.Seed != nil {
		seed = *c.Seed
	}
	b, err := workload.New(workload.Spec{
		Model: t.ep.Model, Context: ctxTokens, MaxTokens: maxTokens, Reasoning: isReasoning(t.model),
		Completions: c.Completions, FrequencyPenalty: c.FrequencyPenalty, PresencePenalty: c.PresencePenalty,
		Temperature: c.Temperature, TopP: c.TopP, Seed: seed,
	})
	if err != nil {
		return usagef("--context-tokens: %v", err)
	}
	cl := client.New(client.Config{
		Endpoint: t.ep, Key: t.key, Retry: c.Retry, Timeout: seconds(c.RequestTimeout),
		MaxConns: c.Clients, Tokenizer: tok,
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var stopOnce sync.Once
	go func() {
		n := 0
		for range env.Signals {
			n++
			if n == 1 {
				fmt.Fprintln(env.Stderr, "interrupted: stopped dispatching, draining requests in flight (interrupt again to cut them off)")
				stopOnce.Do(func() { close(stop) })
			} else {
				fmt.Fprintln(env.Stderr, "interrupted again: cutting off requests in flight")
				cancel()
				return
			}
		}
	}()

	if !c.NoProbe {
		if err := cl.Probe(ctx, func(usage bool) []byte { return b.Probe(usage) }); err != nil {
			return err
		}
	}
	if encNote != "" {
		warn(encNote)
	}

	cfg := load.Config{
		Clients: c.Clients, Requests: c.Requests, Duration: seconds(c.Duration),
		DrainTimeout: seconds(c.DrainTimeout), Window: seconds(c.AggregationWindow),
		SLO:    metrics.SLO{TTFT: seconds(c.SLOTTFT), TPOT: seconds(c.SLOTPOT), E2E: seconds(c.SLOE2E)},
		Client: cl, Builder: b, Warn: warn,
	}
	if c.Rate != nil {
		cfg.Offered = *c.Rate
		if c.Arrival == "poisson" {
			cfg.Schedule, err = schedule.NewPoisson(*c.Rate, seed)
		} else {
			cfg.Schedule, err = schedule.NewConstant(*c.Rate)
		}
		if err != nil {
			return usagef("--rate: %v", err)
		}
	}
	var logFile *os.File
	if c.LogFile != "" {
		if logFile, err = os.Create(c.LogFile); err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer logFile.Close()
	}
	cfg.Tick = func(tk load.Tick) {
		line := output.JSONLine(tk, cfg.Offered)
		if logFile != nil {
			logFile.Write(line)
		}
		if c.OutputFormat == "jsonl" {
			env.Stdout.Write(line)
		} else {
			fmt.Fprintln(env.Stdout, output.HumanLine(tk))
		}
	}

	var rw *output.RecordWriter
	var recFile *os.File
	if c.OutputDir != "" {
		if err := os.MkdirAll(c.OutputDir, 0o755); err != nil {
			return fmt.Errorf("--output-dir: %w", err)
		}
		if recFile, err = os.Create(filepath.Join(c.OutputDir, "requests.jsonl")); err != nil {
			return fmt.Errorf("--output-dir: %w", err)
		}
		defer recFile.Close()
	}
	desc := fmt.Sprintf("%s (%s, deployment/model %q, tokenizer %s)", t.ep.Target(), t.ep.API, firstNonEmpty(t.ep.Deployment, t.ep.Model), enc)
	rate := "closed loop"
	if c.Rate != nil {
		rate = fmt.Sprintf("%g RPM %s", *c.Rate, c.Arrival)
	}
	warn(fmt.Sprintf("load: %s; %s, %d clients, shape %s (%d context, %d max tokens)", desc, rate, c.Clients, c.ShapeProfile, ctxTokens, maxTokens))

	cfg.Started = func(start time.Time) {
		if recFile != nil {
			rw = output.NewRecordWriter(recFile, start)
		}
		if c.OutputDir != "" {
			if err := c.writeRunJSON(start, seed, enc, desc, ctxTokens, maxTokens); err != nil {
				warn(err.Error())
			}
		}
	}
	cfg.Record = func(r *metrics.Record) {
		if rw != nil {
			rw.Write(r)
		}
	}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res := load.Run(ctx, cfg, stop)
	if c.MemProfile != "" {
		if err := writeHeapProfile(c.MemProfile); err != nil {
			warn(err.Error())
		}
	}
	output.Table(env.Stderr, res)
	if t.sim != nil {
		simReport(env, t.sim)
	}
	if rw != nil && rw.Err() != nil {
		return rw.Err()
	}
	if c.OutputDir != "" {
		js, err := output.SummaryJSON(res)
		if err != nil {
			return fmt.Errorf("summary.json: %w", err)
		}
		if err := output.WriteFileAtomic(filepath.Join(c.OutputDir, "summary.json"), js); err != nil {
			return err
		}
		if c.LogFile != "" {
			warn("results in " + c.OutputDir + " and " + c.LogFile)
		} else {
			warn("results in " + c.OutputDir)
		}
	}
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--mem-profile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("--mem-profile: %w", err)
	}
	return nil
}

// writeRunJSON records what was run: never the key, only the name of the
// variable that holds it.
func (c *LoadCmd) writeRunJSON(start time.Time, seed uint64, enc, desc string, ctxTokens, maxTokens int) error {
	info := map[string]any{
		"tool": "aoaibench", "version": Version(), "command": os.Args,
		"settings": c, "seed": seed, "tokenizer": enc, "target": desc,
		"context_tokens": ctxTokens, "max_tokens": maxTokens,
		"start": start.UTC().Format(time.RFC3339Nano),
	}
	js, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("run.json: %w", err)
	}
	return output.WriteFileAtomic(filepath.Join(c.OutputDir, "run.json"), js)
}

func isReasoning(model string) bool {
	m, _ := models.Lookup(model)
	return m.Reasoning
}
