package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/term"

	"github.com/aoaibench/aoaibench/internal/report"
)

// LabCmd is `aoaibench lab`: the seed workshop's whole scenario in one
// command.
type LabCmd struct {
	Duration   float64 `default:"180" help:"Seconds of each run (the lab's is 180)."`
	Dir        string  `default:"lab" type:"path" help:"Directory for the logs, run directories and report."`
	Endpoint   string  `help:"Run against this real Azure OpenAI endpoint instead of the simulator."`
	Deployment string  `short:"e" default:"gpt-35-turbo-16k" help:"Deployment name."`
	APIKeyEnv  string  `short:"k" default:"OPENAI_API_KEY" help:"Environment variable that holds the API key (real endpoint)."`
	APIVersion string  `short:"a" default:"2024-10-21" help:"Azure OpenAI API version."`
}

// labRun is one of the lab's two runs.
type labRun struct {
	name string
	rate float64
	tpm  int
}

// Run runs both lab runs and the report.
func (c *LabCmd) Run(env *Env) error {
	if !(c.Duration > 0) {
		return usagef("--duration must be a positive number of seconds, got %g", c.Duration)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	runs := []labRun{{"paygo-gpt35-eastus-4RPM", 4, 20_000}, {"paygo-gpt35-eastus-50RPM", 50, 200_000}}
	if c.Endpoint != "" {
		fmt.Fprintf(env.Stderr, "lab: against %s: the quota steps are yours to make in the Azure portal: set deployment %s to 20K TPM before the first run, and to 200K TPM before the second.\n", c.Endpoint, c.Deployment)
	} else {
		fmt.Fprintf(env.Stderr, "lab: a simulated gpt-35-turbo-16k standard deployment at 20K TPM, then at 200K TPM; %g s per run\n", c.Duration)
	}
	for i, r := range runs {
		if i == 1 && c.Endpoint != "" {
			waitEnter(env, "raise the quota of "+c.Deployment+" to 200K TPM now, then press Enter to start the 50 RPM run")
		}
		args := []string{"load", "-e", c.Deployment, "--model", "gpt-35-turbo-16k", "-r", strconv.FormatFloat(r.rate, 'f', -1, 64),
			"--shape-profile", "custom", "-p", "4500", "-m", "500", "--retry", "none",
			"-d", strconv.FormatFloat(c.Duration, 'f', -1, 64), "-a", c.APIVersion,
			"--output-dir", filepath.Join(c.Dir, r.name), "--log-file", filepath.Join(c.Dir, r.name+".log"),
			// The first run sits exactly at its quota: the probe's few
			// tokens would tip the fourth request over it.
			"--no-probe"}
		if c.Endpoint != "" {
			args = append(args, "-k", c.APIKeyEnv, c.Endpoint)
		} else {
			args = append(args, "--sim", fmt.Sprintf("tpm=%d,ttft=250ms,prefill_per_token=20us,itl=12ms,jitter=0.1", r.tpm))
		}
		fmt.Fprintf(env.Stderr, "\nlab: run %s (%g RPM, 4,500 context tokens, 500 max tokens, no retries)\n", r.name, r.rate)
		if code := Main(args, *env); code != 0 {
			return fmt.Errorf("lab: run %s failed (exit status %d)", r.name, code)
		}
	}
	var reps []*report.Run
	for _, r := range runs {
		rr, err := report.Read(filepath.Join(c.Dir, r.name))
		if err != nil {
			return err
		}
		reps = append(reps, rr)
	}
	out := filepath.Join(c.Dir, "report.html")
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := report.HTML(f, reps, Version(), timeNow()); err != nil {
		f.Close()
		return fmt.Errorf("lab: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	fmt.Fprintf(env.Stderr, "\nlab: logs %s/*.log, runs %s/<test name>/, report %s\n", c.Dir, c.Dir, out)
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
	return nil
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
