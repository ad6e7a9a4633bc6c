// Package run executes a plan: it dispatches requests on the plan's
// schedule (open loop) or keeps a fixed number in flight (closed loop),
// sends each with the client, derives its record and feeds every record,
// the live figures once a second and the final results to the sinks.
//
// Data flows one way: pacer -> dispatch -> client -> record -> sinks. One
// goroutine, the aggregator, owns every figure, so no metric needs a lock;
// the dispatcher shares only atomic counters with it. The files follow
// the seams: run.go prepares a run (New), execute.go runs it, dispatch.go
// and session.go send on the schedule, request.go sends one request,
// aggregate.go folds the records in, and outcome.go turns what happened
// into the results' verdicts, as pure functions.
//
// Nothing but dispatch happens after t=0: the endpoint is resolved, the
// tokenizer and the request bodies built, the sinks' files created and
// run.json written before the first request is due.
package run

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/traffic"
)

// Options are how a run meets its surroundings.
type Options struct {
	// Log receives notes and warnings for people, one line each, already
	// redacted.
	Log func(string)
	// Getenv reads the API key's variable (os.Getenv when nil).
	Getenv func(string) string
	// Abort, when closed, cuts off the requests in flight at once.
	// Cancelling Execute's context only stops dispatch and drains.
	Abort <-chan struct{}
	// Transport and TLS replace the HTTP transport's (tests).
	Transport http.RoundTripper
	TLS       *tls.Config
	// Sleep waits for each due time (when nil, a wait of tens of
	// microseconds' precision: see precise; tests in synctest bubbles use
	// TimerSleep).
	Sleep Sleeper
	// Entra makes the Microsoft Entra ID token source of --auth entra
	// (auth.NewDefaultEntra when nil; tests give their own).
	Entra func(ctx context.Context, scope string, redact *auth.Redactor, log func(string)) (*auth.Entra, error)
	// DatasetCheck is how long a dataset is read through for bad rows
	// before the first request (0: traffic.CheckBudget; negative: not at
	// all).
	DatasetCheck time.Duration
	// Sim is a simulator already running, for a plan without a URL: the
	// steps of a sweep share one, as they would share a deployment. The
	// run does not stop it.
	Sim *sim.Running
}

// Run is a prepared run: everything it needs is resolved and built, and
// nothing has been sent.
type Run struct {
	plan    plan.Plan
	opts    Options
	ep      api.Endpoint
	target  string
	enc     string
	tok     *tokenizer.Tokenizer
	source  traffic.Source   // each request, or each session's first
	convs   traffic.Sessions // multi-turn: conversations (nil: single requests)
	params  traffic.Params
	dataset *traffic.Dataset // closed with the run
	auth    plan.Auth        // key, entra or none
	entra   *auth.Entra      // refreshes tokens; closed with the run
	think   pace.Think
	client  *client.Client
	pacer   pace.Pacer   // nil: closed loop
	stages  *pace.Stages // of rates (then also the pacer) or of clients
	// requests and clients are the plan's, or this shard's share.
	requests int64
	clients  int
	redact   *auth.Redactor
	sim      *sim.Running
	ownSim   bool // started by the run, stopped by Close
	notes    []string
	wires    sync.Pool // *metrics.Wire
}

