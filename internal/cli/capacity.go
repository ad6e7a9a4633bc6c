package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/atomicfile"

	"github.com/alecthomas/kong"

	"github.com/aoaibench/aoaibench/internal/capacity"
	"github.com/aoaibench/aoaibench/internal/console"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// StepFlags are the flags of a sequence of steps.
type StepFlags struct {
	StepDuration plan.Duration `default:"1m" placeholder:"TIME" help:"How long each step sends and is measured, after its --warmup (--warmup 1m lets a standard deployment's sliding minute of tokens forget the step before)."`
	ShortSteps   bool          `help:"Allow steps shorter than a standard deployment's minute: their per-minute rates are scaled from less than the quota counts (a rate over the quota still fails its step)."`
}

// SweepCmd is `aoaibench sweep`: one open-loop step per rate.
type SweepCmd struct {
	Rates       string `placeholder:"LIST" help:"Rates to step through, requests per minute: 10,20,40,80, or FROM:TO:STEP (10:200:10)."`
	ClientsList string `name:"clients-list" placeholder:"LIST" help:"Instead of rates, closed-loop steps of these client counts: 1,2,4,8."`
	StepFlags   `embed:""`
	LoadFlags   `embed:""`
}

// Help is the command's example.
func (c *SweepCmd) Help() string {
	return `Steps one after another, each --warmup + --step-duration long, each in
its own directory under --output-dir, with sweep.json and a table of
achieved RPM, TPM and latency against the offered rate.

Examples:
  aoaibench sweep --rates 10,20,40,80 --step-duration 30s --output-dir sweep1
  aoaibench sweep --rates 60:600:60 -e gpt-4o --output-dir sweep2 \
    https://NAME.openai.azure.com
  aoaibench report sweep1          # the capacity curve`
}

// SearchCmd is `aoaibench search`: the highest rate that meets the
// objectives.
type SearchCmd struct {
	Min        float64 `default:"10" placeholder:"RPM" help:"The lowest rate searched (and the first probe)."`
	Max        float64 `default:"100000" placeholder:"RPM" help:"The highest rate searched."`
	Tolerance  string  `default:"5%" placeholder:"PCT" help:"Stop when the bracket between the highest passing and the lowest failing rate is this narrow."`
	MaxProbes  int     `default:"20" placeholder:"N" help:"Stop after this many probes."`
	PTUWarmup  bool    `name:"ptu-warmup" help:"Before each probe, send at twice its rate until the first 429 (at most 3 minutes): a provisioned deployment's bucket is then full, and the probe sees its steady state."`
	StepFlags  `embed:""`
	LoadFlags  `embed:""`
	objectives []plan.Threshold
}

// Help is the command's example.
func (c *SearchCmd) Help() string {
	return `Brackets the rate by doubling from --min until a probe fails, then
bisects until the bracket is within --tolerance. Each probe is an open-loop
step of --warmup + --step-duration; it passes when it meets every --slo
objective (default throttled<=1%,failed<=1%) and the load generator kept up.
Exit status 0 when a rate passed, 99 when none did.

Examples:
  aoaibench search --slo 'ttft_p95<=2s,throttled<=1%' --step-duration 20s
  aoaibench search -e gpt-4o --slo 'throttled<=1%' --output-dir search1 \
    https://NAME.openai.azure.com`
}

// defaultObjectives are a search's when --slo gives none.
const defaultObjectives = "throttled<=1%,failed<=1%"

// defaultStepWarmup is a step's warmup when --warmup is not given: enough
// for a standard deployment's request windows (1 or 10 s) to forget the
// step before; a quota of tokens, a sliding minute, needs --warmup 1m.
const defaultStepWarmup = plan.Duration(10e9)

