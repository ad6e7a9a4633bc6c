// Package simconfig is the configuration of the built-in simulator's
// deployments: what a plan (run.json), a --sim flag and a --sim-config
// file say of each, with the defaults and checks the simulator applies.
// It is data: the plan holds it without depending on the simulator.
package simconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/ptu"
)

// Duration is a time.Duration written as "200ms" in configuration files.
type Duration time.Duration

// UnmarshalJSON reads "200ms", "1.5s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("duration must be a string like \"200ms\" or seconds, got %s", b)
		}
		*d = Duration(f * float64(time.Second))
		return nil
	}
	v, err := parseDuration(s)
	*d = Duration(v)
	return err
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 200ms or 1.5s)", s)
	}
	return d, nil
}

// Deployment configures one simulated deployment.
type Deployment struct {
	Name  string `json:"name"`
	Model string `json:"model"`
	// Type is "standard" (pay-as-you-go quota in TPM) or "provisioned" (PTUs).
	Type string `json:"type"`

	// Standard: tokens per minute, and requests per minute per 1,000 TPM.
	TPM      int     `json:"tpm"`
	RPMPer1K float64 `json:"rpm_per_1k_tpm"`
	// Provisioned: PTUs and input tokens a minute each PTU serves (the
	// published figure of the model by default, from the ptu table).
	PTU       int `json:"ptu"`
	TPMPerPTU int `json:"tpm_per_ptu"`
	// DeploymentType is a provisioned deployment's type: global (the
	// default), datazone or regional, which decides the PTU counts it can
	// deploy.
	DeploymentType string `json:"deployment_type"`
	// OutputRatio is how many input tokens one output token counts as in
	// a provisioned deployment's utilization (the model's published
	// ratio by default).
	OutputRatio float64 `json:"output_ratio"`

	// Latency: TTFT = TTFT + prompt tokens * Prefill; then ITL per chunk
	// of TokensPerChunk tokens. Jitter is the relative spread (0.1 = ±10%).
	TTFT           Duration `json:"ttft"`
	Prefill        Duration `json:"prefill_per_token"`
	ITL            Duration `json:"itl"`
	Jitter         float64  `json:"jitter"`
	TokensPerChunk int      `json:"tokens_per_chunk"`
	// MaxConcurrency streams run at full speed; more wait in a queue. Each
	// running stream slows decoding by LoadFactor/MaxConcurrency.
	MaxConcurrency int     `json:"max_concurrency"`
	LoadFactor     float64 `json:"load_factor"`
	// Output tokens: max_tokens (or DefaultOutput when none is sent), or
	// uniform in [OutputMin, max_tokens] when OutputMin > 0, like a model
	// that stops early.
	DefaultOutput int `json:"default_output"`
	OutputMin     int `json:"output_min"`
	// DefaultOutputStdev spreads the output of a request that sends no
	// max_tokens: normal around DefaultOutput, truncated to 1 and the
	// context window (0: always DefaultOutput).
	DefaultOutputStdev int `json:"default_output_stdev"`
	ContextWindow      int `json:"context_window"`
	// Prompt caching, as Azure's: a prompt whose first 1,024 tokens match
	// a recent one's has its matching prefix served from the cache, in
	// 128-token steps, reported as usage.prompt_tokens_details.
	// cached_tokens. A cached token's prefill takes CachedPrefill (0: none);
	// a cached prefix lasts CacheTTL after its last use (5m); a
	// provisioned deployment does not count cached tokens in its
	// utilization (Azure discounts them up to 100%).
	NoPromptCache bool     `json:"no_prompt_cache"`
	CachedPrefill Duration `json:"cached_prefill_per_token"`
	CacheTTL      Duration `json:"cache_ttl"`
	// ReasoningTokens are hidden reasoning tokens spent before the first
	// visible token (one ITL each), counted in completion_tokens and in
	// completion_tokens_details.reasoning_tokens, as reasoning models do.
	ReasoningTokens int `json:"reasoning_tokens"`

	// Faults, as shares of requests (0..1).
	Fail5xx     float64  `json:"fail_5xx"`
	CutStream   float64  `json:"cut_stream"`
	Storm429    float64  `json:"storm_429"`
	SlowHeaders float64  `json:"slow_headers"`
	HeaderDelay Duration `json:"header_delay"`

	// Spillover names a standard deployment that takes what this
	// provisioned one throttles, as Azure's spillover does; a request's
	// x-ms-spillover-deployment header names one for that request.
	Spillover string `json:"spillover"`

	// Agents: a request with tools whose tool_choice is auto (or absent)
	// gets a tool call for ToolCallShare of requests (0..1, default 0.5;
	// which ones is decided by a hash of the request, so it replays), and
	// a call's arguments are about ToolArgsTokens tokens (default 40).
	ToolCallShare  *float64 `json:"tool_call_share,omitempty"`
	ToolArgsTokens int      `json:"tool_args_tokens,omitempty"`

	Region string `json:"region"`
	Seed   uint64 `json:"seed"`
}

