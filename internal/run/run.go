// Package run executes a plan: it dispatches requests on the plan's
// schedule (open loop) or keeps a fixed number in flight (closed loop),
// sends each with the client, derives its record and feeds every record,
// the live figures once a second and the final results to the sinks.
//
// Data flows one way: pacer -> dispatch -> client -> record -> sinks. One
// goroutine, the aggregator, owns every figure, so no metric needs a lock;
// the dispatcher shares only atomic counters with it.
//
// Nothing but dispatch happens after t=0: the endpoint is resolved, the
// tokenizer and the request bodies built, the sinks' files created and
// run.json written before the first request is due.
package run

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/sink"
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
	// Sleep waits for each due time (PreciseSleep when nil; tests in
	// synctest bubbles use TimerSleep).
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
	auth    string           // key, entra or none
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

// New prepares a run of p: it checks the plan (errors are *plan.Error,
// bad input), resolves the endpoint, starts the built-in simulator when p
// has no URL, reads the key, and builds the tokenizer, the request bodies,
// the client and the pacer.
func New(p plan.Plan, o Options) (*Run, error) {
	if o.Log == nil {
		o.Log = func(string) {}
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Sleep == nil {
		o.Sleep = PreciseSleep
	}
	r := &Run{plan: p, opts: o, redact: auth.NewRedactor(api.Secrets(p.Target.URL)...)}
	for _, u := range p.Output.ServerMetrics {
		r.redact.Add(api.Secrets(u)...)
	}
	model := firstNonEmpty(p.Target.Model, p.Target.Deployment)
	if p.Target.URL == "" && len(p.Target.Sim) > 0 {
		model = p.Target.Sim[0].Model
	}
	m, known := models.Lookup(model)
	window := 0
	if known {
		window = m.ContextWindow
	}
	p.Normalize()
	if err := p.Validate(window); err != nil {
		return nil, err
	}
	for i := range p.Target.Sim {
		if err := p.Target.Sim[i].Fill(); err != nil {
			return nil, plan.Errorf("--sim: %v", err)
		}
	}
	t := &p.Target
	if t.URL == "" {
		s := o.Sim
		if s == nil {
			var err error
			if s, err = sim.Start(sim.Config{Deployments: t.Sim, Precise: true}, "127.0.0.1:0"); err != nil {
				return nil, err
			}
			r.ownSim = true
		}
		r.sim = s
		ep, err := api.Resolve(s.URL(), api.Azure, api.Type(p.Workload.Endpoint), t.Sim[0].Name, "", firstNonEmpty(t.APIVersion, "2024-10-21"))
		if err != nil {
			r.Close()
			return nil, plan.Errorf("%v", err)
		}
		r.ep = ep
	} else {
		ep, err := api.Resolve(t.URL, api.API(t.API), api.Type(p.Workload.Endpoint), t.Deployment, t.Model, t.APIVersion)
		if err != nil {
			return nil, plan.Errorf("%v", err)
		}
		r.ep = ep
	}
	header := http.Header{}
	bearer, err := r.credentials(header)
	if err != nil {
		r.Close()
		return nil, err
	}

	r.enc = p.Workload.Tokenizer
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
		r.Close()
		return nil, plan.Errorf("--tokenizer: %v", err)
	}
	r.tok = tok
	if err := r.traffic(m); err != nil {
		r.Close()
		return nil, err
	}
	r.client = client.New(client.Config{
		Endpoint: r.ep, Header: header, Bearer: bearer, Retry: p.Load.Retry, Timeout: p.Load.RequestTimeout.D(),
		MaxConns: p.Load.Clients, HTTP2: t.HTTP2, Connections: t.Connections, Redact: r.redact.Redact,
		Transport: o.Transport, TLS: o.TLS,
	})
	if len(p.Load.Stages) > 0 {
		var stages []pace.Stage
		for _, s := range p.Load.Stages {
			stages = append(stages, pace.Stage{Duration: s.Duration.D(), Target: s.Target})
		}
		if r.stages, err = pace.NewStages(p.Load.StartRate, stages); err != nil {
			r.Close()
			return nil, plan.Errorf("--stages: %v", err)
		}
		if !p.Load.StageClients {
			r.pacer = r.stages
		}
	}
	if rate := p.Load.Rate; rate != nil {
		if p.Load.Arrival == "poisson" {
			r.pacer, err = pace.NewPoisson(*rate, p.Workload.Seed)
		} else {
			r.pacer, err = pace.NewConstant(*rate)
		}
		if err != nil {
			r.Close()
			return nil, plan.Errorf("--rate: %v", err)
		}
	}
	r.shard()
	if at := p.Load.StartAt; at != "" {
		t, _ := time.Parse(time.RFC3339Nano, at)
		if d := time.Until(t); d > 24*time.Hour {
			r.Close()
			return nil, plan.Errorf("--start-at %s is %s away: more than a day", at, d.Round(time.Second))
		}
	}
	who := fmt.Sprintf("model %q", r.ep.Model)
	if r.ep.Deployment != "" {
		who = fmt.Sprintf("deployment %q", r.ep.Deployment)
		if model != "" && model != r.ep.Deployment {
			who += fmt.Sprintf(", model %s", model)
		}
	}
	r.target = fmt.Sprintf("%s (%s, %s, tokenizer %s)", r.ep.Target(), r.ep.API, who, r.enc)
	return r, nil
}

