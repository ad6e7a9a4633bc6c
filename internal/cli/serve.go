package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/sim"
)

// ServeCmd is `aoaibench serve`: the simulator as a standalone server.
type ServeCmd struct {
	Listen     string        `default:"127.0.0.1:8080" help:"Address to listen on."`
	Config     string        `type:"existingfile" help:"YAML or JSON file of deployments (see docs/simulator.md)."`
	APIKeyEnv  string        `default:"AOAIBENCH_SIM_KEY" help:"Environment variable with the API key clients must send; when it is empty, every request is accepted."`
	Deployment string        `short:"e" help:"Name of the deployment (without --config)."`
	Model      string        `help:"Model of the deployment (without --config)."`
	Sim        string        `help:"Deployment settings as key=value,... (same keys as --config)."`
	Stats      time.Duration `default:"1m" help:"How often to log totals (0: never)."`
	MemProfile string        `name:"mem-profile" type:"path" help:"Write a pprof allocation profile to this file when stopping."`
}

// Run serves until interrupted.
func (c *ServeCmd) Run(env *Env) error {
	f := SimFlags{Sim: c.Sim, SimConfig: c.Config}
	_, all, err := f.deployment(c.Deployment, c.Model)
	if err != nil {
		return err
	}
	cfg := sim.Config{Deployments: all, APIKey: env.Getenv(c.APIKeyEnv), Precise: true}
	ss, err := startSim(cfg, c.Listen)
	if err != nil {
		return err
	}
	defer ss.close()
	for _, d := range ss.srv.Deployments() {
		fmt.Fprintf(env.Stderr, "serving %s\n", describe(d))
	}
	auth := "no API key required"
	if cfg.APIKey != "" {
		auth = "API key from $" + c.APIKeyEnv + " required"
	}
	fmt.Fprintf(env.Stderr, "simulator listening on %s (%s); routes: /openai/deployments/{name}/chat/completions?api-version=..., /openai/v1/chat/completions, /v1/chat/completions, /v1/models, /healthz, /sim/stats\n", ss.url, auth)
	var tick <-chan time.Time
	if c.Stats > 0 {
		t := time.NewTicker(c.Stats)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			logTotals(env, ss.srv)
		case _, ok := <-env.Signals:
			if !ok {
				return nil
			}
			fmt.Fprintln(env.Stderr, "stopping")
			logTotals(env, ss.srv)
			if c.MemProfile != "" {
				return writeHeapProfile(c.MemProfile)
			}
			return nil
		}
	}
}

func logTotals(env *Env, s *sim.Server) {
	st := s.Stats()
	var parts []string
	for name, d := range st.Deployments {
		parts = append(parts, fmt.Sprintf("%s: accepted %d, throttled %d, failed %d, completed %d, active %d, tokens %d+%d",
			name, d.Accepted, d.ThrottledTotal(), d.Failed, d.Completed, d.Active, d.PromptTokens, d.CompletionTokens))
	}
	fmt.Fprintf(env.Stderr, "%s %s\n", time.Now().Format(timeLayout), strings.Join(parts, "; "))
}

const timeLayout = "2006-01-02 15:04:05"
