package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// ServeCmd is `aoaibench serve`: the simulator as a standalone server.
type ServeCmd struct {
	Listen     string        `default:"127.0.0.1:8080" placeholder:"ADDR" help:"Address to listen on."`
	Config     string        `type:"existingfile" placeholder:"FILE" help:"YAML or JSON file of deployments (see docs/simulator.md)."`
	APIKeyEnv  string        `default:"AOAIBENCH_SIM_KEY" placeholder:"VAR" help:"Environment variable with the API key clients must send; when it is empty, every request is accepted."`
	Deployment string        `short:"e" placeholder:"NAME" help:"Name of the deployment (without --config)."`
	Model      string        `placeholder:"MODEL" help:"Model of the deployment (without --config)."`
	Sim        string        `placeholder:"KEY=VALUE,..." help:"Deployment settings as key=value,... (same keys as --config)."`
	Stats      time.Duration `default:"1m" placeholder:"TIME" help:"How often to log totals (0: never)."`
	Entra      bool          `help:"Act as Microsoft Entra ID too: serve managed identity's App Service token endpoint at /msi/token and accept its tokens (it prints the IDENTITY_ENDPOINT and IDENTITY_HEADER to export)."`
	TokenLife  time.Duration `name:"token-lifetime" default:"1h" placeholder:"TIME" help:"With --entra, how long each token lasts (10s exercises refreshing)."`
	PTUTable   string        `name:"ptu-table" type:"existingfile" placeholder:"FILE" help:"Provisioned figures per model (TSV as internal/ptu/azure-ptu-models.tsv) in place of the published ones built in."`
	MemProfile string        `name:"mem-profile" type:"path" placeholder:"FILE" help:"Write a pprof allocation profile to this file when stopping."`
}

// Help is the command's example.
func (c *ServeCmd) Help() string {
	return `Examples:
  aoaibench serve --sim tpm=20000 -e gpt-35-turbo-16k --model gpt-35-turbo-16k
  aoaibench serve --config docs/sim-example.yaml --listen 127.0.0.1:9000`
}

// Run serves until interrupted.
func (c *ServeCmd) Run(env *Env) error {
	f := SimFlags{Sim: c.Sim, SimConfig: c.Config}
	var table *ptu.Table
	if c.PTUTable != "" {
		var err error
		if table, err = ptu.Load(c.PTUTable); err != nil {
			return usagef("--ptu-table: %v", err)
		}
	}
	all, err := f.deploymentsFrom(c.Deployment, c.Model, table)
	if err != nil {
		return err
	}
	cfg := sim.Config{Deployments: all, APIKey: env.Getenv(c.APIKeyEnv), Precise: true, PTUTable: table}
	if c.Entra {
		if c.TokenLife < time.Second || c.TokenLife > 24*time.Hour {
			return usagef("--token-lifetime must be from 1s to 24h, got %v", c.TokenLife)
		}
		var b [16]byte
		rand.Read(b[:])
		cfg.Identity = &sim.Identity{Header: hex.EncodeToString(b[:]), Lifetime: c.TokenLife}
	}
	s, err := sim.Start(cfg, c.Listen)
	if err != nil {
		return usagef("--listen %s: %v", c.Listen, err)
	}
	defer s.Stop()
	for _, d := range s.Deployments() {
		fmt.Fprintf(env.Stderr, "serving %s\n", d.Describe())
	}
	auth := "no API key required"
	switch {
	case cfg.APIKey != "" && c.Entra:
		auth = "API key from $" + c.APIKeyEnv + " or an Entra ID token required"
	case cfg.APIKey != "":
		auth = "API key from $" + c.APIKeyEnv + " required"
	case c.Entra:
		auth = "an Entra ID token required"
	}
	if c.Entra {
		fmt.Fprintf(env.Stderr, "Microsoft Entra ID tokens of %v: export IDENTITY_ENDPOINT=%s/msi/token IDENTITY_HEADER=%s\n", c.TokenLife, s.URL(), cfg.Identity.Header)
	}
	fmt.Fprintf(env.Stderr, "simulator listening on %s (%s); routes: /openai/deployments/{name}/{chat/completions,completions,embeddings}?api-version=..., /openai/responses?api-version=..., /openai/v1/..., /v1/{chat/completions,completions,embeddings,responses,models}, /healthz, /sim/stats\n", s.URL(), auth)
	var tick <-chan time.Time
	if c.Stats > 0 {
		t := time.NewTicker(c.Stats)
		defer t.Stop()
		tick = t.C
	}
	sig := make(chan os.Signal, 1)
	if env.Notify != nil {
		env.Notify(sig)
		defer env.Stop(sig)
	}
	for {
		select {
		case <-tick:
			logTotals(env, s.Stats())
		case <-sig:
			fmt.Fprintln(env.Stderr, "stopping")
			logTotals(env, s.Stats())
			if c.MemProfile != "" {
				return writeHeapProfile(c.MemProfile)
			}
			return nil
		}
	}
}

func logTotals(env *Env, st sim.Stats) {
	var parts []string
	for name, d := range st.Deployments {
		parts = append(parts, fmt.Sprintf("%s: accepted %d, throttled %d, failed %d, completed %d, active %d, tokens %d+%d",
			name, d.Accepted, d.ThrottledTotal(), d.Failed, d.Completed, d.Active, d.PromptTokens, d.CompletionTokens))
	}
	sort.Strings(parts)
	fmt.Fprintf(env.Stderr, "%s %s\n", time.Now().Format(timeLayout), strings.Join(parts, "; "))
}

const timeLayout = "2006-01-02 15:04:05"