// Target describes what the run tests, for people and run.json.
func (r *Run) Target() string { return r.target }

// Tokenizer names the tokenizer of client-side counts.
func (r *Run) Tokenizer() string { return r.enc }

// Notes are what the user should know before the run starts.
func (r *Run) Notes() []string { return r.notes }

// Redact removes the run's secrets (the key, URL passwords, bearer
// tokens) from s.
func (r *Run) Redact(s string) string { return r.redact.Redact(s) }

// Sim returns the built-in simulator, nil when the run has an endpoint.
func (r *Run) Sim() *sim.Running { return r.sim }

// Close releases the run's connections and files and stops the
// simulator.
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

// Outcome is what a run produced.
type Outcome struct {
	Results *metrics.Results
	Summary *metrics.Summary
	// Fatal is set when the first request showed the endpoint is wrong
	// (no answer, 401, 403, 404): the run stopped at once.
	Fatal error
	// Input is set when a row of the dataset could not be read: dispatch
	// stopped there (the results so far are kept). It is a *plan.Error.
	Input error
}

// maxLag is the schedule lag past which the load generator is behind: a
// request that leaves this late does not test the offered rate. At low
// rates a lag is judged against the gap between requests: 11 ms does not
// change a rate of one a second.
const maxLag = 10 * time.Millisecond

// lagLimit is maxLag, or 5% of the mean gap between requests at rate (per
// minute) when that is longer.
func lagLimit(rate float64) time.Duration {
	if !(rate > 0) {
		return maxLag
	}
	return max(maxLag, time.Duration(0.05*60e9/rate))
}

// lead is the time between deciding t=0 and t=0: the sinks write run.json
// in it, so that the first request leaves on time.
const lead = 5 * time.Millisecond

// state is one execution's shared state.
type state struct {
	*Run
	pacer      pace.Pacer // this execution's own, nil for a closed loop
	sinks      []sink.Sink
	stageSums  []*metrics.Summary // the requests scheduled in each stage
	throttling throttling
	start      time.Time
	done       chan *metrics.Record
	wg         sync.WaitGroup
	sent       atomic.Int64 // requests
	dispatched atomic.Int64 // schedule slots used: requests, or sessions
	sessions   atomic.Int64
	ids        atomic.Int64 // of a multi-turn run's requests
	checked    atomic.Bool  // the first request was sent
	longAnswer atomic.Bool
	inflight   atomic.Int64
	stopped    atomic.Int64  // when dispatch stopped, from the start; 0 while it runs
	length     time.Duration // how long dispatch runs (0: until the request count)
	warmup     time.Duration // sent, left out of the figures
	answered   atomic.Bool   // some request got an answer: the endpoint is there
	heldBack   int64         // dispatcher only
	halt       chan struct{}
	over       chan struct{} // closed when dispatch has stopped
	fatal      chan struct{}
	fatalErr   error
	once       sync.Once
	badInput   chan struct{} // closed at a row of the input that cannot be read
	inputErr   error
	inputOnce  sync.Once
	turnSums   []*metrics.Summary // aggregator only: by turn
	liveBehind []string           // aggregator only: when the live line said the run was behind
	sessWG     sync.WaitGroup     // the conversations
	warn       func(string)
}

