package cli

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
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

// toPlan turns the run's flags (and --params) into a plan: the flags
// are mapped to the plan's fields, and only what exists on the command
// line alone is checked here (flags that exclude or need each other);
// the plan's Normalize fills its defaults and its Validate checks its
// values, when the run is made.
func (c *LoadFlags) toPlan(typed map[string]bool) (*plan.Plan, []string, error) {
	var notes []string
	if c.Params != "" {
		var err error
		if notes, err = c.applyParams(typed); err != nil {
			return nil, nil, err
		}
	}
	if err := c.exclusions(typed); err != nil {
		return nil, nil, err
	}
	shard, err := parseShard(c.Shard)
	if err != nil {
		return nil, nil, err
	}
	p := &plan.Plan{
		Schema: plan.Version,
		Target: plan.Target{
			URL: c.Endpoint, API: c.API, Deployment: c.Deployment, Model: c.Model, APIVersion: c.APIVersion,
			KeyEnv: c.APIKeyEnv, HTTP2: c.HTTP2, Connections: c.Connections,
			Auth: c.Auth, Headers: c.Header, Spillover: c.Spillover,
		},
		Workload: plan.Workload{
			Completions:      c.Completions,
			FrequencyPenalty: c.FrequencyPenalty, PresencePenalty: c.PresencePenalty, Temperature: c.Temperature, TopP: c.TopP,
			Tokenizer: c.Tokenizer, Seed: c.seed(),
			Endpoint: c.EndpointType, NoStream: c.NoStream, EmbeddingBatch: c.EmbeddingBatch,
		},
		Load: plan.Load{
			Rate: c.Rate, Clients: c.Clients, Requests: c.Requests, Duration: c.Duration, Warmup: c.Warmup,
			RequestTimeout: c.RequestTimeout, DrainTimeout: c.DrainTimeout, Retry: c.Retry, NoCheck: c.NoProbe,
			Shard: shard, StartAt: c.StartAt,
		},
		SLO: plan.SLO{TTFT: c.SLOTTFT, TPOT: c.SLOTPOT, E2E: c.SLOE2E},
		Output: plan.Output{Dir: c.OutputDir, LogFile: c.LogFile, Format: c.OutputFormat, Window: c.AggregationWindow,
			MetricsListen: c.MetricsListen, MetricsLinger: c.MetricsLinger, ServerMetrics: c.ServerMetrics},
	}
	if c.Rate != nil {
		p.Load.Arrival = c.Arrival
	}
	for _, step := range []func(*plan.Plan, map[string]bool) error{c.prompts, c.schedule, c.objectives, c.simulator} {
		if err := step(p, typed); err != nil {
			return nil, nil, err
		}
	}
	p.Normalize()
	return p, notes, nil
}

// exclusions checks the flags that exclude or need each other, and
// flags whose 0 the plan reads as "not given" (its Normalize would fill
// the default): typed, a 0 is bad input.
func (c *LoadFlags) exclusions(typed map[string]bool) error {
	for _, z := range []struct {
		flag, want string
		bad        bool
		got        any
	}{
		{"clients", "at least 1", c.Clients < 1, c.Clients}, {"completions", "between 1 and 128", c.Completions == 0, 0},
		{"aggregation-window", "positive", c.AggregationWindow <= 0, c.AggregationWindow}, {"request-timeout", "positive", c.RequestTimeout <= 0, c.RequestTimeout},
		{"trace-speed", "a positive factor", c.TraceSpeed == 0, 0}, {"trace-block", "from 1 to 1048576 tokens", c.TraceBlock == 0, 0},
		{"tool-result-tokens", "from 1 to 1000000", c.ToolResultTokens == 0, 0}, {"image-size", "WIDTHxHEIGHT (e.g. 1024x1024)", c.ImageSize == "", `""`},
	} {
		if typed[z.flag] && z.bad {
			return usagef("--%s must be %s, got %v", z.flag, z.want, z.got)
		}
	}
	switch {
	case c.MaxTokens != nil && *c.MaxTokens < 1:
		return usagef("--max-tokens must be at least 1, got %d", *c.MaxTokens)
	case c.HTTP11 && c.HTTP2:
		return usagef("--http1.1 and --http2 are each other's opposite: give one")
	case c.Trace != "" && typed["max-tokens"]:
		return usagef("--trace gives each request's output length: --max-tokens does not apply")
	}
	needs := map[string][]string{
		"--dataset": {"context-tokens", "shape-profile", "synthetic"}, "--trace": {"context-tokens", "shape-profile", "synthetic"},
		"--synthetic": {"context-tokens", "max-tokens", "shape-profile"},
	}
	for _, src := range []struct {
		flag  string
		given bool
	}{{"--dataset", c.Dataset != ""}, {"--trace", c.Trace != ""}, {"--synthetic", c.Synthetic != ""}} {
		for _, f := range needs[src.flag] {
			if src.given && typed[f] {
				return usagef("%s gives the prompts' lengths: --%s does not apply", src.flag, f)
			}
		}
	}
	for flag, needed := range map[string][]string{"dataset": {"dataset-format", "dataset-shuffle", "dataset-skip-bad"}, "trace": {"trace-speed", "trace-block"}} {
		for _, f := range needed {
			if typed[f] && (flag == "dataset" && c.Dataset == "" || flag == "trace" && c.Trace == "") {
				return usagef("--%s needs --%s", f, flag)
			}
		}
	}
	if c.Endpoint != "" {
		for _, f := range []string{"sim", "sim-tpm", "sim-ttft", "sim-itl", "sim-config"} {
			if typed[f] {
				return usagef("--%s sets the built-in simulator, which runs only when no URL is given", f)
			}
		}
	}
	return nil
}

