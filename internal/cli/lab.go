package cli

import (
	"bufio"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/term"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/report"
)

// LabCmd is `aoaibench lab`: the seed workshop's whole scenario in one
// command.
type LabCmd struct {
	Duration   plan.Duration `default:"3m" placeholder:"TIME" help:"Length of each run (the lab's is 180 s)."`
	Dir        string        `default:"lab" type:"path" placeholder:"DIR" help:"Directory for the logs, run directories and report."`
	Endpoint   string        `placeholder:"URL" help:"Run against this real Azure OpenAI endpoint instead of the simulator."`
	Deployment string        `short:"e" default:"gpt-35-turbo-16k" placeholder:"NAME" help:"Deployment name."`
	Model      string        `default:"gpt-35-turbo-16k" placeholder:"MODEL" help:"Model behind the deployment (sets the tokenizer)."`
	APIKeyEnv  string        `short:"k" default:"OPENAI_API_KEY" placeholder:"VAR" help:"Environment variable that holds the API key (real endpoint)."`
	APIVersion string        `short:"a" default:"2024-10-21" placeholder:"VERSION" help:"Azure OpenAI API version."`
}

// Help is the command's example.
func (c *LabCmd) Help() string {
	return `Examples:
  aoaibench lab --duration 60s                 # against the simulator
  aoaibench lab --endpoint https://NAME.openai.azure.com -e my-gpt35
      # your deployment, the key in $OPENAI_API_KEY`
}

// labRun is one of the lab's two runs.
type labRun struct {
	name string
	rate float64
	tpm  int
}

// plan is one lab run's plan: 4,500 context tokens, 500 max tokens, no
// retries, the lab's simulated deployment when there is no endpoint.
func (c *LabCmd) plan(r labRun) (*plan.Plan, error) {
	rate := r.rate
	p := &plan.Plan{
		Schema:   plan.Version,
		Target:   plan.Target{URL: c.Endpoint, API: "azure", Deployment: c.Deployment, Model: c.Model, APIVersion: c.APIVersion, KeyEnv: c.APIKeyEnv},
		Workload: plan.Workload{Shape: "custom", ContextTokens: 4500, MaxTokens: 500, Completions: 1, Seed: mrand.Uint64()},
		Load: plan.Load{Rate: &rate, Arrival: "constant", Clients: 20, Duration: c.Duration,
			RequestTimeout: plan.Duration(10 * time.Minute), DrainTimeout: plan.Duration(time.Minute), Retry: "none"},
		Output: plan.Output{Dir: filepath.Join(c.Dir, r.name), LogFile: filepath.Join(c.Dir, r.name+".log"), Format: "human", Window: plan.Duration(time.Minute)},
	}
	if c.Endpoint == "" {
		f := SimFlags{Sim: fmt.Sprintf("tpm=%d,ttft=250ms,prefill_per_token=20us,itl=12ms,jitter=0.1", r.tpm)}
		var err error
		if p.Target.Sim, err = f.deployments(c.Deployment, c.Model); err != nil {
			return nil, err
		}
		p.Target.KeyEnv = ""
	}
	return p, nil
}

// Run runs both lab runs and the report.
func (c *LabCmd) Run(env *Env) error {
	if c.Duration <= 0 {
		return usagef("--duration must be positive, got %s", c.Duration)
	}
	runs := []labRun{{"paygo-gpt35-eastus-4RPM", 4, 20_000}, {"paygo-gpt35-eastus-50RPM", 50, 200_000}}
	var plans []*plan.Plan
	for _, r := range runs {
		p, err := c.plan(r)
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return usagef("--dir: %v", err)
	}
	if c.Endpoint != "" {
		fmt.Fprintf(env.Stderr, "lab: against %s: the quota steps are yours to make in the Azure portal: set deployment %s to 20K TPM before the first run, and to 200K TPM before the second.\n", c.Endpoint, c.Deployment)
	} else {
		fmt.Fprintf(env.Stderr, "lab: a simulated standard deployment %s (model %s) at 20K TPM, then at 200K TPM; %s per run\n", c.Deployment, c.Model, c.Duration)
	}
	worst, err := c.runAll(env, runs, plans)
	if err != nil {
		return err
	}
	reps, err := c.writeReport(env, runs)
	if err != nil {
		return err
	}
	labReadings(env, runs, reps)
	if worst != ExitOK {
		return exitError{code: worst}
	}
	return nil
}