// Execute runs the plan once, feeding the sinks. Cancelling ctx stops
// dispatch and drains the requests in flight (up to the drain timeout);
// Options.Abort cuts them off. Every dispatched request is in the
// results, and the sinks get their End even when the run stops early. The
// error is a sink's (run.json, a results file).
func (r *Run) Execute(ctx context.Context, sinks ...sink.Sink) (*Outcome, error) {
	p := &r.plan
	st := &state{Run: r, done: make(chan *metrics.Record, 4096), halt: make(chan struct{}), over: make(chan struct{}), fatal: make(chan struct{}), badInput: make(chan struct{}),
		warn: func(s string) { r.opts.Log(r.redact.Redact(s)) }}
	if r.pacer != nil {
		st.pacer = r.pacer.Clone()
	}
	st.length, st.warmup = p.Load.Length().D(), p.Load.Warmup.D()
	if r.stages != nil {
		for range p.Load.Stages {
			st.stageSums = append(st.stageSums, metrics.NewSummary(metrics.SLO{TTFT: p.SLO.TTFT.D(), TPOT: p.SLO.TPOT.D(), E2E: p.SLO.E2E.D()}))
		}
	}
	sum := metrics.NewSummary(metrics.SLO{TTFT: p.SLO.TTFT.D(), TPOT: p.SLO.TPOT.D(), E2E: p.SLO.E2E.D()})

	var refreshes, failures int64
	if r.entra != nil {
		refreshes, failures = r.entra.Refreshes.Load(), r.entra.Failures.Load()
	}
	// Before t=0: decide it, let the sinks write run.json, start the
	// aggregator.
	var skew time.Duration
	st.start, skew = r.startTime(time.Now())
	if skew > time.Second {
		st.warn(fmt.Sprintf("warning: starting %.1f s after --start-at %s: this shard's schedule runs late against the others' (the merge will say so)", skew.Seconds(), p.Load.StartAt))
	}
	st.sinks = sinks
	for _, s := range sinks {
		if s.Start != nil {
			if err := s.Start(sink.Start{T0: st.start, Plan: p, Target: r.target, Tokenizer: r.enc}); err != nil {
				return nil, err
			}
		}
	}
	// halt stops dispatch: the context (drain), an abort or a fatal first
	// answer (cut off). reqCtx outlives a drain; a cut-off cancels it.
	reqCtx, cutoff := context.WithCancel(context.Background())
	defer cutoff()
	go func() {
		select {
		case <-ctx.Done():
		case <-st.badInput:
		case <-r.opts.Abort:
			cutoff()
		case <-st.fatal:
			cutoff()
		case <-reqCtx.Done():
		}
		close(st.halt)
	}()
	ticks := make(chan struct{})
	go func() {
		st.aggregate(sum)
		close(ticks)
	}()
	var stopped string
	switch {
	case !r.opts.Sleep(st.halt, st.start):
		stopped = "signal"
	case r.pacer != nil:
		stopped = st.openLoop(reqCtx)
	default:
		stopped = st.closedLoop(reqCtx)
	}
	if st.convs != nil && (stopped == "requests" || stopped == "schedule") {
		stopped = st.finishSessions(stopped)
	}
	dispatch := time.Since(st.start)
	st.stopped.Store(int64(max(dispatch, 1)))
	close(st.over)
	st.drain(ctx, cutoff)
	st.wg.Wait()
	close(st.done)
	<-ticks
	if st.fatalErr != nil { // read once every request has ended
		stopped = "endpoint"
	}
	if st.inputErr != nil {
		stopped = "input"
	}

	info := metrics.Info{Start: st.start, Stopped: stopped, Offered: math.NaN(), Sent: sum.Total(), HeldBack: st.heldBack}
	info.Window = st.window(stopped, dispatch, sum)
	if r.pacer != nil {
		info.Offered = st.offered(st.warmup, st.warmup+info.Window)
		st.notSent(&info, sum, stopped, dispatch)
	}
	res := sum.Results(info)
	res.Stages = st.stageResults(stopped, dispatch)
	if sh := p.Load.Shard; sh != nil || p.Load.StartAt != "" {
		res.Shard = &metrics.ShardResults{Count: 1, StartAt: p.Load.StartAt, Skew: metrics.Num(skew.Seconds())}
		if sh != nil {
			res.Shard.Index, res.Shard.Count = sh.Index, sh.Count
		}
	}
	if st.convs != nil {
		res.Sessions = st.sessions.Load()
		for i, ts := range st.turnSums {
			tr := ts.Results(metrics.Info{Start: st.start, Window: info.Window, Stopped: stopped, Offered: math.NaN(), Sent: ts.Total()})
			for name, d := range tr.Latency {
				d.CDF = nil
				tr.Latency[name] = d
			}
			tr.TokensPerS.CDF = nil
			res.Turns = append(res.Turns, metrics.TurnResults{Turn: i + 1, Results: tr})
		}
	}
	res.Throttling = st.throttling.reading()
	res.Quota = st.quota()
	res.Caveats = caveats(res, st.perMinute())
	if r.entra != nil {
		res.Entra = &metrics.Entra{Refreshes: r.entra.Refreshes.Load() - refreshes, Failures: r.entra.Failures.Load() - failures}
	}
	if st.convs != nil {
		res.Sessions = st.sessions.Load()
	}
	if r.pacer != nil {
		res.Invalid = st.invalid(res, sum)
		res.Valid = len(res.Invalid) == 0
		if res.Valid && len(st.liveBehind) > 0 {
			// The live line judged a window; the run is judged whole.
			lag := sum.Hist("lag").Stats().P99.F()
			res.Caveats = append(res.Caveats, fmt.Sprintf("the live line warned the load generator was behind %s; over the whole run, schedule lag p99 %.1f ms is within %v and every due request left: valid",
				strings.Join(st.liveBehind, ", "), lag*1e3, lagLimit(res.RPM.Offered.F())))
		}
	}
	for _, th := range p.SLO.Thresholds {
		res.SLO = append(res.SLO, th.Check(res))
	}
	var err error
	for _, s := range sinks {
		if s.End != nil {
			if e := s.End(sink.End{Results: res, Summary: sum}); e != nil && err == nil {
				err = e
			}
		}
	}
	return &Outcome{Results: res, Summary: sum, Fatal: st.fatalErr, Input: st.inputErr}, err
}

