package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/console"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/run"
	"github.com/aoaibench/aoaibench/internal/scrape"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// execute runs a plan with the command line's sinks (the live line on
// stdout, the summary on stderr, --log-file, --output-dir) and signals
// (the first stops dispatch and drains, the second cuts off), prints what
// it did, and returns the exit status. fileKey is an API key read from a
// parameters file, used in place of the key variable.
func execute(env *Env, p *plan.Plan, fileKey string) error {
	o, err := runPlan(env, p, stepOpts{fileKey: fileKey})
	if err != nil {
		return err // bad input (a usage or plan error), or a simulator that would not start
	}
	if o.err != nil {
		return o.err
	}
	if o.Input != nil {
		// A bad row deep in a dataset: the results so far are written,
		// and the run ends as bad input.
		return o.Input
	}
	code, why := verdict(o.Outcome)
	if why != "" {
		fmt.Fprintf(o.errw, "aoaibench: %s\n", why)
	}
	if code != ExitOK {
		// Said above, through the redactor: nothing more to print.
		return exitError{code: code}
	}
	return nil
}

// exitCode is the exit status an error from a command means (see Main).
func exitCode(err error) int {
	var ee exitError
	var ue usageError
	var pe *plan.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), errors.As(err, &pe):
		return ExitUsage
	}
	return ExitFailed
}

// stepOpts adjust runPlan for the steps of a sweep or a search.
type stepOpts struct {
	fileKey string       // an API key from --params
	sim     *sim.Running // a simulator the steps share
	step    string       // "step 3/8 at 40 RPM": a step prints one line, not the summary
	// stopAt, if set, stops dispatch at the first record it is true of.
	stopAt func(*metrics.Record) bool
}

// ran is what runPlan did.
type ran struct {
	*run.Outcome
	errw io.Writer // stderr, redacted
	err  error     // a sink's error after the run
}