// DefaultDeployment is the documented default: gpt-4o-mini, standard,
// 200K TPM (1,200 RPM), 150 ms TTFT plus 0.02 ms per prompt token, 10 ms
// per output token, 5% jitter.
func DefaultDeployment() Deployment {
	return Deployment{
		Name: "gpt-4o-mini", Model: "gpt-4o-mini", Type: "standard", TPM: 200_000,
		TTFT: Duration(150 * time.Millisecond), Prefill: Duration(20 * time.Microsecond),
		ITL: Duration(10 * time.Millisecond), Jitter: 0.05,
		MaxConcurrency: 256, LoadFactor: 0.3,
	}
}

// The agent defaults and bounds.
const (
	// DefaultToolCallShare is the share of requests with tools and
	// tool_choice auto that get a tool call.
	DefaultToolCallShare = 0.5
	// DefaultToolArgsTokens is a tool call's arguments' size in tokens.
	DefaultToolArgsTokens = 40
	// MaxToolArgsTokens bounds tool_args_tokens.
	MaxToolArgsTokens = 100_000
)

// fill sets defaults and checks a deployment, with the provisioned
// figures of table (nil: the published ones).
func (d *Deployment) fill(table *ptu.Table) error {
	if d.Name == "" {
		return fmt.Errorf("deployment: name is required")
	}
	if d.Model == "" {
		d.Model = d.Name
	}
	m, ok := models.Lookup(d.Model)
	if !ok {
		return fmt.Errorf("deployment %s: model: unknown model %q (known: %s)", d.Name, d.Model, models.Known)
	}
	if d.Type == "" {
		d.Type = "standard"
	}
	if d.RPMPer1K == 0 {
		d.RPMPer1K = 6
	}
	if d.TokensPerChunk == 0 {
		d.TokensPerChunk = 1
	}
	if d.DefaultOutput == 0 {
		d.DefaultOutput = 256
	}
	if d.CacheTTL == 0 {
		d.CacheTTL = Duration(5 * time.Minute)
	}
	if d.ContextWindow == 0 {
		d.ContextWindow = m.ContextWindow
	}
	if d.Region == "" {
		d.Region = "East US"
	}
	if d.ToolCallShare == nil {
		share := DefaultToolCallShare
		d.ToolCallShare = &share
	}
	if d.ToolArgsTokens == 0 {
		d.ToolArgsTokens = DefaultToolArgsTokens
	}
	switch {
	case d.Type != "standard" && d.Type != "provisioned":
		return fmt.Errorf("deployment %s: type must be standard or provisioned, got %q", d.Name, d.Type)
	case d.Type == "provisioned" && d.PTU <= 0:
		return fmt.Errorf("deployment %s: ptu must be positive for a provisioned deployment", d.Name)
	case d.DefaultOutputStdev < 0 || d.CachedPrefill < 0 || d.CacheTTL < 0:
		return fmt.Errorf("deployment %s: default_output_stdev, cached_prefill_per_token and cache_ttl must not be negative", d.Name)
	case d.TPM < 0 || d.RPMPer1K < 0 || d.TPMPerPTU < 0:
		return fmt.Errorf("deployment %s: tpm, rpm_per_1k_tpm and tpm_per_ptu must not be negative", d.Name)
	case d.TTFT < 0 || d.Prefill < 0 || d.ITL < 0 || d.HeaderDelay < 0:
		return fmt.Errorf("deployment %s: latencies must not be negative", d.Name)
	case d.Jitter < 0 || d.Jitter >= 1:
		return fmt.Errorf("deployment %s: jitter must be in [0, 1), got %g", d.Name, d.Jitter)
	case d.TokensPerChunk < 0 || d.MaxConcurrency < 0 || d.LoadFactor < 0 || d.OutputMin < 0 || d.DefaultOutput < 0 || d.ReasoningTokens < 0:
		return fmt.Errorf("deployment %s: tokens_per_chunk, max_concurrency, load_factor, output_min, default_output and reasoning_tokens must not be negative", d.Name)
	}
	if d.Type == "provisioned" {
		if err := d.fillProvisioned(table); err != nil {
			return fmt.Errorf("deployment %s: %w", d.Name, err)
		}
	} else if d.DeploymentType != "" || d.OutputRatio != 0 {
		return fmt.Errorf("deployment %s: deployment_type and output_ratio are a provisioned deployment's (type=provisioned)", d.Name)
	}
	if d.ToolArgsTokens < 0 || d.ToolArgsTokens > MaxToolArgsTokens {
		return fmt.Errorf("deployment %s: tool_args_tokens must be 1 to %d, got %d", d.Name, MaxToolArgsTokens, d.ToolArgsTokens)
	}
	for name, v := range map[string]float64{"fail_5xx": d.Fail5xx, "cut_stream": d.CutStream, "storm_429": d.Storm429, "slow_headers": d.SlowHeaders, "tool_call_share": *d.ToolCallShare} {
		if !(v >= 0 && v <= 1) { // NaN too
			return fmt.Errorf("deployment %s: %s must be a share between 0 and 1, got %g", d.Name, name, v)
		}
	}
	return nil
}