// window is the dispatch window that achieved rates are over
// (docs/metrics.md): for a closed loop, first send to last end; for an
// open loop, the configured duration, or, stopped by its request count,
// the time those requests were due over; else the time dispatch ran. The
// warmup is not part of it.
func (st *state) window(stopped string, dispatch time.Duration, sum *metrics.Summary) time.Duration {
	end := dispatch
	switch {
	case st.pacer == nil:
		// A closed loop's last round ends after the duration: its rate is
		// what it completed over the time it took.
		if sum.Wall() > 0 {
			return sum.Wall()
		}
	case stopped == "duration":
		end = st.length
	case stopped == "requests" && st.convs == nil:
		if d, ok := st.pacer.Clone().Due(st.requests); ok {
			end = d
		}
	}
	return max(end-st.warmup, 0)
}

// offered is the mean offered rate from a to b: the rate, or the stages'
// integral over the span.
func (st *state) offered(a, b time.Duration) float64 {
	_, n := st.shardOf()
	if st.plan.Load.Rate != nil {
		return *st.plan.Load.Rate / float64(n) // a shard's share
	}
	switch {
	case st.pacer == nil || b <= a:
		return math.NaN()
	case st.stages != nil:
		return (st.stages.Integral(b) - st.stages.Integral(a)) * 60 / (b - a).Seconds() / float64(n)
	}
	// A trace: what its offsets held in the span.
	p := st.pacer.Clone()
	return float64(p.Count(b)-p.Count(a)) * 60 / (b - a).Seconds()
}

// stageResults are the figures of each stage: the requests scheduled in
// it, over its span.
func (st *state) stageResults(stopped string, dispatch time.Duration) []metrics.StageResults {
	if st.stages == nil {
		return nil
	}
	var out []metrics.StageResults
	begin := time.Duration(0)
	for i, sum := range st.stageSums {
		end := begin + st.plan.Load.Stages[i].Duration.D()
		from := max(begin, st.warmup)
		to := end
		if stopped != "duration" {
			to = min(to, dispatch)
		}
		sr := metrics.StageResults{Index: i + 1, Start: metrics.Num(begin.Seconds()), End: metrics.Num(end.Seconds()),
			Target: st.plan.Load.Stages[i].Target, Clients: st.plan.Load.StageClients}
		if to > from {
			info := metrics.Info{Start: st.start.Add(from), Window: to - from, Stopped: stopped, Offered: math.NaN(), Sent: sum.Total()}
			if st.pacer != nil {
				info.Offered = st.offered(from, to)
			} else if st.stages != nil {
				info.Window = max(sum.Wall(), to-from)
			}
			sr.Results = sum.Results(info)
			for name, d := range sr.Results.Latency {
				d.CDF = nil
				sr.Results.Latency[name] = d
			}
			sr.Results.TokensPerS.CDF = nil
		}
		out = append(out, sr)
		begin = end
	}
	return out
}

// notSent counts the requests that were due before dispatch stopped but
// never left (the clients cap held them back), with the lag each had.
func (st *state) notSent(info *metrics.Info, sum *metrics.Summary, stopped string, dispatch time.Duration) {
	end := dispatch
	if stopped == "duration" {
		end = st.length
	}
	p := st.pacer.Clone()
	due := p.Count(end)
	if l := st.requests; l > 0 {
		due = min(due, l)
	}
	sent := st.dispatched.Load()
	// Bounded: a run that fell far behind at a huge rate must not spend
	// minutes counting what it did not send.
	const most = 1_000_000
	for n := sent; n < due && n < sent+most; n++ {
		d, ok := p.Due(n)
		if !ok {
			break
		}
		sum.NotSent(end - d)
	}
	info.NotSent = max(due-sent, 0)
}

// invalid says why an open-loop run's figures do not describe its offered
// rate: the schedule lag, the send rate, the clients cap.
func (st *state) invalid(res *metrics.Results, sum *metrics.Summary) []string {
	var why []string
	if lag, limit := sum.Hist("lag").Stats(), lagLimit(res.RPM.Offered.F()); lag.Count > 0 && lag.P99.F() > limit.Seconds() {
		why = append(why, fmt.Sprintf("schedule lag p99 %.1f ms: requests left late (past %v)", lag.P99.F()*1e3, limit))
	}
	// The schedule's unit: requests, or a multi-turn run's conversations.
	sent, unit := res.Requests.Sent, "requests"
	if st.convs != nil {
		sent, unit = res.Sessions, "conversations"
	}
	due := float64(sent + res.Requests.NotSent)
	if due > 0 && float64(sent) < 0.99*due {
		why = append(why, fmt.Sprintf("sent %d of %d due %s (%.1f%%)", sent, int64(due), unit, 100*float64(sent)/due))
	}
	if res.Requests.HeldBack > 0 {
		why = append(why, fmt.Sprintf("the --clients cap of %d held back %d due requests", st.clients, res.Requests.HeldBack))
	}
	return why
}

