package simconfig

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// fillProvisioned sets a provisioned deployment's figures from the
// model's published ones (tpm_per_ptu, output_ratio, the time per token
// of its latency target) and checks that its type can deploy its PTUs.
// A model the table does not have needs tpm_per_ptu and output_ratio,
// and deploys as Global and Data Zone deployments do (15 in steps of 5).
func (d *Deployment) fillProvisioned(table *ptu.Table) error {
	if table == nil {
		table = ptu.Default()
	}
	if d.DeploymentType == "" {
		d.DeploymentType = string(ptu.Global)
	}
	typ, err := ptu.ParseType(d.DeploymentType)
	if err != nil {
		return fmt.Errorf("deployment_type: %w", err)
	}
	if d.PTU <= 0 {
		return errors.New("ptu must be positive for a provisioned deployment")
	}
	if !(d.OutputRatio >= 0) || d.OutputRatio > 1000 {
		return fmt.Errorf("output_ratio must be from 0 to 1000, got %g", d.OutputRatio)
	}
	m, known := table.Lookup(d.Model)
	if !known {
		if d.TPMPerPTU <= 0 || d.OutputRatio == 0 {
			return fmt.Errorf("model %s has no provisioned figures in %s (it has %s): give tpm_per_ptu and output_ratio", d.Model, table.File, table.Names())
		}
		if typ == ptu.Regional {
			return fmt.Errorf("model %s has no Regional provisioned figures in %s: give a table that has them, or deployment_type global or datazone", d.Model, table.File)
		}
		m = ptu.Model{Name: d.Model, GlobalMin: 15, GlobalIncrement: 5}
	}
	if err := m.Deployable(typ, d.PTU); err != nil {
		return fmt.Errorf("ptu: %w", err)
	}
	if d.TPMPerPTU == 0 {
		d.TPMPerPTU = int(math.Round(m.InputTPMPerPTU))
	}
	if d.OutputRatio == 0 {
		d.OutputRatio = m.OutputRatio
	}
	if d.ITL == 0 && known {
		// Generation at the latency target: 99% of requests are faster.
		d.ITL = Duration(time.Duration(float64(time.Second) / m.LatencyTPS))
	}
	return nil
}
