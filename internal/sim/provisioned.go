package sim

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// provisioned is a PTU deployment's admission: the leaky bucket of
// package ptu, in Azure's utilization units (a prompt's cached tokens
// count nothing, an output token OutputRatio input tokens). Not safe for
// concurrent use.
type provisioned struct {
	bucket *ptu.Bucket
	ratio  float64
}

func newProvisioned(d simconfig.Deployment, now time.Time) *provisioned {
	return &provisioned{bucket: ptu.NewBucket(float64(d.PTU)*float64(d.TPMPerPTU), now), ratio: d.OutputRatio}
}

// units is a request's utilization: input less cached, plus its output.
func (p *provisioned) units(input, output int) float64 {
	return float64(input) + p.ratio*float64(output)
}

// utilization is the bucket level as a percent of a minute's capacity.
func (p *provisioned) utilization(now time.Time) float64 { return p.bucket.Utilization(now) }

// admit decides on a request of input uncached prompt tokens that may
// generate output tokens (max_tokens, or the default when it sends none).
func (p *provisioned) admit(now time.Time, input, output int) verdict {
	v := p.bucket.Admit(now, p.units(input, output))
	if !v.OK {
		return verdict{reason: "utilization", after: v.RetryAfter}
	}
	return verdict{ok: true}
}

// correct replaces a request's estimated output by what it generated.
func (p *provisioned) correct(now time.Time, input, estimated, generated int) {
	p.bucket.Correct(now, p.units(input, estimated), p.units(input, generated))
}
