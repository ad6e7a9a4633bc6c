package plan

// Threshold is one whole-run objective, such as ttft_p95<=2s: a figure of
// the summary (metrics.FigureUnit lists them), a comparison and a value.
// metrics.ParseThresholds reads them, and Results.Check holds a run to
// one.
type Threshold struct {
	Figure string  `json:"figure"`
	Op     string  `json:"op"`    // <=, <, >=, >
	Value  float64 `json:"value"` // seconds, a share (0..1) or a plain number
	Text   string  `json:"text"`  // as given
}
