package plan

import "time"

// The defaults of a plan, in one place: Normalize fills them, and the
// command line shows them in its help.
const (
	DefaultAPIVersion     = "2024-10-21" // the first Azure version that takes stream_options
	DefaultKeyEnv         = "OPENAI_API_KEY"
	DefaultShape          = "balanced"
	DefaultRequestTimeout = Duration(10 * time.Minute)
	DefaultDrainTimeout   = Duration(time.Minute)
	DefaultWindow         = Duration(time.Minute) // the live line's
	DefaultTraceSpeed     = 1.0
	DefaultTraceBlock     = 512 // tokens of a hash_ids block, as in Mooncake's traces
	// DefaultClients is a closed loop's clients when none are given: the
	// original tool's default.
	DefaultClients = 20
	// AutoClients caps an open loop's requests in flight when no cap is
	// given: requests leave when the schedule says, as many at once as
	// the rate and the endpoint's latency need (as vegeta's workers grow
	// on demand), up to this. It is far past what a deployment's quota
	// lets through, and within a process's open files.
	AutoClients = 10000
)

// Shape is one of the original tool's shape profiles: prompt tokens and
// max_tokens.
type Shape struct {
	Context, MaxTokens int
}

// ShapeOf returns a shape profile by name (balanced, context,
// generation); false for custom or an unknown name.
func ShapeOf(name string) (Shape, bool) {
	switch name {
	case "balanced":
		return Shape{500, 500}, true
	case "context":
		return Shape{2000, 200}, true
	case "generation":
		return Shape{500, 1000}, true
	}
	return Shape{}, false
}

// Normalize fills every default a plan leaves open (a zero value), so
// that run.json records what the run resolved and the engine reads no
// default of its own. A zero that means something is kept: a
// DrainTimeout of 0 cuts requests off at once, a MaxTokens of 0 sends
// none.
func (p *Plan) Normalize() {
	t, w, l, o := &p.Target, &p.Workload, &p.Load, &p.Output
	if p.Schema == 0 {
		p.Schema = Version
	}
	if t.URL != "" && t.KeyEnv == "" {
		t.KeyEnv = DefaultKeyEnv
	}
	if t.APIVersion == "" {
		t.APIVersion = DefaultAPIVersion
	}
	if w.Shape == "" && w.Dataset == nil && w.Synthetic == "" && l.Trace == nil {
		w.Shape = DefaultShape
	}
	if s, ok := ShapeOf(w.Shape); ok && w.ContextTokens == 0 {
		w.ContextTokens, w.MaxTokens = s.Context, s.MaxTokens
	}
	if w.Completions == 0 {
		w.Completions = 1
	}
	if w.Endpoint == "" {
		w.Endpoint = Chat
	}
	if w.EmbeddingBatch == 0 && w.Endpoint == Embeddings {
		w.EmbeddingBatch = 1
	}
	w.normalizeAgent()
	if l.Clients == 0 {
		if l.Open() {
			l.Clients, l.AutoClients = AutoClients, true
		} else {
			l.Clients = DefaultClients
		}
	}
	if l.Arrival == "" && (l.Rate != nil || len(l.Stages) > 0 && !l.StageClients) {
		l.Arrival = Constant
	}
	if l.Retry == "" {
		l.Retry = RetryNone
	}
	if l.RequestTimeout == 0 {
		l.RequestTimeout = DefaultRequestTimeout
	}
	if tr := l.Trace; tr != nil {
		if tr.Speed == 0 {
			tr.Speed = DefaultTraceSpeed
		}
		if tr.Block == 0 {
			tr.Block = DefaultTraceBlock
		}
	}
	if o.Format == "" {
		o.Format = Human
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
}
