package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// SimFlags shape the built-in simulator.
type SimFlags struct {
	Sim       string  `help:"Simulator settings as key=value,... (tpm, type, ptu, ttft, prefill_per_token, itl, jitter, tokens_per_chunk, max_concurrency, load_factor, output_min, fail_5xx, cut_stream, storm_429, slow_headers, header_delay, ...)." json:"sim,omitempty"`
	SimTPM    *int    `name:"sim-tpm" help:"Simulated deployment's quota in tokens per minute (0: unlimited)." json:"sim_tpm,omitempty"`
	SimTTFT   *string `name:"sim-ttft" help:"Simulated base time to first token, e.g. 200ms." json:"sim_ttft,omitempty"`
	SimITL    *string `name:"sim-itl" help:"Simulated time per output token, e.g. 20ms." json:"sim_itl,omitempty"`
	SimConfig string  `name:"sim-config" type:"existingfile" help:"YAML or JSON file of simulated deployments (the first is tested)." json:"sim_config,omitempty"`
}

// deployment builds the simulated deployment from the flags. name and model
// override the default's when not empty.
func (f *SimFlags) deployment(name, model string) (sim.Deployment, []sim.Deployment, error) {
	d := sim.DefaultDeployment()
	var all []sim.Deployment
	if f.SimConfig != "" {
		cfg, err := sim.LoadConfig(f.SimConfig)
		if err != nil {
			return d, nil, usageError{err.Error()}
		}
		all = cfg.Deployments
		d = all[0]
		if name != "" {
			found := false
			for _, x := range all {
				if x.Name == name {
					d, found = x, true
				}
			}
			if !found {
				return d, nil, usagef("--deployment %q is not in --sim-config %s", name, f.SimConfig)
			}
		}
	} else {
		if name != "" {
			d.Name = name
		}
		if model != "" {
			d.Model = model
		}
	}
	var kv []string
	if f.Sim != "" {
		kv = append(kv, f.Sim)
	}
	if f.SimTPM != nil {
		kv = append(kv, fmt.Sprintf("tpm=%d", *f.SimTPM))
	}
	if f.SimTTFT != nil {
		kv = append(kv, "ttft="+*f.SimTTFT)
	}
	if f.SimITL != nil {
		kv = append(kv, "itl="+*f.SimITL)
	}
	if err := d.Set(strings.Join(kv, ",")); err != nil {
		return d, nil, usageError{err.Error()}
	}
	if len(all) == 0 {
		all = []sim.Deployment{d}
	} else {
		for i := range all {
			if all[i].Name == d.Name {
				all[i] = d
			}
		}
	}
	return d, all, nil
}

// describe says what a simulated deployment is, in one line.
func describe(d sim.Deployment) string {
	q := "unlimited quota"
	switch {
	case d.Type == "provisioned":
		q = fmt.Sprintf("provisioned, %d PTU", d.PTU)
	case d.TPM > 0:
		q = fmt.Sprintf("standard, %d TPM", d.TPM)
	}
	return fmt.Sprintf("%s (model %s, %s, TTFT %v + %v/prompt token, %v/output token)", d.Name, d.Model, q,
		time.Duration(d.TTFT), time.Duration(d.Prefill), time.Duration(d.ITL))
}

// simServer runs a simulator on a free loopback port.
type simServer struct {
	srv *sim.Server
	hs  *http.Server
	url string
}

func startSim(cfg sim.Config, addr string) (*simServer, error) {
	srv, err := sim.New(cfg)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("simulator: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ConnContext: srv.ConnContext, ReadHeaderTimeout: 30 * time.Second}
	go hs.Serve(ln)
	return &simServer{srv: srv, hs: hs, url: "http://" + ln.Addr().String()}, nil
}

func (s *simServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.hs.Close()
	}
	s.hs.Close()
	s.srv.Close()
}

// simTarget starts the built-in simulator and targets it.
func (c *LoadCmd) simTarget(env *Env) (*target, error) {
	d, all, err := c.SimFlags.deployment(c.Deployment, c.Model)
	if err != nil {
		return nil, err
	}
	ss, err := startSim(sim.Config{Deployments: all, Precise: true}, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ep, err := client.Resolve(ss.url, client.Azure, d.Name, "", c.APIVersion)
	if err != nil {
		ss.close()
		return nil, usageError{err.Error()}
	}
	note := fmt.Sprintf("no endpoint given: testing the built-in simulator, deployment %s at %s\n"+
		"  to test a real deployment: aoaibench load -e DEPLOYMENT https://RESOURCE.openai.azure.com (API key in $%s)",
		describe(d), ss.url, c.APIKeyEnv)
	return &target{ep: ep, model: d.Model, note: note, close: ss.close, sim: ss.srv}, nil
}

// simReport prints the simulator's own count of what it served.
func simReport(env *Env, s *sim.Server) {
	for name, d := range s.Stats().Deployments {
		var th []string
		for k, v := range d.Throttled {
			th = append(th, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(th)
		reasons := ""
		if len(th) > 0 {
			reasons = " (" + strings.Join(th, ", ") + ")"
		}
		fmt.Fprintf(env.Stderr, "simulator %s: accepted %d, throttled %d%s, completed %d, %d prompt + %d completion tokens\n",
			name, d.Accepted, d.ThrottledTotal(), reasons, d.Completed, d.PromptTokens, d.CompletionTokens)
	}
}
