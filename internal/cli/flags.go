package cli

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/traffic"
)

// outputFlags are the flags that may be added to --plan: where a re-run's
// results go, not what it does.
var outputFlags = map[string]bool{"plan": true, "output-dir": true, "log-file": true, "output-format": true,
	"cpu-profile": true, "mem-profile": true, "metrics-listen": true, "metrics-linger": true, "server-metrics": true}

// toPlan turns the command line (and --params, or --plan) into a plan.
// typed are the flags given on the command line. It returns notes for
// stderr.
func (c *LoadCmd) toPlan(env *Env, typed map[string]bool) (*plan.Plan, []string, error) {
	p, notes, err := c.readPlan(typed)
	if err != nil {
		return nil, nil, err
	}
	if p.Load.Shard == nil {
		if p.Load.Shard, err = envShard(env.Getenv); err != nil {
			return nil, nil, err
		}
	}
	if p.Load.Shard != nil && p.Load.Shard.Count > 1 && c.Plan == "" && !typed["seed"] && p.Load.StartAt == "" {
		return nil, nil, usagef("--shard: give --seed N (or --start-at) so that every shard draws the same prompts and arrivals")
	}
	return p, notes, nil
}

// readPlan is the plan from --plan, or from the flags.
func (c *LoadCmd) readPlan(typed map[string]bool) (*plan.Plan, []string, error) {
	if c.Plan == "" {
		return c.LoadFlags.toPlan(typed)
	}
	{
		for name := range typed {
			if !outputFlags[name] {
				return nil, nil, usagef("--plan runs a plan as it is: --%s cannot change it (only --output-dir, --log-file, --output-format and the metrics flags may be added)", name)
			}
		}
		if c.Endpoint != "" {
			return nil, nil, usagef("--plan runs a plan as it is: give no URL")
		}
		p, err := plan.Read(c.Plan)
		if err != nil {
			return nil, nil, err
		}
		p.Output.Dir, p.Output.LogFile, p.Output.MetricsListen, p.Output.MetricsLinger = c.OutputDir, c.LogFile, c.MetricsListen, c.MetricsLinger
		if typed["server-metrics"] {
			p.Output.ServerMetrics = c.ServerMetrics
		}
		if typed["output-format"] {
			p.Output.Format = c.OutputFormat
		}
		return p, nil, nil
	}
}

// parseShard reads --shard I/N; "" is no shard.
func parseShard(s string) (*plan.Shard, error) {
	if s == "" {
		return nil, nil
	}
	i, n, ok := strings.Cut(s, "/")
	a, err1 := strconv.Atoi(strings.TrimSpace(i))
	b, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || b < 1 || a < 0 || a >= b || b > plan.MaxShards {
		return nil, usagef("--shard %q: want I/N with 0 <= I < N <= %d (e.g. 0/4)", s, plan.MaxShards)
	}
	return &plan.Shard{Index: a, Count: b}, nil
}

// envShard is the shard the environment names: $JOB_COMPLETION_INDEX (a
// Kubernetes Indexed Job's) of $AOAIBENCH_SHARDS; nil when
// AOAIBENCH_SHARDS is not set.
func envShard(getenv func(string) string) (*plan.Shard, error) {
	n := getenv("AOAIBENCH_SHARDS")
	if n == "" {
		return nil, nil
	}
	i := getenv("JOB_COMPLETION_INDEX")
	if i == "" {
		return nil, usagef("$AOAIBENCH_SHARDS is %s but $JOB_COMPLETION_INDEX is not set: which shard is this?", n)
	}
	sh, err := parseShard(i + "/" + n)
	if err != nil {
		return nil, usagef("$JOB_COMPLETION_INDEX/$AOAIBENCH_SHARDS: %v", strings.TrimPrefix(err.Error(), "--shard "))
	}
	return sh, nil
}