// New prepares a run of p: it fills the plan's defaults and checks it
// (errors are *plan.Error, bad input), resolves the endpoint, starts the
// built-in simulator when p has no URL, reads the key, and builds the
// tokenizer, the request bodies, the client and the pacer.
func New(p plan.Plan, o Options) (_ *Run, err error) {
	if o.Log == nil {
		o.Log = func(string) {}
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	model := cmp.Or(p.Target.Model, p.Target.Deployment)
	if p.Target.URL == "" && len(p.Target.Sim) > 0 {
		model = p.Target.Sim[0].Model
	}
	m, known := models.Lookup(model)
	p.Normalize()
	if err := p.Validate(m.ContextWindow); err != nil {
		return nil, err
	}
	for i := range p.Target.Sim {
		if err := p.Target.Sim[i].Fill(); err != nil {
			return nil, plan.Errorf("--sim: %v", err)
		}
	}
	r := &Run{plan: p, opts: o, redact: auth.NewRedactor(api.Secrets(p.Target.URL)...)}
	for _, u := range p.Output.ServerMetrics {
		r.redact.Add(api.Secrets(u)...)
	}
	// Whatever fails past here leaves nothing running.
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if err := r.endpoint(); err != nil {
		return nil, err
	}
	header := http.Header{}
	bearer, err := r.credentials(header)
	if err != nil {
		return nil, err
	}
	if err := r.tokenizer(m, known, model); err != nil {
		return nil, err
	}
	if err := r.traffic(m); err != nil {
		return nil, err
	}
	t := &r.plan.Target
	r.client = client.New(client.Config{
		Endpoint: r.ep, Header: header, Bearer: bearer, Retry: p.Load.Retry, Timeout: p.Load.RequestTimeout.D(),
		MaxConns: p.Load.Clients, HTTP2: t.HTTP2, Connections: t.Connections, Redact: r.redact.Redact,
		Transport: o.Transport, TLS: o.TLS,
	})
	if err := r.schedule(); err != nil {
		return nil, err
	}
	r.shard()
	if at := p.Load.StartAt; at != "" {
		t, _ := time.Parse(time.RFC3339Nano, at)
		if d := time.Until(t); d > 24*time.Hour {
			return nil, plan.Errorf("--start-at %s is %s away: more than a day", at, d.Round(time.Second))
		}
	}
	r.target = r.describe(model)
	return r, nil
}

// endpoint resolves where requests go: the plan's URL, or the built-in
// simulator, started here unless the options give one running.
func (r *Run) endpoint() error {
	t, typ := &r.plan.Target, plan.Endpoint(r.plan.Workload.Endpoint)
	if t.URL != "" {
		ep, err := api.Resolve(t.URL, api.API(t.API), typ, t.Deployment, t.Model, t.APIVersion)
		if err != nil {
			return plan.Errorf("%v", err)
		}
		r.ep = ep
		return nil
	}
	s := r.opts.Sim
	if s == nil {
		var err error
		if s, err = sim.Start(sim.Config{Deployments: t.Sim, Precise: true}, "127.0.0.1:0"); err != nil {
			return err
		}
		r.ownSim = true
	}
	r.sim = s
	ep, err := api.Resolve(s.URL(), api.Azure, typ, t.Sim[0].Name, "", cmp.Or(t.APIVersion, "2024-10-21"))
	if err != nil {
		return plan.Errorf("%v", err)
	}
	r.ep = ep
	return nil
}

// tokenizer picks the client's tokenizer: the plan's, the model's, or
// o200k_base with a note when the model is not known.
func (r *Run) tokenizer(m models.Model, known bool, model string) error {
	r.enc = r.plan.Workload.Tokenizer
	if r.enc == "" {
		if known {
			r.enc = m.Encoding
		} else {
			r.enc = tokenizer.O200k
			r.notes = append(r.notes, fmt.Sprintf("note: cannot tell the model from %q; client-side token counts use %s (set --model or --tokenizer)", model, r.enc))
		}
	}
	tok, err := tokenizer.Get(r.enc)
	if err != nil {
		return plan.Errorf("--tokenizer: %v", err)
	}
	r.tok = tok
	return nil
}

// schedule makes the pacer of an open loop (a rate, stages of rates; a
// trace's is made with its traffic) and the stages of a ramp.
func (r *Run) schedule() error {
	l := &r.plan.Load
	if len(l.Stages) > 0 {
		var stages []pace.Stage
		for _, s := range l.Stages {
			stages = append(stages, pace.Stage{Duration: s.Duration.D(), Target: s.Target})
		}
		var err error
		if r.stages, err = pace.NewStages(l.StartRate, stages); err != nil {
			return plan.Errorf("--stages: %v", err)
		}
		if !l.StageClients {
			r.pacer = r.stages
		}
	}
	if rate := l.Rate; rate != nil {
		var err error
		if l.Arrival == "poisson" {
			r.pacer, err = pace.NewPoisson(*rate, r.plan.Workload.Seed)
		} else {
			r.pacer, err = pace.NewConstant(*rate)
		}
		if err != nil {
			return plan.Errorf("--rate: %v", err)
		}
	}
	return nil
}

// describe says what the run tests, in a line.
func (r *Run) describe(model string) string {
	who := fmt.Sprintf("model %q", r.ep.Model)
	if r.ep.Deployment != "" {
		who = fmt.Sprintf("deployment %q", r.ep.Deployment)
		if model != "" && model != r.ep.Deployment {
			who += fmt.Sprintf(", model %s", model)
		}
	}
	return fmt.Sprintf("%s (%s, %s, tokenizer %s)", r.ep.Target(), r.ep.API, who, r.enc)
}

// Target describes what the run tests, for people and run.json.
func (r *Run) Target() string { return r.target }

// Notes are what the user should know before the run starts.
func (r *Run) Notes() []string { return r.notes }

// Redact removes the run's secrets (the key, URL passwords, bearer
// tokens) from s.
func (r *Run) Redact(s string) string { return r.redact.Redact(s) }

// Sim returns the built-in simulator, nil when the run has an endpoint.
func (r *Run) Sim() *sim.Running { return r.sim }

// Close releases the run's connections and files and stops the
// simulator. It is safe on a run New did not finish.
func (r *Run) Close() {
	if r.dataset != nil {
		r.dataset.Close()
	}
	if r.entra != nil {
		r.entra.Close()
	}
	if r.client != nil {
		r.client.Close()
	}
	if r.sim != nil && r.ownSim {
		r.sim.Stop()
	}
}
