package ptu

import (
	"fmt"
	"math"
)

// Type is a provisioned deployment type: where Azure may serve it from,
// which decides the PTU counts it can deploy.
type Type string

// The provisioned deployment types.
const (
	Global   Type = "global"   // Global provisioned
	DataZone Type = "datazone" // Data Zone provisioned
	Regional Type = "regional" // Regional provisioned
)

// Types lists the deployment types, for a message.
const Types = "global, datazone or regional"

// ParseType reads a deployment type: global, datazone or regional.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Global, DataZone, Regional:
		return t, nil
	}
	return "", fmt.Errorf("deployment type must be %s, got %q", Types, s)
}

// Name is the type's name as Azure writes it.
func (t Type) Name() string {
	switch t {
	case DataZone:
		return "Data Zone"
	case Regional:
		return "Regional"
	}
	return "Global"
}

// Counts returns the least count of PTUs a deployment of type t can have,
// and the step between deployable counts: min, min+inc, min+2inc...
func (m Model) Counts(t Type) (least, inc int) {
	if t == Regional {
		return m.RegionalMin, m.RegionalIncrement
	}
	return m.GlobalMin, m.GlobalIncrement
}

// Deployable says whether n PTUs of type t can be deployed, and when not,
// why, naming both the count and what the type takes.
func (m Model) Deployable(t Type, n int) error {
	least, inc := m.Counts(t)
	if n >= least && (n-least)%inc == 0 {
		return nil
	}
	return fmt.Errorf("%d PTUs cannot be deployed as %s provisioned %s: it takes at least %d, in steps of %d (%d, %d, %d, ...)",
		n, t.Name(), m.Name, least, inc, least, least+inc, least+2*inc)
}

// RoundUp returns the least deployable count of type t at or above
// exact PTUs. A count a hair above a step (float error) rounds to it.
func (m Model) RoundUp(t Type, exact float64) int {
	least, inc := m.Counts(t)
	if !(exact > float64(least)) {
		return least
	}
	// No workload needs a trillion PTUs: the bound keeps the count an int.
	exact = min(exact, 1e12)
	k := math.Ceil((exact-float64(least))/float64(inc) - 1e-9)
	return least + int(k)*inc
}

// Units is a request's utilization in input-token units, as Azure counts
// a provisioned deployment's: the prompt less its cached part (which
// counts nothing), and each output token as OutputRatio input tokens.
func (m Model) Units(prompt, cached, output int) float64 {
	return float64(max(prompt-cached, 0)) + m.OutputRatio*float64(output)
}

// TPM returns the input tokens a minute n PTUs serve.
func (m Model) TPM(n int) float64 { return float64(n) * m.InputTPMPerPTU }