// runAll runs the lab's runs in turn and returns the worst status of
// those that gave a reading; a run that failed ends the lab.
func (c *LabCmd) runAll(env *Env, runs []labRun, plans []*plan.Plan) (int, error) {
	worst := ExitOK
	for i, r := range runs {
		if i == 1 && c.Endpoint != "" {
			waitEnter(env, "raise the quota of "+c.Deployment+" to 200K TPM now, then press Enter to start the 50 RPM run")
		}
		fmt.Fprintf(env.Stderr, "\nlab: run %s (%g RPM, 4,500 context tokens, 500 max tokens, no retries)\n", r.name, r.rate)
		err := execute(env, plans[i], "")
		switch code := exitCode(err); code {
		case ExitOK:
		case ExitInvalid, ExitSLO:
			// A reading, with its caveat: the lab goes on, and ends
			// with the status.
			if worst == ExitOK || code == ExitInvalid {
				worst = code
			}
		default:
			var ee exitError
			if !errors.As(err, &ee) {
				return 0, err // bad input, or a results file that could not be written
			}
			// No reading from a run whose requests failed.
			return 0, exitError{code: code, msg: fmt.Sprintf("lab: run %s failed (exit status %d): no reading", r.name, code)}
		}
	}
	return worst, nil
}

// writeReport reads the runs back and writes DIR/report.html.
func (c *LabCmd) writeReport(env *Env, runs []labRun) ([]*report.Run, error) {
	var reps []*report.Run
	for _, r := range runs {
		rr, err := report.Read(filepath.Join(c.Dir, r.name))
		if err != nil {
			return nil, err
		}
		reps = append(reps, rr)
	}
	out := filepath.Join(c.Dir, "report.html")
	f, err := os.Create(out)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := report.HTML(f, reps, Version(), time.Now()); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	fmt.Fprintf(env.Stderr, "\nlab: logs %s/*.log, runs %s/<test name>/, report %s\n", c.Dir, c.Dir, out)
	return reps, nil
}

// labReadings prints what the lab shows: each run's throttling against its
// estimated tokens and quota, then that latency barely moves.
func labReadings(env *Env, runs []labRun, reps []*report.Run) {
	for i, r := range runs {
		row := reps[i].Row()
		share := 0.0
		if row.Sent > 0 {
			share = 100 * float64(row.Throttled) / float64(row.Sent)
		}
		est := r.rate * 5000
		verdict := "within"
		if est > float64(r.tpm) {
			verdict = "over"
		} else if est == float64(r.tpm) {
			verdict = "exactly at"
		}
		fmt.Fprintf(env.Stdout, "%s: %d of %d requests throttled (%.0f%%): %g RPM x 5,000 estimated tokens = %s TPM, %s the %s TPM quota.\n",
			r.name, row.Throttled, row.Sent, share, r.rate, thousands(est), verdict, thousands(float64(r.tpm)))
	}
	a, b := reps[0].Row(), reps[1].Row()
	fmt.Fprintf(env.Stdout, "Latency barely moves with the quota (TTFT p50 %s s vs %s s, TPOT p50 %s vs %s ms): quota caps how many requests a minute get in, not how fast each runs.\n",
		report.Cell(a.TTFT50, 3), report.Cell(b.TTFT50, 3), report.Cell(a.TPOT50*1e3, 1), report.Cell(b.TPOT50*1e3, 1))
}

func thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// waitEnter waits for Enter when stdin is a terminal.
func waitEnter(env *Env, prompt string) {
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "lab: %s (stdin is not a terminal: going on)\n", prompt)
		return
	}
	fmt.Fprintf(env.Stderr, "lab: %s ", prompt)
	bufio.NewReader(f).ReadString('\n')
}