// quota is the deployment's per-minute limit as far as the run knows it:
// the built-in simulator's own, else the largest x-ratelimit-limit-*
// headers the endpoint sent; nil when neither.
func (st *state) quota() *metrics.Quota {
	if st.sim != nil && st.plan.Target.URL == "" {
		if tpm, rpm := st.plan.Target.Sim[0].Quota(); tpm > 0 {
			return &metrics.Quota{TPM: int64(tpm), RPM: int64(rpm), Source: "simulator"}
		}
		return nil
	}
	if t := &st.throttling; t.limitTok > 0 || t.limitReq > 0 {
		return &metrics.Quota{TPM: int64(t.limitTok), RPM: int64(t.limitReq), Source: "x-ratelimit-limit"}
	}
	return nil
}

// perMinute reports whether the deployment's limits are counted per
// minute: a standard Azure deployment (the simulator's, one that
// announced its limits, or any endpoint spoken to as Azure).
func (st *state) perMinute() bool {
	if st.plan.Target.URL == "" {
		return st.plan.Target.Sim[0].Type != "provisioned"
	}
	return st.throttling.limitTok > 0 || st.throttling.limitReq > 0 || st.ep.API == api.Azure || st.ep.API == api.AzureV1
}

// caveats say how a run's rates must be read: scaled to a minute from a
// dispatch window shorter than the quota's minute, or above what the
// quota allows in a whole minute (possible only in less than one).
func caveats(res *metrics.Results, perMinute bool) []string {
	var out []string
	w := res.Window.F()
	if perMinute && w > 0 && w < 60 {
		out = append(out, fmt.Sprintf("rates are per minute, scaled from %.1f s of dispatch: a standard deployment's quota counts a sliding minute, which this run did not fill", w))
	}
	return append(out, res.OverQuota()...)
}

// answer notes that the endpoint answered a request.
func (st *state) answer() {
	if !st.answered.Load() {
		st.answered.Store(true)
	}
}

// fail stops the run after the first request showed the endpoint is
// wrong.
func (st *state) fail(err error) {
	st.once.Do(func() {
		st.fatalErr = err
		close(st.fatal)
	})
}

// launch sends the request (or starts the session) of schedule slot n,
// due at sched, in its own goroutine. release frees the slot. It reports
// false when the input has no request n: dispatch stops.
func (st *state) launch(reqCtx context.Context, n int64, sched time.Time, release func()) bool {
	if st.convs != nil {
		return st.conversation(reqCtx, n, sched, release)
	}
	it, err := st.source.Next(n, st.halt)
	if err != nil {
		st.stopInput(err)
		release()
		return false
	}
	st.dispatched.Add(1)
	st.wg.Go(func() {
		var hold time.Duration
		rec := st.request(reqCtx, st.global(n), sched, it, nil, func(w *metrics.Wire) {
			// A closed-loop client that was throttled waits the server's
			// retry-after (a second when it gives none) before it sends
			// again: without it, 429s come back as fast as the loop can
			// send them, hundreds of thousands a minute at a real
			// deployment.
			if st.pacer == nil && w.Class == metrics.Throttled {
				hold = min(max(w.RetryAfter, 0), time.Minute)
				if hold == 0 {
					hold = time.Second
				}
			}
			if hold == 0 {
				// The request is over: its slot is free while its tokens
				// are counted.
				release()
			}
		})
		st.done <- rec
		if hold > 0 {
			st.pause(hold)
			release()
		}
	})
	return true
}

// pause waits d, or until dispatch stops; it reports whether it waited
// d out.
func (st *state) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-st.over:
	case <-st.halt:
	}
	return false
}

// halted reports whether dispatch must stop now. It reads the causes
// themselves, not only halt, which a goroutine closes a moment after
// them: a request waiting for the slot that the first (fatal) request
// frees must not leave.
func (st *state) halted() bool {
	for _, c := range []chan struct{}{st.halt, st.fatal, st.badInput} {
		select {
		case <-c:
			return true
		default:
		}
	}
	return false
}

// inputStop is why dispatch stopped when the source gave no request: a
// bad row, or a halt that ended the wait for one.
func (st *state) inputStop() string {
	if st.inputErr != nil {
		return "input"
	}
	return "signal"
}

// stopInput stops dispatch at a row of the input that cannot be read:
// the results so far are kept, and the run ends as bad input.
func (st *state) stopInput(err error) {
	if err == traffic.ErrStopped {
		return // the run is stopping anyway
	}
	st.inputOnce.Do(func() {
		flag := "--dataset"
		if st.plan.Load.Trace != nil {
			flag = "--trace"
		}
		st.inputErr = plan.Errorf("%s: %v", flag, err)
		close(st.badInput)
	})
}