// seed is the run's seed: --seed, else one --start-at gives all shards
// (the time they start at is what they share, so that they draw the same
// prompts and arrivals), else a random one (recorded in run.json).
func (c *LoadFlags) seed() uint64 {
	if c.StartAt != "" {
		// One instant, one spelling: shards given 17:00+01:00 and 16:00Z
		// run one plan with one seed.
		if t, err := time.Parse(time.RFC3339Nano, c.StartAt); err == nil {
			c.StartAt = t.UTC().Format(time.RFC3339Nano)
		}
	}
	switch {
	case c.Seed != nil:
		return *c.Seed
	case c.StartAt != "":
		h := fnv.New64a()
		h.Write([]byte(c.StartAt))
		return h.Sum64()
	}
	return rand.Uint64()
}

// prompts maps what each request asks: a shape's lengths, a dataset, a
// distribution, a trace, shared prefixes, conversations.
func (c *LoadFlags) prompts(p *plan.Plan, _ map[string]bool) error {
	t, w := &c.TrafficFlags, &p.Workload
	w.Synthetic, w.PrefixTokens, w.Prefixes, w.Turns, w.ThinkTime, w.LogContent =
		t.Synthetic, t.PrefixTokens, t.Prefixes, t.Turns, t.ThinkTime, t.LogRequestContent
	w.Tools, w.ToolChoice, w.ToolResultTokens, w.ResponseFormat, w.Images, w.ImageSize, w.ImageDetail =
		t.Tools, t.ToolChoice, t.ToolResultTokens, t.ResponseFormat, t.Images, t.ImageSize, t.ImageDetail
	switch {
	case t.Dataset != "":
		// The file gives the prompts; --max-tokens may still override
		// its rows' output lengths.
		w.Shape = "dataset"
		w.Dataset = &plan.Dataset{Path: t.Dataset, Format: t.DatasetFormat, Shuffle: t.DatasetShuffle, SkipBad: t.DatasetSkipBad}
		if c.MaxTokens != nil {
			w.Dataset.MaxTokens = *c.MaxTokens
		}
		return nil
	case t.Trace != "":
		w.Shape = "trace"
		p.Load.Trace = &plan.Trace{Path: t.Trace, Speed: t.TraceSpeed, Block: t.TraceBlock}
		return nil
	case t.Synthetic != "":
		w.Shape = "synthetic"
		return nil
	}
	var err error
	w.Shape, w.ContextTokens, w.MaxTokens, err = c.shape()
	return err
}

// shape resolves the shape profile into context and max tokens: a
// profile's, or custom's flags, which need each other.
func (c *LoadFlags) shape() (name string, context, maxTokens int, err error) {
	name = c.ShapeProfile
	if name == "" {
		name = plan.DefaultShape
		if c.ContextTokens != nil || c.MaxTokens != nil {
			name = "custom"
		}
	}
	if s, ok := plan.ShapeOf(name); ok {
		if c.ContextTokens != nil || c.MaxTokens != nil {
			return "", 0, 0, usagef("--context-tokens and --max-tokens need --shape-profile custom, not %s", name)
		}
		return name, s.Context, s.MaxTokens, nil
	}
	if c.ContextTokens == nil {
		return "", 0, 0, usagef("--shape-profile custom needs --context-tokens (-p)")
	}
	if c.MaxTokens != nil {
		maxTokens = *c.MaxTokens
	}
	return name, *c.ContextTokens, maxTokens, nil
}

// schedule maps a ramp's stages.
func (c *LoadFlags) schedule(p *plan.Plan, _ map[string]bool) error {
	if c.Stages == "" {
		return nil
	}
	var err error
	if p.Load.Stages, p.Load.StageClients, err = plan.ParseStages("--stages", c.Stages); err != nil {
		return err
	}
	p.Load.StartRate = c.StartRate
	return nil
}

// objectives maps --slo's whole-run objectives.
func (c *LoadFlags) objectives(p *plan.Plan, _ map[string]bool) error {
	if c.SLO == "" {
		return nil
	}
	var err error
	p.SLO.Thresholds, err = metrics.ParseThresholds("--slo", c.SLO)
	return err
}

// simulator maps the built-in simulator's deployments, when no URL is
// given; such a run has no key.
func (c *LoadFlags) simulator(p *plan.Plan, _ map[string]bool) error {
	if c.Endpoint != "" {
		return nil
	}
	var err error
	if p.Target.Sim, err = c.SimFlags.deployments(c.Deployment, c.Model); err != nil {
		return err
	}
	p.Target.KeyEnv = ""
	return nil
}
