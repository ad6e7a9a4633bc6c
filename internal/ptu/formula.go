package ptu

// Workload is what Azure's sizing formula reads of a workload: its peak
// requests a minute, its mean prompt and output tokens, and the share of
// prompt tokens served from the prompt cache.
type Workload struct {
	PeakRPM   float64
	AvgPrompt float64
	AvgOutput float64
	CacheRate float64
}

// Estimate is the formula's answer for one model and deployment type.
type Estimate struct {
	// NormalizedTPM is the peak minute in input-token units:
	// peak RPM x avg prompt x (1 - cache rate) + ratio x peak RPM x avg output.
	NormalizedTPM float64
	// Exact is NormalizedTPM / input TPM per PTU.
	Exact float64
	// PTU is Exact rounded up to a deployable count.
	PTU int
}

// Formula is Azure's published sizing method ("Provisioned throughput
// sizing"): the normalized TPM of the peak minute, divided by the input
// TPM one PTU serves, rounded up to a count the type can deploy.
func (m Model) Formula(w Workload, t Type) Estimate {
	tpm := w.PeakRPM*w.AvgPrompt*(1-w.CacheRate) + m.OutputRatio*w.PeakRPM*w.AvgOutput
	exact := tpm / m.InputTPMPerPTU
	return Estimate{NormalizedTPM: tpm, Exact: exact, PTU: m.RoundUp(t, exact)}
}