// request sends one request and returns its record. answer, if not nil,
// receives choice 0's text; ended is called with the wire before the
// record is derived (the request is over then).
func (st *state) request(reqCtx context.Context, id int64, sched time.Time, it *traffic.Item, answer *[]byte, ended func(*metrics.Wire)) *metrics.Record {
	st.sent.Add(1)
	st.inflight.Add(1)
	rec := metrics.NewRecord(id, sched)
	rec.Warmup = sched.Sub(st.start) < st.warmup
	rec.ClientPrompt = it.Prompt
	rec.MaxTokens = it.MaxTokens * max(st.plan.Workload.Completions, 1)
	switch st.params.Endpoint {
	case traffic.Responses, traffic.Completions:
		// The prompt is not the chat messages counted exactly: the
		// server's usage says.
		rec.ClientPrompt = -1
		if st.params.Endpoint == traffic.Responses && it.MaxTokens > 0 {
			rec.MaxTokens = max(it.MaxTokens, traffic.MinResponsesTokens)
		}
	case traffic.Embeddings:
		rec.ClientPrompt, rec.MaxTokens = -1, 0
	}
	rec.Session, rec.Turn = it.Session, it.Turn
	w, _ := st.wires.Get().(*metrics.Wire)
	if w == nil {
		w = &metrics.Wire{}
	}
	// Only the run's first request checks the endpoint.
	check := !st.plan.Load.NoCheck && st.checked.CompareAndSwap(false, true)
	st.client.Do(reqCtx, client.Request{
		Body:    func(usage bool) []byte { return st.params.Body(nil, it, usage) },
		Whole:   !st.plan.Workload.Streams(),
		Choices: st.plan.Workload.Completions, NoRetry: check,
		Answered: st.answer, Stop: st.halt,
	}, w)
	if check {
		if err := client.Fatal(w, st.ep.Target()); err != nil {
			st.fail(err)
		}
	}
	if b := max(st.params.Batch, 1); st.params.Endpoint == traffic.Embeddings && w.Class == metrics.OK && w.Embeddings != b {
		w.Class, w.Err = metrics.Stream, fmt.Sprintf("answer held %d embeddings for %d inputs", w.Embeddings, b)
	}
	st.inflight.Add(-1)
	if ended != nil {
		ended(w)
	}
	if answer != nil {
		*answer = (*answer)[:0]
		if len(w.Text) > 0 {
			*answer = append(*answer, w.Text[0]...)
		}
	}
	if st.plan.Workload.LogContent {
		// A server may echo the key in its answer: the text is redacted
		// like every other output.
		rec.Text = &metrics.Text{Prompt: st.redact.Redact(it.LastUser())}
		if len(w.Text) > 0 {
			rec.Text.Answer = st.redact.Redact(string(w.Text[0]))
		}
	}
	// Counting tokens takes time; a run being cut off counts fast.
	rec.Derive(w, st.tok, reqCtx.Err() != nil)
	st.wires.Put(w)
	return rec
}

// conversation runs session n in its own goroutine: each turn after the
// answer to the one before and the think time, until its turns are done,
// a turn fails (there is no answer to carry on from), or dispatch stops.
// The session holds its slot throughout.
func (st *state) conversation(reqCtx context.Context, n int64, sched time.Time, release func()) bool {
	sess, err := st.convs.Session(n, st.plan.Workload.Turns, st.halt)
	if err != nil {
		st.stopInput(err)
		release()
		return false
	}
	st.dispatched.Add(1)
	st.sessions.Add(1)
	st.sessWG.Add(1)
	st.wg.Go(func() {
		defer st.sessWG.Done()
		defer release()
		// Think times draw from a stream of their own, apart from the
		// session's lengths.
		rng := rand.New(rand.NewPCG(st.plan.Workload.Seed^0x7417, uint64(n)))
		var answer []byte
		for turn := 1; ; turn++ {
			it := sess.Next()
			if it == nil {
				return
			}
			if turn > 1 {
				select {
				case <-st.over:
					return
				default:
				}
			}
			rec := st.request(reqCtx, st.ids.Add(1)-1, sched, it, &answer, nil)
			ok := rec.Class == metrics.OK
			if ok && len(answer) >= metrics.MaxText {
				st.warnOnce(&st.longAnswer, fmt.Sprintf("warning: an answer of over %d KB was cut to that in the conversation's history", metrics.MaxText>>10))
			}
			st.done <- rec
			if !ok {
				if st.pacer == nil && rec.Class == metrics.Throttled {
					// As a closed loop's single requests do: wait out
					// the throttle before the slot starts another
					// conversation.
					hold := min(max(rec.RetryAfter, 0), time.Minute)
					if hold == 0 {
						hold = time.Second
					}
					st.pause(hold)
				}
				return
			}
			sess.Answer(answer)
			if d := st.think.Sample(rng); d > 0 && !st.pause(d) {
				return
			}
			sched = time.Now()
		}
	})
	return true
}