// Load reads a YAML or JSON file of deployments: {deployments: [...]}.
func Load(path string) ([]Deployment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var c struct {
		Deployments []Deployment `json:"deployments"`
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	if len(c.Deployments) == 0 {
		return nil, fmt.Errorf("--config %s: no deployments", path)
	}
	return c.Deployments, nil
}

// Set applies "key=value,key=value" settings to d, with the JSON field
// names (tpm=20000,ttft=200ms,itl=20ms,type=provisioned,ptu=50...).
func (d *Deployment) Set(spec string) error {
	if strings.TrimSpace(spec) == "" {
		return nil
	}
	m := map[string]any{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return fmt.Errorf("--sim: %q is not key=value", kv)
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = f
		} else if b, err := strconv.ParseBool(v); err == nil {
			m[k] = b
		} else {
			m[k] = v
		}
	}
	// Decoding onto a copy of d changes only the keys given.
	b, _ := json.Marshal(m) // strings and floats always encode
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	nd := *d
	if err := dec.Decode(&nd); err != nil {
		return fmt.Errorf("--sim %s: %w", spec, err)
	}
	if _, itl := m["itl"]; nd.Type == "provisioned" && d.Type != "provisioned" && !itl {
		// A standard deployment's time per token is not a provisioned
		// one's: fill gives it the model's latency target.
		nd.ITL = 0
	}
	*d = nd
	return nil
}

// Quota is a standard deployment's limits per minute: its tokens, and
// the requests they allow (RPMPer1K per 1,000 TPM); zeros for a
// provisioned deployment or an unlimited one.
func (d Deployment) Quota() (tpm, rpm int) {
	if d.Type == "provisioned" || d.TPM <= 0 {
		return 0, 0
	}
	return d.TPM, int(math.Floor(float64(d.TPM) / 1000 * d.RPMPer1K))
}

// Describe says what a deployment is, in one line.
func (d Deployment) Describe() string {
	q := "unlimited quota"
	switch {
	case d.Type == "provisioned":
		q = fmt.Sprintf("provisioned, %d PTU", d.PTU)
		if d.DeploymentType != "" {
			q = fmt.Sprintf("%s provisioned, %d PTU", ptu.Type(d.DeploymentType).Name(), d.PTU)
		}
	case d.TPM > 0:
		q = fmt.Sprintf("standard, %d TPM", d.TPM)
	}
	return fmt.Sprintf("%s (model %s, %s, TTFT %s ms + %s ms a prompt token, %s ms an output token)", d.Name, d.Model, q,
		millis(d.TTFT), millis(d.Prefill), millis(d.ITL))
}

// millis is a latency in milliseconds, as exact as it is: 150, 0.02,
// 30.30303; the unit reports show, where Go's form would be 150ms, 20µs,
// 30.30303ms.
func millis(d Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64)
}

// Fill sets a deployment's defaults and checks it, as the simulator does
// with the published PTU figures.
func (d *Deployment) Fill() error { return d.fill(nil) }

// FillFrom is Fill with the PTU figures of table (nil: the published ones).
func (d *Deployment) FillFrom(table *ptu.Table) error { return d.fill(table) }