// runPlan prepares and runs one plan with the command line's sinks and
// signals. Its error is bad input (nothing was sent); an error after the
// run is in ran.err.
func runPlan(env *Env, p *plan.Plan, so stepOpts) (*ran, error) {
	stderr := &lockedWriter{w: env.Stderr}
	clear := ""
	if p.Output.Format == "human" && isTerminal(env.Stdout) && isTerminal(env.Stderr) {
		// The status line is rewritten in place on the same terminal:
		// clear it before a message during the run; the next tick
		// redraws it.
		clear = "\r\x1b[K"
	}
	abort := make(chan struct{})
	logf := func(s string) {
		var b strings.Builder
		console.Note(&b, s)
		fmt.Fprint(stderr, clear+b.String())
	}
	r, err := run.New(*p, run.Options{Getenv: so.getenv(env, p), Abort: abort, Log: logf, Sim: so.sim})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Everything printed goes through the run's redactor: a server's
	// answer may echo the key.
	out := &redactWriter{w: env.Stdout, redact: r.Redact}
	errw := &redactWriter{w: stderr, redact: r.Redact}
	sinks, err := outputs(env, p, r, out, errw, so.step != "")
	if err != nil {
		return nil, err
	}
	if s := r.Sim(); s != nil && so.sim == nil {
		console.SimulatorBanner(errw, s.URL(), p.Target.Sim[0].Describe())
	}
	for _, n := range r.Notes() {
		console.Wrapped(errw, "", n)
	}
	if so.step == "" {
		console.Start(errw, r.Target(), p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer onInterrupt(env, logf, cancel, abort)()
	if so.stopAt != nil {
		sinks = append(sinks, sink.Sink{Record: func(rec *metrics.Record) {
			if so.stopAt(rec) {
				cancel()
			}
		}})
	}
	res, err := r.Execute(ctx, sinks...)
	if s := r.Sim(); s != nil && so.sim == nil {
		console.Simulator(errw, s.Stats())
	}
	if err == nil && p.Output.Dir != "" && so.step == "" {
		where := p.Output.Dir
		if p.Output.LogFile != "" {
			where += " and " + p.Output.LogFile
		}
		fmt.Fprintln(errw, "results in "+where)
	}
	return &ran{Outcome: res, errw: errw, err: err}, nil
}

// getenv is the environment the run reads, with the key from --params
// in place of the key variable's.
func (so stepOpts) getenv(env *Env, p *plan.Plan) func(string) string {
	if so.fileKey == "" {
		return env.Getenv
	}
	return func(k string) string {
		if k == p.Target.KeyEnv {
			return so.fileKey
		}
		return env.Getenv(k)
	}
}

// onInterrupt watches for interrupts through the run: the first stops
// dispatch (cancel) and lets the requests in flight drain, the second
// cuts them off (closes abort). It returns the function that stops
// watching.
func onInterrupt(env *Env, logf func(string), cancel func(), abort chan struct{}) (stop func()) {
	if env.Notify == nil {
		return func() {}
	}
	done := make(chan struct{})
	sig := make(chan os.Signal, 2)
	env.Notify(sig)
	go func() {
		for n := 1; ; n++ {
			select {
			case <-sig:
			case <-done:
				return
			}
			if n == 1 {
				logf("\ninterrupted: stopped dispatching, draining requests in flight (interrupt again to cut them off)")
				cancel()
				continue
			}
			logf("interrupted again: cutting off requests in flight")
			close(abort)
			return
		}
	}()
	return func() {
		env.Stop(sig)
		close(done)
	}
}

// runPlanStop is runPlan, stopping dispatch at the first record stop is
// true of.
func runPlanStop(env *Env, p *plan.Plan, so stepOpts, stop func(*metrics.Record) bool) (*ran, error) {
	so.stopAt = stop
	return runPlan(env, p, so)
}

// outputs makes the command line's sinks; a file that cannot be made is
// bad input, reported before anything is sent.
func outputs(env *Env, p *plan.Plan, r *run.Run, out, errw io.Writer, step bool) ([]sink.Sink, error) {
	var sinks []sink.Sink
	tty := isTerminal(env.Stdout)
	switch {
	case !step:
		sinks = append(sinks, sink.Live(out, p.Output.Format, tty), summarySink(errw))
	case tty && p.Output.Format == "human":
		// A step of a sweep or search shows its status line on a
		// terminal; its lines would bury the answer on stdout.
		sinks = append(sinks, sink.Live(out, p.Output.Format, true))
	}
	if p.Output.LogFile != "" {
		s, err := sink.JSONLog(p.Output.LogFile)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		sinks = append(sinks, s)
	}
	if addr := p.Output.MetricsListen; addr != "" && !step {
		i, n := 0, 1
		if sh := p.Load.Shard; sh != nil {
			i, n = sh.Index, sh.Count
		}
		prom := sink.NewProm(sink.ShardLabels(i, n))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, usagef("--metrics-listen: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", prom.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		fmt.Fprintf(errw, "metrics: http://%s/metrics\n", ln.Addr())
		linger := p.Output.MetricsLinger.D()
		sinks = append(sinks, prom.Sink(), sink.Sink{End: func(sink.End) error {
			if linger > 0 {
				fmt.Fprintf(errw, "metrics: serving the final figures for %s\n", linger)
				time.Sleep(linger)
			}
			// A scrape in flight finishes; the port closes with the run.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			return nil
		}})
	}
	if len(p.Output.ServerMetrics) > 0 && !step {
		s, err := serverMetrics(p, r, errw)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if p.Output.Dir != "" {
		if _, err := os.Stat(filepath.Join(p.Output.Dir, "summary.json")); err == nil {
			fmt.Fprintf(errw, "note: --output-dir %s holds an earlier run: its files are replaced\n", p.Output.Dir)
		}
		var cmd []string
		for _, a := range os.Args {
			cmd = append(cmd, r.Redact(a))
		}
		s, err := sink.Dir(p.Output.Dir, Version(), cmd)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

// verdict is a finished run's exit status and, unless it is 0, why.
func verdict(o *run.Outcome) (int, string) {
	if o.Fatal != nil {
		return ExitFailed, "error: " + o.Fatal.Error()
	}
	return judge(o.Results)
}

// judge is the exit status of a run's results and, unless it is 0, why:
// the one rule load, lab, sweep, search and merge apply.
func judge(r *metrics.Results) (int, string) {
	q := r.Requests
	// Requests cut off when the run ended (a second interrupt, the drain
	// timeout) say nothing against the endpoint, but a run in which
	// nothing succeeded measured nothing.
	ended := q.Sent - q.Incomplete
	failed := q.Failed() - q.Throttled - q.Incomplete
	switch {
	case q.Sent == 0:
		return ExitFailed, "error: the run failed: no request was sent before it ended"
	case q.OK == 0 && ended == 0:
		return ExitFailed, fmt.Sprintf("error: the run failed: none of %d requests succeeded (all were cut off when the run ended)", q.Sent)
	case q.OK == 0:
		return ExitFailed, fmt.Sprintf("error: the run failed: none of %d requests succeeded", q.Sent)
	case 2*failed > ended:
		return ExitFailed, fmt.Sprintf("error: the run failed: %d of %d requests failed (other than throttled)", failed, ended)
	case !r.Valid && len(r.Invalid) > 0:
		return ExitInvalid, "the figures are NOT VALID for the asked rate: " + strings.Join(r.Invalid, "; ")
	}
	var missed []string
	for _, c := range r.SLO {
		if !c.Passed {
			missed = append(missed, c.Objective)
		}
	}
	if len(missed) > 0 {
		return ExitSLO, "missed --slo objectives: " + strings.Join(missed, ", ")
	}
	return ExitOK, ""
}

// summarySink prints the summary at the end of a run. A run stopped
// because the endpoint is wrong has nothing to summarize: its error says
// it all.
func summarySink(w io.Writer) sink.Sink {
	return sink.Sink{End: func(e sink.End) error {
		if e.Results.Stopped != metrics.StopEndpoint {
			console.Summary(w, e.Results)
		}
		return nil
	}}
}

// isTerminal reports whether w is a terminal: the live view then updates
// one line in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// redactWriter removes secrets from everything written through it.
type redactWriter struct {
	w      io.Writer
	redact func(string) string
}

func (r *redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lockedWriter serializes writes from the run's goroutines and the
// signal handler.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// profiles are the --cpu-profile and --mem-profile of a run; both files
// are made before the run, so that a path that cannot be written fails
// before anything is sent.
type profiles struct {
	cpu, mem *os.File
}

func startProfiles(cpu, mem string) (*profiles, error) {
	p := &profiles{}
	if mem != "" {
		f, err := os.Create(mem)
		if err != nil {
			return nil, usagef("--mem-profile: %v", err)
		}
		p.mem = f
	}
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			p.close()
			return nil, usagef("--cpu-profile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
		p.cpu = f
	}
	return p, nil
}

func (p *profiles) stop() error {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		p.cpu.Close()
		p.cpu = nil
	}
	if p.mem != nil {
		err := pprof.Lookup("allocs").WriteTo(p.mem, 0)
		if cerr := p.mem.Close(); err == nil {
			err = cerr
		}
		p.mem = nil
		if err != nil {
			return fmt.Errorf("--mem-profile: %w", err)
		}
	}
	return nil
}

// close closes what stop did not (a run that did not start).
func (p *profiles) close() {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		p.cpu.Close()
	}
	if p.mem != nil {
		p.mem.Close()
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--mem-profile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("--mem-profile: %w", err)
	}
	return nil
}

// serverMetrics is the sink that scrapes the inference servers' own
// metrics through the run, into server-metrics.jsonl with --output-dir,
// and at the end sets their figures beside the client's.
func serverMetrics(p *plan.Plan, r *run.Run, errw io.Writer) (sink.Sink, error) {
	var f *os.File
	var out io.Writer
	if p.Output.Dir != "" {
		if err := os.MkdirAll(p.Output.Dir, 0o755); err != nil {
			return sink.Sink{}, usagef("--output-dir: %v", err)
		}
		var err error
		if f, err = os.Create(filepath.Join(p.Output.Dir, "server-metrics.jsonl")); err != nil {
			return sink.Sink{}, usagef("--output-dir: %v", err)
		}
		out = f
	}
	var targets []string
	for _, u := range p.Output.ServerMetrics {
		targets = append(targets, strings.TrimSpace(u))
	}
	sc := scrape.New(targets, time.Second, out, r.Redact)
	// The server may serve other models, and other clients: its figures
	// are the run's model's when it labels them so.
	sc.Model = p.Target.Deployment
	if sc.Model == "" {
		sc.Model = p.Target.Model
	}
	return sink.Sink{
		Start: func(s sink.Start) error {
			sc.Start(s.T0)
			for _, fg := range sc.Figures() {
				if fg.Err != "" {
					fmt.Fprintf(errw, "warning: --server-metrics %s: %s (scraping on)\n", api.WithoutPassword(fg.Target), fg.Err)
				}
			}
			return nil
		},
		End: func(e sink.End) error {
			err := sc.Stop()
			if f != nil {
				if cerr := f.Close(); err == nil && cerr != nil {
					err = fmt.Errorf("writing server-metrics.jsonl: %w", cerr)
				}
			}
			console.Server(errw, sc.Figures(), e.Results)
			return err
		},
	}, nil
}