// finishSessions lets the conversations started before dispatch stopped
// at its request count (or the schedule's end) send their remaining
// turns: the count is of conversations. The duration or a halt still
// stops them.
func (st *state) finishSessions(stopped string) string {
	idle := make(chan struct{})
	go func() {
		st.sessWG.Wait()
		close(idle)
	}()
	var deadline <-chan time.Time
	if st.length > 0 {
		t := time.NewTimer(time.Until(st.start.Add(st.length)))
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-idle:
		return stopped
	case <-deadline:
		return "duration"
	case <-st.halt:
		return "signal"
	}
}

// warnOnce logs msg the first time flag is set.
func (st *state) warnOnce(flag *atomic.Bool, msg string) {
	if flag.CompareAndSwap(false, true) {
		st.warn(msg)
	}
}

// openLoop sends each request when the schedule says, whatever earlier
// ones are doing, with at most Clients in flight, until the duration, the
// request count or the schedule's end, or a halt.
func (st *state) openLoop(reqCtx context.Context) string {
	slots := make(chan struct{}, st.clients)
	release := func() { <-slots }
	var deadline <-chan time.Time
	if st.length > 0 {
		t := time.NewTimer(time.Until(st.start.Add(st.length)))
		defer t.Stop()
		deadline = t.C
	}
	warned := false
	for n := int64(0); ; n++ {
		if st.requests > 0 && n >= st.requests {
			return "requests"
		}
		due, ok := st.pacer.Due(n)
		if st.length > 0 && (!ok || due >= st.length) {
			// Wait out the duration, so that a slow schedule still runs
			// for as long as asked.
			if !st.opts.Sleep(st.halt, st.start.Add(st.length)) {
				return "signal"
			}
			return "duration"
		}
		if !ok {
			return "schedule"
		}
		if !st.opts.Sleep(st.halt, st.start.Add(due)) {
			return "signal"
		}
		select {
		case slots <- struct{}{}:
		default:
			// The cap holds this due request back: the wait shows as
			// schedule lag, never as a skipped request; if the duration
			// ends first, it was due and not sent.
			if due >= st.warmup {
				st.heldBack++
			}
			if !warned {
				warned = true
				st.warn(fmt.Sprintf("warning: --clients %d requests in flight held back request %d; the client cap, not the service, limits this test (raise --clients)", st.clients, n))
			}
			select {
			case slots <- struct{}{}:
			case <-deadline:
				return "duration"
			case <-st.halt:
				return "signal"
			}
		}
		if st.halted() {
			// A fatal first answer (or a halt) came while this request
			// waited for its slot: it never leaves.
			release()
			return "signal"
		}
		if !st.launch(reqCtx, n, st.start.Add(due), release) {
			return st.inputStop()
		}
		// Let the request's goroutine start on this P now: the next nap
		// blocks the thread, and the goroutine would wait for the runtime
		// to take the P back.
		runtime.Gosched()
	}
}

// closedLoop keeps exactly Clients requests in flight (or, with stages
// of clients, the number the ramp says at each moment): a new request goes
// as soon as one ends.
func (st *state) closedLoop(reqCtx context.Context) string {
	var active atomic.Int64
	freed := make(chan struct{}, 1)
	release := func() {
		active.Add(-1)
		select {
		case freed <- struct{}{}:
		default:
		}
	}
	target := func(at time.Duration) int64 {
		if st.stages == nil {
			return int64(st.clients)
		}
		i, n := st.shardOf()
		return pace.Split(int64(math.Round(st.stages.Rate(at))), i, n)
	}
	var deadline <-chan time.Time
	if st.length > 0 {
		t := time.NewTimer(time.Until(st.start.Add(st.length)))
		defer t.Stop()
		deadline = t.C
	}
	// A ramp's target grows between completions: look again every 10 ms.
	var poll <-chan time.Time
	if st.stages != nil {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		poll = tk.C
	}
	for n := int64(0); ; n++ {
		if st.requests > 0 && n >= st.requests {
			return "requests"
		}
		for active.Load() >= target(time.Since(st.start)) {
			select {
			case <-freed:
			case <-poll:
			case <-deadline:
				return "duration"
			case <-st.halt:
				return "signal"
			}
		}
		if st.length > 0 && time.Since(st.start) >= st.length {
			return "duration"
		}
		if st.halted() {
			return "signal"
		}
		active.Add(1)
		if !st.launch(reqCtx, n, time.Now(), release) {
			return st.inputStop()
		}
	}
}

// drain waits for the requests in flight, up to the drain timeout (0:
// none at all), then cuts them off; an abort or a fatal answer cuts them
// off at once.
func (st *state) drain(ctx context.Context, cutoff context.CancelFunc) {
	if st.inflight.Load() == 0 {
		return
	}
	idle := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(idle)
	}()
	wait := st.plan.Load.DrainTimeout.D()
	if wait <= 0 || !st.answered.Load() && ctx.Err() != nil {
		// Nothing has answered yet: there is nothing to drain, and one
		// interrupt must not wait a minute on an endpoint that hangs.
		cutoff()
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		st.warn(fmt.Sprintf("drain timeout: cutting off %d requests still in flight (counted as incomplete)", st.inflight.Load()))
		cutoff()
	case <-st.opts.Abort:
		cutoff()
	case <-st.fatal:
		cutoff()
	}
}