// steps prepares the plans of a sequence of steps: the base plan from the
// flags, a shared simulator when there is no URL, and the output
// directory. It returns a function making step i's plan at rate.
func (f *LoadFlags) steps(env *Env, kctx *kong.Context, sf StepFlags, what string) (func(i int, rate float64, clients bool) *plan.Plan, *sim.Running, error) {
	typed := typedFlags(kctx)
	for _, name := range []string{"rate", "stages", "requests", "duration", "log-file"} {
		if typed[name] {
			return nil, nil, usagef("--%s does not apply to %s: each step is --warmup + --step-duration long, at the step's rate", name, what)
		}
	}
	if sf.StepDuration <= 0 {
		return nil, nil, usagef("--step-duration must be positive, got %s", sf.StepDuration)
	}
	if sf.StepDuration.D() < time.Minute && !sf.ShortSteps && standardQuota(f) {
		return nil, nil, usagef("--step-duration %s is shorter than a standard deployment's quota minute: a step's per-minute rates would be scaled from less than the quota counts; give 1m or more, or --short-steps", sf.StepDuration)
	}
	if !typed["warmup"] {
		// A step follows a step that may have spent the quota: its first
		// seconds would see 429s it did not cause.
		f.Warmup = defaultStepWarmup
	}
	one := 1.0 // any rate: the base plan is checked as a step would be
	f.Rate = &one
	f.Duration = sf.StepDuration + f.Warmup
	base, notes, err := f.toPlan(typed)
	if err != nil {
		return nil, nil, err
	}
	// The steps are judged by the sweep or search, not each by itself.
	base.SLO.Thresholds = nil
	if err := base.Validate(0); err != nil {
		return nil, nil, err
	}
	for _, n := range notes {
		fmt.Fprintln(env.Stderr, n)
	}
	var running *sim.Running
	if base.Target.URL == "" {
		if running, err = sim.Start(sim.Config{Deployments: base.Target.Sim, Precise: true}, "127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		console.Note(env.Stderr, fmt.Sprintf("no endpoint given: %s against the built-in simulator, deployment %s at %s", what, base.Target.Sim[0].Describe(), running.URL()))
	}
	if base.Output.Dir != "" {
		if err := os.MkdirAll(base.Output.Dir, 0o755); err != nil {
			return nil, nil, usagef("--output-dir: %v", err)
		}
	}
	mk := func(i int, rate float64, clients bool) *plan.Plan {
		p := *base
		p.Load.Rate, p.Load.Stages = nil, nil
		if clients {
			p.Load.Clients = int(rate)
		} else {
			r := rate
			p.Load.Rate = &r
		}
		if p.Output.Dir != "" {
			unit := "rpm"
			if clients {
				unit = "clients"
			}
			p.Output.Dir = filepath.Join(base.Output.Dir, fmt.Sprintf("step-%02d-%s%s", i, strconv.FormatFloat(rate, 'f', -1, 64), unit))
		}
		return &p
	}
	return mk, running, nil
}

// stepFunc runs the steps' plans with the command line's sinks, one line
// each on stderr.
func stepFunc(env *Env, f *LoadFlags, mk func(int, float64, bool) *plan.Plan, running *sim.Running, clients bool, total func() string) capacity.StepFunc {
	return func(ctx context.Context, i int, rate float64) (*metrics.Results, string, error) {
		p := mk(i, rate, clients)
		unit := "RPM"
		if clients {
			unit = "clients"
		}
		label := fmt.Sprintf("step %d%s at %s %s", i, total(), strconv.FormatFloat(rate, 'f', -1, 64), unit)
		o, err := runPlan(env, p, stepOpts{fileKey: f.fileKey, sim: running, step: label})
		if err != nil {
			return nil, "", err
		}
		if o.err != nil {
			return nil, "", o.err
		}
		if o.Fatal != nil {
			return nil, "", o.Fatal
		}
		if o.Input != nil {
			return nil, "", o.Input
		}
		res := o.Results
		if res.Stopped == metrics.StopSignal {
			return nil, "", errInterrupted
		}
		console.StepLine(o.errw, label, res)
		return res, p.Output.Dir, nil
	}
}

var errInterrupted = errors.New("interrupted")

// Run runs the sweep.
func (c *SweepCmd) Run(env *Env, kctx *kong.Context) error {
	var rates []float64
	clients := c.ClientsList != ""
	var err error
	switch {
	case c.Rates != "" && clients:
		return usagef("--rates and --clients-list are each a sweep: give one")
	case clients:
		if rates, err = capacity.ParseRates("--clients-list", c.ClientsList); err != nil {
			return err
		}
		for _, n := range rates {
			if n != math.Trunc(n) || n > 1_000_000 {
				return usagef("--clients-list: %g is not a whole number of clients", n)
			}
		}
	case c.Rates != "":
		if rates, err = capacity.ParseRates("--rates", c.Rates); err != nil {
			return err
		}
	default:
		return usagef("sweep needs --rates (10,20,40 or 10:200:10) or --clients-list")
	}
	// Steps are judged as a search's are: by --slo, else the default
	// objectives; a step over the quota or behind its schedule fails.
	slo := cmp.Or(c.SLO, defaultObjectives)
	objectives, err := metrics.ParseThresholds("--slo", slo)
	if err != nil {
		return err
	}
	mk, running, err := c.LoadFlags.steps(env, kctx, c.StepFlags, "sweep")
	if err != nil {
		return err
	}
	if running != nil {
		defer running.Stop()
	}
	total := func() string { return fmt.Sprintf("/%d", len(rates)) }
	probes, err := capacity.Sweep(context.Background(), rates, objectives, stepFunc(env, &c.LoadFlags, mk, running, clients, total))
	if errors.Is(err, errInterrupted) {
		fmt.Fprintln(env.Stderr, "sweep: interrupted: the steps done are kept")
	} else if err != nil {
		return err
	}
	console.Steps(env.Stderr, probes, clients)
	console.Note(env.Stderr, fmt.Sprintf("sweep: steps judged by %s, the quota and the load generator", slo))
	if c.OutputDir != "" {
		f := capacity.SweepFile{Schema: capacity.FileVersion, Kind: "sweep", Clients: clients, Objectives: slo, Probes: probes}
		if err := writeJSON(filepath.Join(c.OutputDir, "sweep.json"), f); err != nil {
			return err
		}
		console.Note(env.Stderr, fmt.Sprintf("sweep: results in %s (sweep.json, a directory per step); aoaibench report %s draws the capacity curve", c.OutputDir, c.OutputDir))
	}
	// A step that did not send its rate did not test it: the sweep's
	// figures are not valid for the rates asked.
	for _, p := range probes {
		if p.Results != nil && !p.Results.Valid {
			return exitError{code: ExitInvalid, msg: fmt.Sprintf("the figures of step %s are NOT VALID for its rate: %s", strconv.FormatFloat(p.Rate, 'f', -1, 64), strings.Join(p.Results.Invalid, "; "))}
		}
	}
	return nil
}

// Run runs the search.
func (c *SearchCmd) Run(env *Env, kctx *kong.Context) error {
	slo := c.SLO
	if slo == "" {
		slo = defaultObjectives
	}
	objectives, err := metrics.ParseThresholds("--slo", slo)
	if err != nil {
		return err
	}
	tol, err := parsePercent("--tolerance", c.Tolerance)
	if err != nil {
		return err
	}
	if !(c.Min > 0) || !(c.Max >= c.Min) || c.Max > plan.MaxRate {
		return usagef("--min and --max: want 0 < min <= max <= %g, got %g and %g", float64(plan.MaxRate), c.Min, c.Max)
	}
	if c.MaxProbes < 1 {
		return usagef("--max-probes must be at least 1, got %d", c.MaxProbes)
	}
	if c.Stages != "" {
		return usagef("--stages does not apply to search: each probe is at one rate")
	}
	mk, running, err := c.LoadFlags.steps(env, kctx, c.StepFlags, "search")
	if err != nil {
		return err
	}
	if running != nil {
		defer running.Stop()
	}
	if c.PTUWarmup && c.StepDuration.D().Minutes() < 1 {
		fmt.Fprintln(env.Stderr, "note: a provisioned deployment's bucket holds a minute of capacity: steps shorter than a minute may not see it overflow")
	}
	console.Note(env.Stderr, fmt.Sprintf("search: the highest rate from %g to %g RPM meeting %s, within %s; %s a probe", c.Min, c.Max, slo, c.Tolerance, c.StepDuration+c.Warmup))
	step := stepFunc(env, &c.LoadFlags, mk, running, false, func() string { return "" })
	if c.PTUWarmup {
		step = fillFirst(env, &c.LoadFlags, mk, running, step)
	}
	found, err := capacity.Search{Min: c.Min, Max: c.Max, Tolerance: tol, MaxProbes: c.MaxProbes}.Run(context.Background(), objectives, step)
	if errors.Is(err, errInterrupted) {
		fmt.Fprintln(env.Stderr, "search: interrupted")
		return exitError{code: ExitFailed, msg: "search interrupted: no answer"}
	}
	if err != nil && !errors.Is(err, capacity.ErrNoRate) {
		return err
	}
	console.Steps(env.Stderr, found.Probes, false)
	if c.OutputDir != "" {
		if err := writeJSON(filepath.Join(c.OutputDir, "search.json"), found.File(slo, tol)); err != nil {
			return err
		}
	}
	console.Answer(env.Stdout, found, slo, c.Min, c.Tolerance)
	if errors.Is(err, capacity.ErrNoRate) {
		return exitError{code: ExitSLO}
	}
	// An answer bounded by the load generator is this machine's, not the
	// endpoint's: not valid for the rates asked.
	if found.BoundedByGenerator() {
		return exitError{code: ExitInvalid, msg: "the answer is bounded by the load generator, not the endpoint"}
	}
	return nil
}

// fillFirst wraps a step so that it starts on a full provisioned bucket:
// it first sends at twice the step's rate until the first 429, or for
// three minutes at most, leaving that out of the step.
func fillFirst(env *Env, f *LoadFlags, mk func(int, float64, bool) *plan.Plan, running *sim.Running, step capacity.StepFunc) capacity.StepFunc {
	return func(ctx context.Context, i int, rate float64) (*metrics.Results, string, error) {
		p := mk(i, 2*rate, false)
		p.Output.Dir = ""
		p.Load.Duration = plan.Duration(3 * 60e9)
		p.Load.Warmup = 0
		o, err := runPlanUntil429(env, p, f.fileKey, running)
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(env.Stderr, "probe %d: filled the bucket at %g RPM in %.1f s (%d requests, %d throttled)\n", i, 2*rate,
			o.Results.Duration.F(), o.Results.Requests.Sent, o.Results.Requests.Throttled)
		return step(ctx, i, rate)
	}
}

// runPlanUntil429 runs a plan and stops its dispatch at the first 429.
func runPlanUntil429(env *Env, p *plan.Plan, fileKey string, running *sim.Running) (*ran, error) {
	p.Output.Format = "jsonl"
	devnull := *env
	devnull.Stdout = io.Discard
	return runPlanStop(&devnull, p, stepOpts{fileKey: fileKey, sim: running, step: "fill"}, func(r *metrics.Record) bool { return r.Throttles > 0 })
}

// standardQuota reports whether the flags test a deployment with a
// standard Azure quota, counted over a sliding minute: the simulator's
// standard deployment, or an endpoint spoken to as Azure (a provisioned
// one cannot be told from its URL: --short-steps allows short steps).
func standardQuota(f *LoadFlags) bool {
	if f.Endpoint == "" {
		d, err := f.SimFlags.deployments(f.Deployment, f.Model)
		if err != nil || len(d) == 0 {
			return false // the plan's check says what is wrong
		}
		tpm, _ := d[0].Quota()
		return tpm > 0
	}
	return strings.Contains(f.Endpoint, ".azure.com") || strings.Contains(f.Endpoint, ".azure-api.net") || f.API == "azure" || f.API == "azure-v1"
}

func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return atomicfile.Write(path, js)
}

// parsePercent reads "5%" or "0.05".
func parsePercent(flag, s string) (float64, error) {
	v, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(v, 64)
	if pct {
		f /= 100
	}
	if err != nil || !(f > 0) || f >= 1 {
		return 0, usagef("%s: %q is not a share between 0 and 100%% (e.g. 5%%)", flag, s)
	}
	return f, nil
}