// toPlan turns the run's flags (and --params) into a plan.
func (c *LoadFlags) toPlan(typed map[string]bool) (*plan.Plan, []string, error) {
	var notes []string
	if c.Params != "" {
		var err error
		if notes, err = c.applyParams(typed); err != nil {
			return nil, nil, err
		}
	}
	if typed["clients"] && c.Clients < 1 {
		// 0 is the plan's "not given": typed, it is bad input.
		return nil, nil, usagef("--clients must be at least 1, got %d", c.Clients)
	}
	if c.HTTP11 && c.HTTP2 {
		return nil, nil, usagef("--http1.1 and --http2 are each other's opposite: give one")
	}
	if c.Dataset != "" || c.Trace != "" {
		// The file gives the prompts; --max-tokens may still override a
		// dataset's output lengths.
		for _, f := range []string{"context-tokens", "shape-profile", "synthetic"} {
			if typed[f] {
				what := "--dataset"
				if c.Trace != "" {
					what = "--trace"
				}
				return nil, nil, usagef("%s gives the prompts: --%s does not apply", what, f)
			}
		}
		if c.Trace != "" && typed["max-tokens"] {
			return nil, nil, usagef("--trace gives each request's output length: --max-tokens does not apply")
		}
	}
	if c.Synthetic != "" {
		for _, f := range []string{"context-tokens", "max-tokens", "shape-profile"} {
			if typed[f] {
				return nil, nil, usagef("--synthetic gives the lengths: --%s does not apply", f)
			}
		}
	}
	var dsMax int
	if c.Dataset != "" && c.MaxTokens != nil {
		if *c.MaxTokens < 1 {
			return nil, nil, usagef("--max-tokens must be at least 1, got %d", *c.MaxTokens)
		}
		dsMax, c.MaxTokens = *c.MaxTokens, nil
	}
	ctx, maxTokens, err := c.shape()
	if err != nil {
		return nil, nil, err
	}
	shard, err := parseShard(c.Shard)
	if err != nil {
		return nil, nil, err
	}
	if c.StartAt != "" {
		// One instant, one spelling: shards given 17:00+01:00 and 16:00Z
		// run one plan with one seed.
		if t, err := time.Parse(time.RFC3339Nano, c.StartAt); err == nil {
			c.StartAt = t.UTC().Format(time.RFC3339Nano)
		}
	}
	seed := rand.Uint64()
	if c.StartAt != "" {
		// Shards must draw the same prompts and arrivals: without --seed,
		// the time they start at is what they share.
		h := fnv.New64a()
		h.Write([]byte(c.StartAt))
		seed = h.Sum64()
	}
	if c.Seed != nil {
		seed = *c.Seed
	}
	p := &plan.Plan{
		Schema: plan.Version,
		Target: plan.Target{
			URL: c.Endpoint, API: c.API, Deployment: c.Deployment, Model: c.Model, APIVersion: c.APIVersion,
			KeyEnv: c.APIKeyEnv, HTTP2: c.HTTP2, Connections: c.Connections,
			Auth: c.Auth, Headers: c.Header, Spillover: c.Spillover,
		},
		Workload: plan.Workload{
			Shape: c.ShapeProfile, ContextTokens: ctx, MaxTokens: maxTokens, Completions: c.Completions,
			FrequencyPenalty: c.FrequencyPenalty, PresencePenalty: c.PresencePenalty, Temperature: c.Temperature, TopP: c.TopP,
			Tokenizer: c.Tokenizer, Seed: seed,
		},
		Load: plan.Load{
			Rate: c.Rate, Clients: c.Clients, Requests: c.Requests, Duration: c.Duration,
			RequestTimeout: c.RequestTimeout, DrainTimeout: c.DrainTimeout, Retry: c.Retry, NoCheck: c.NoProbe,
			Shard: shard, StartAt: c.StartAt,
		},
		SLO: plan.SLO{TTFT: c.SLOTTFT, TPOT: c.SLOTPOT, E2E: c.SLOE2E},
		Output: plan.Output{Dir: c.OutputDir, LogFile: c.LogFile, Format: c.OutputFormat, Window: c.AggregationWindow, MetricsListen: c.MetricsListen, MetricsLinger: c.MetricsLinger,
			ServerMetrics: c.ServerMetrics},
	}
	if c.Rate != nil {
		p.Load.Arrival = c.Arrival
	}
	t := &c.TrafficFlags
	w := &p.Workload
	w.Synthetic, w.PrefixTokens, w.Prefixes, w.Turns, w.ThinkTime, w.LogContent =
		t.Synthetic, t.PrefixTokens, t.Prefixes, t.Turns, t.ThinkTime, t.LogRequestContent
	w.Endpoint, w.NoStream, w.EmbeddingBatch = c.EndpointType, c.NoStream, c.EmbeddingBatch
	if t.Dataset != "" {
		w.Dataset = &plan.Dataset{Path: t.Dataset, Format: t.DatasetFormat, Shuffle: t.DatasetShuffle, SkipBad: t.DatasetSkipBad, MaxTokens: dsMax}
		w.Shape = "dataset"
	} else {
		for _, f := range []string{"dataset-format", "dataset-shuffle", "dataset-skip-bad"} {
			if typed[f] {
				return nil, nil, usagef("--%s needs --dataset", f)
			}
		}
	}
	if t.Synthetic != "" {
		w.Shape = "synthetic"
	}
	if t.Trace != "" {
		if !(t.TraceSpeed > 0) {
			return nil, nil, usagef("--trace-speed must be a positive factor, got %g", t.TraceSpeed)
		}
		p.Load.Trace = &plan.Trace{Path: t.Trace, Speed: t.TraceSpeed, Block: t.TraceBlock}
		w.Shape = "trace"
	} else {
		for _, f := range []string{"trace-speed", "trace-block"} {
			if typed[f] {
				return nil, nil, usagef("--%s needs --trace", f)
			}
		}
	}
	if c.Stages != "" {
		if p.Load.Stages, p.Load.StageClients, err = plan.ParseStages("--stages", c.Stages); err != nil {
			return nil, nil, err
		}
		p.Load.StartRate = c.StartRate
		if !p.Load.StageClients {
			p.Load.Arrival = "constant"
		}
	}
	p.Load.Warmup = c.Warmup
	p.Normalize()
	if c.SLO != "" {
		if p.SLO.Thresholds, err = plan.ParseThresholds("--slo", c.SLO); err != nil {
			return nil, nil, err
		}
	}
	if c.Endpoint == "" {
		if p.Target.Sim, err = c.SimFlags.deployments(c.Deployment, c.Model); err != nil {
			return nil, nil, err
		}
		p.Target.KeyEnv = ""
	} else {
		for _, f := range []string{"sim", "sim-tpm", "sim-ttft", "sim-itl", "sim-config"} {
			if typed[f] {
				return nil, nil, usagef("--%s sets the built-in simulator, which runs only when no URL is given", f)
			}
		}
	}
	return p, notes, nil
}