// aggregate owns the summary and the window: it folds in every finished
// record, feeds the sinks, and emits the live figures once a second.
func (st *state) aggregate(sum *metrics.Summary) {
	win := metrics.NewWindow(st.plan.Output.Window.D(), st.start)
	// Ticks fall on whole seconds of the run.
	time.Sleep(time.Until(st.start))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var check pace.Pacer
	offered, stage := math.NaN(), 0
	if st.pacer != nil {
		check = st.pacer.Clone()
		if st.plan.Load.Rate != nil {
			offered = *st.plan.Load.Rate
		}
	}
	_, shards := st.shardOf()
	var completed, failures, throttled int64
	wasBehind := false
	emit := func(now time.Time, final bool) {
		win.MarkSent(now, st.sent.Load())
		elapsed := now.Sub(st.start)
		if st.stages != nil {
			i, _ := st.stages.At(elapsed)
			stage = i + 1
			if st.pacer != nil {
				offered = st.stages.Rate(elapsed)
			}
		}
		t := sink.Tick{
			RunSeconds: int(elapsed.Round(time.Second) / time.Second), Time: now, Elapsed: elapsed,
			Planned: st.length, Window: win.Snapshot(now), Stage: stage, Stages: len(st.plan.Load.Stages),
			Warmup:     elapsed < st.warmup,
			Processing: st.inflight.Load(), Requests: st.sent.Load(),
			Completed: completed, Failures: failures, Throttled: throttled, Offered: offered / float64(shards), Final: final,
		}
		if check != nil {
			// Once dispatch has stopped, nothing more is due.
			at := elapsed
			if stop := time.Duration(st.stopped.Load()); stop > 0 {
				at = min(at, stop)
			}
			t.Behind = behind(check, at, t, st.dispatched.Load(), st.requests)
			switch {
			case t.Behind != "" && !wasBehind:
				st.warn(fmt.Sprintf("WARNING: the load generator is behind its schedule (%s): the figures are not valid for %.4g RPM", t.Behind, t.Offered))
				st.liveBehind = append(st.liveBehind, fmt.Sprintf("at %d s (%s)", t.RunSeconds, t.Behind))
			case t.Behind == "" && wasBehind && !final:
				// Said as it was said: the summary weighs the whole run.
				st.warn(fmt.Sprintf("note: back on schedule at %d s", t.RunSeconds))
			}
			wasBehind = t.Behind != ""
		}
		for _, s := range st.sinks {
			if s.Tick != nil {
				s.Tick(t)
			}
		}
	}
	for {
		select {
		case rec, ok := <-st.done:
			if !ok {
				// A last line with the final figures, so that even a run
				// shorter than a second prints one.
				emit(time.Now(), true)
				return
			}
			st.throttling.add(rec, st.start)
			if !rec.Warmup {
				sum.Add(rec)
				if rec.Turn > 0 && st.convs != nil {
					for len(st.turnSums) < rec.Turn {
						st.turnSums = append(st.turnSums, metrics.NewSummary(metrics.SLO{TTFT: st.plan.SLO.TTFT.D(), TPOT: st.plan.SLO.TPOT.D(), E2E: st.plan.SLO.E2E.D()}))
					}
					st.turnSums[rec.Turn-1].Add(rec)
				}
				if st.stageSums != nil {
					i, _ := st.stages.At(rec.Sched.Sub(st.start))
					st.stageSums[i].Add(rec)
				}
			}
			win.Add(rec)
			switch rec.Class {
			case metrics.OK:
				completed++
			case metrics.Throttled:
				throttled++
			default:
				failures++
			}
			for _, s := range st.sinks {
				if s.Record != nil {
					s.Record(rec)
				}
			}
		case now := <-tick.C:
			emit(now, false)
		}
	}
}

// behind says why, at elapsed, the run is not delivering its schedule:
// requests due more than the lag limit ago not sent (past 1% of those
// due), or the window's schedule lag p99 past it; "" when it is on time.
func behind(p pace.Pacer, elapsed time.Duration, t sink.Tick, dispatched, limit int64) string {
	most := lagLimit(t.Offered)
	due := p.Count(elapsed - most)
	if limit > 0 {
		due = min(due, limit)
	}
	if late := due - dispatched; late > 0 && float64(late) > 0.01*float64(due) {
		return fmt.Sprintf("%d of %d due requests not sent", late, due)
	}
	if lag := t.Window.Lag.P99; lag > most.Seconds() {
		return fmt.Sprintf("schedule lag p99 %.1f ms", lag*1e3)
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
