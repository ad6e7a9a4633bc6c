package cli

import (
	"fmt"
	"strings"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/ptu"
)

// SimFlags shape the built-in simulator.
type SimFlags struct {
	Sim       string  `placeholder:"KEY=VALUE,..." help:"Simulator settings as key=value,... (tpm, type, ptu, ttft, prefill_per_token, itl, jitter, tokens_per_chunk, max_concurrency, load_factor, output_min, fail_5xx, cut_stream, storm_429, slow_headers, header_delay, ...)." json:"sim,omitempty"`
	SimTPM    *int    `name:"sim-tpm" placeholder:"TPM" help:"Simulated deployment's quota in tokens per minute (0: unlimited)." json:"sim_tpm,omitempty"`
	SimTTFT   *string `name:"sim-ttft" placeholder:"TIME" help:"Simulated base time to first token, e.g. 200ms." json:"sim_ttft,omitempty"`
	SimITL    *string `name:"sim-itl" placeholder:"TIME" help:"Simulated time per output token, e.g. 20ms." json:"sim_itl,omitempty"`
	SimConfig string  `name:"sim-config" type:"existingfile" placeholder:"FILE" help:"YAML or JSON file of simulated deployments (the first is tested)." json:"sim_config,omitempty"`
}

// deployments builds the simulated deployments from the flags, the one to
// test first. name and model override the default's when not empty.
func (f *SimFlags) deployments(name, model string) ([]simconfig.Deployment, error) {
	return f.deploymentsFrom(name, model, nil)
}

// deploymentsFrom is deployments with the PTU figures of table (nil: the
// published ones).
func (f *SimFlags) deploymentsFrom(name, model string, table *ptu.Table) ([]simconfig.Deployment, error) {
	d, all, err := f.deployment(name, model)
	if err != nil {
		return nil, err
	}
	out := []simconfig.Deployment{d}
	for _, x := range all {
		if x.Name != d.Name {
			out = append(out, x)
		}
	}
	for i := range out {
		if err := out[i].FillFrom(table); err != nil {
			return nil, usagef("--sim: %v", err)
		}
	}
	return out, nil
}

// deployment builds the simulated deployment to test from the flags, and
// all of them.
func (f *SimFlags) deployment(name, model string) (simconfig.Deployment, []simconfig.Deployment, error) {
	d := simconfig.DefaultDeployment()
	var all []simconfig.Deployment
	if f.SimConfig != "" {
		var err error
		if all, err = simconfig.Load(f.SimConfig); err != nil {
			return d, nil, usageError{err.Error()}
		}
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
			if _, ok := models.Lookup(model); !ok {
				return d, nil, usagef("--model: the simulator does not know model %q (known: %s)", model, models.Known)
			}
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
		all = []simconfig.Deployment{d}
	} else {
		for i := range all {
			if all[i].Name == d.Name {
				all[i] = d
			}
		}
	}
	return d, all, nil
}