// shape resolves the shape profile into context and max tokens.
func (c *LoadFlags) shape() (context, maxTokens int, err error) {
	name := c.ShapeProfile
	if name == "" {
		name = "balanced"
		if c.ContextTokens != nil || c.MaxTokens != nil {
			name = "custom"
		}
	}
	c.ShapeProfile = name
	if c.MaxTokens != nil && *c.MaxTokens < 1 {
		return 0, 0, usagef("--max-tokens must be at least 1, got %d", *c.MaxTokens)
	}
	if name != "custom" {
		if c.ContextTokens != nil || c.MaxTokens != nil {
			return 0, 0, usagef("--context-tokens and --max-tokens need --shape-profile custom, not %s", name)
		}
		s := traffic.Shapes[name]
		return s.Context, s.MaxTokens, nil
	}
	if c.ContextTokens == nil {
		return 0, 0, usagef("--shape-profile custom needs --context-tokens (-p)")
	}
	if *c.ContextTokens < traffic.MinContext {
		return 0, 0, usagef("--context-tokens must be at least %d (chat overhead included), got %d", traffic.MinContext, *c.ContextTokens)
	}
	if c.MaxTokens != nil {
		if *c.MaxTokens < 1 {
			return 0, 0, usagef("--max-tokens must be at least 1, got %d", *c.MaxTokens)
		}
		maxTokens = *c.MaxTokens
	}
	return *c.ContextTokens, maxTokens, nil
}
