package run

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/memnet"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// stack is the simulator on an in-memory network, for use inside a
// synctest bubble, and a run's options that reach it.
type stack struct {
	sim      *sim.Server
	tr       *http.Transport
	peak     atomic.Int64 // most requests in flight at the client
	inflight atomic.Int64
	close    func()
	opts     Options // extra options for execute
}

func newStack(t *testing.T, d simconfig.Deployment, more ...simconfig.Deployment) *stack {
	t.Helper()
	s, err := sim.New(sim.Config{Deployments: append([]simconfig.Deployment{d}, more...)})
	if err != nil {
		t.Fatal(err)
	}
	st := &stack{sim: s}
	ln := memnet.Listen()
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	st.tr = &http.Transport{DialContext: ln.Dial, DisableCompression: true, MaxIdleConnsPerHost: 1000}
	st.close = func() {
		st.tr.CloseIdleConnections()
		hs.Close()
		s.Close()
		ln.Close()
		time.Sleep(time.Second) // let closing connections finish, in virtual time
	}
	return st
}

// basePlan is a plan against the stack's deployment d.
func basePlan(d string, context, maxTokens int) plan.Plan {
	return plan.Plan{
		Schema:   plan.Version,
		Target:   plan.Target{URL: "http://127.0.0.1:1", API: "azure", Deployment: d, Model: "gpt-4o-mini", APIVersion: "2024-10-21"},
		Workload: plan.Workload{Shape: "custom", ContextTokens: context, MaxTokens: maxTokens, Completions: 1},
		Load: plan.Load{Clients: 1000, RequestTimeout: plan.Duration(10 * time.Minute), DrainTimeout: plan.Duration(time.Minute),
			Retry: "none"},
		Output: plan.Output{Format: "jsonl", Window: plan.Duration(time.Minute)},
	}
}

func rate(r float64) *float64 { return &r }

// collected is what a run gave its sinks.
type collected struct {
	mu    sync.Mutex
	recs  []*metrics.Record
	ticks []sink.Tick
	logs  []string
}

// execute runs p against the stack, with ctx (nil: background) and abort.
func (st *stack) execute(t *testing.T, p plan.Plan, ctx context.Context, abort <-chan struct{}) (*Outcome, *collected) {
	t.Helper()
	c := &collected{}
	opts := st.opts
	opts.Transport, opts.Sleep, opts.Abort = counting{st.tr, st}, TimerSleep, abort
	opts.Log = func(s string) { c.mu.Lock(); c.logs = append(c.logs, s); c.mu.Unlock() }
	collect := sink.Sink{
		Record: func(r *metrics.Record) { c.recs = append(c.recs, r) },
		Tick:   func(tk sink.Tick) { c.ticks = append(c.ticks, tk) },
	}
	r, err := New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ctx == nil {
		ctx = context.Background()
	}
	out, err := r.Execute(ctx, collect)
	if err != nil {
		t.Fatal(err)
	}
	return out, c
}

// counting counts requests in flight at the client: from the round trip's
// start until its body is closed.
type counting struct {
	rt http.RoundTripper
	st *stack
}

func (c counting) RoundTrip(req *http.Request) (*http.Response, error) {
	n := c.st.inflight.Add(1)
	for {
		p := c.st.peak.Load()
		if n <= p || c.st.peak.CompareAndSwap(p, n) {
			break
		}
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		c.st.inflight.Add(-1)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, st: c.st}
	return resp, nil
}

type countedBody struct {
	io.ReadCloser
	st   *stack
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.st.inflight.Add(-1) })
	return b.ReadCloser.Close()
}

func fast() simconfig.Deployment {
	return simconfig.Deployment{Name: "d", Model: "gpt-4o-mini", TTFT: simconfig.Duration(200 * time.Millisecond), ITL: simconfig.Duration(20 * time.Millisecond)}
}

func TestOpenLoopExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 100, 50)
		p.Load.Rate, p.Load.Duration = rate(6000), plan.Duration(10*time.Second)
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		// 100 a second for 10 s: exactly 1,000, the first at t=0, none
		// at t=10 s.
		if res.Requests.Sent != 1000 || len(c.recs) != 1000 || res.Requests.OK != 1000 || res.Stopped != "duration" {
			t.Fatalf("sent %d, records %d, ok %d, stopped %s", res.Requests.Sent, len(c.recs), res.Requests.OK, res.Stopped)
		}
		start := c.recs[0].Sched
		for _, r := range c.recs {
			if r.ID == 0 {
				start = r.Sched
			}
		}
		for _, r := range c.recs {
			if want := start.Add(time.Duration(r.ID) * 10 * time.Millisecond); !r.Sched.Equal(want) {
				t.Fatalf("request %d scheduled at %v, want %v", r.ID, r.Sched.Sub(start), want.Sub(start))
			}
			if lag, _ := r.Lag(); lag != 0 {
				t.Fatalf("request %d lag %v in virtual time", r.ID, lag)
			}
			// The simulator's model: TTFT 200 ms, 20 ms per token.
			if d, _ := r.TTFT(); d != 200*time.Millisecond {
				t.Fatalf("request %d TTFT %v", r.ID, d)
			}
			if d, _ := r.TPOT(); d != 20*time.Millisecond {
				t.Fatalf("request %d TPOT %v", r.ID, d)
			}
			if r.OutputTokens() != 50 || r.PromptTokens() != 100 || r.ClientOutput != 50 {
				t.Fatalf("request %d tokens %d/%d", r.ID, r.PromptTokens(), r.OutputTokens())
			}
		}
		if n := out.Summary.Hist("itl").Count(); n != 1000*49 {
			t.Errorf("ITL samples %d", n)
		}
		// An unthrottled open-loop run reads its offered rate: 1,000
		// completions over the 10 s dispatch window, whatever the drain.
		if res.RPM.Achieved != 6000 || res.RPM.Sent != 6000 || !res.Valid || res.Window != 10 {
			t.Errorf("achieved %v sent %v valid %v window %v", res.RPM.Achieved, res.RPM.Sent, res.Valid, res.Window)
		}
		// One connection per concurrent stream, reused.
		if res.Connections.New > 300 || res.Connections.Protocols["HTTP/1.1"] != 1000 {
			t.Errorf("connections %+v", res.Connections)
		}
	})
}

func TestFractionalRateAndPoisson(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 5)
		p.Load.Rate, p.Load.Duration = rate(0.5), plan.Duration(5*time.Minute) // one every 2 minutes
		out, c := st.execute(t, p, nil, nil)
		if out.Results.Requests.Sent != 3 {
			t.Fatalf("0.5 RPM over 5 min sent %d, want 3", out.Results.Requests.Sent)
		}
		for _, r := range c.recs {
			if off := r.Sched.Sub(c.recs[0].Sched); off%(2*time.Minute) != 0 {
				t.Errorf("request at %v", off)
			}
		}
		p.Load.Rate, p.Load.Arrival, p.Load.Duration = rate(600), "poisson", plan.Duration(time.Minute)
		out, _ = st.execute(t, p, nil, nil)
		if n := out.Results.Requests.Sent; n < 540 || n > 660 {
			t.Errorf("Poisson 600 RPM sent %d in a minute", n)
		}
	})
}

// TestRequestCount: an open loop stopped by its request count has its
// rates over the time those requests were due.
func TestRequestCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 5)
		p.Load.Rate, p.Load.Requests, p.Load.Duration = rate(120), 20, plan.Duration(time.Hour)
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		if res.Requests.Sent != 20 || len(c.recs) != 20 || res.Stopped != "requests" {
			t.Fatalf("sent %d records %d stopped %s", res.Requests.Sent, len(c.recs), res.Stopped)
		}
		// 20 requests at 120 RPM: 10 s; the achieved rate reads 120, not
		// 20 over first send to last end (9.28 s: 129 RPM).
		if res.Window != 10 || res.RPM.Achieved != 120 {
			t.Errorf("window %v achieved %v", res.Window, res.RPM.Achieved)
		}
	})
}

// TestDurationBoundsHeldBack: with --clients holding requests back, the
// duration still ends dispatch; requests due and never sent are counted,
// never sent late.
func TestDurationBoundsHeldBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := fast()
		slow.ITL = simconfig.Duration(time.Second / 10) // 10 tokens: 1.1 s a request
		st := newStack(t, slow)
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Clients, p.Load.Duration = rate(600), 2, plan.Duration(5*time.Second)
		start := time.Now()
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		// Two at a time, 1.1 s each: about 10 in 5 s, of 50 due.
		if res.Stopped != "duration" || res.Requests.Sent > 12 || res.Requests.NotSent < 38 || res.Requests.Sent+res.Requests.NotSent != 50 {
			t.Fatalf("stopped %s sent %d not sent %d", res.Stopped, res.Requests.Sent, res.Requests.NotSent)
		}
		for _, r := range c.recs {
			if r.Send.Sub(c.recs[0].Sched) > 5*time.Second {
				t.Errorf("request %d sent after the duration", r.ID)
			}
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second+1200*time.Millisecond+lead {
			t.Errorf("ran %v", elapsed)
		}
		if res.Valid || !strings.Contains(strings.Join(res.Invalid, ";"), "held back") {
			t.Errorf("valid %v %q", res.Valid, res.Invalid)
		}
		if out.Summary.Hist("not_sent_lag").Count() != res.Requests.NotSent {
			t.Error("not-sent lags")
		}
	})
}

func TestClientsCapLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Requests take 200 ms + 9*20 ms = 380 ms; at 10 a second, about 4
		// are in flight, so a cap of 2 holds requests back.
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Clients, p.Load.Duration = rate(600), 2, plan.Duration(5*time.Second)
		out, c := st.execute(t, p, nil, nil)
		if pk := st.peak.Load(); pk != 2 {
			t.Errorf("peak in flight %d, want 2", pk)
		}
		if out.Results.Requests.HeldBack == 0 || !strings.Contains(strings.Join(c.logs, "\n"), "client cap") {
			t.Fatalf("held back %d, logs %q", out.Results.Requests.HeldBack, c.logs)
		}
		// Held-back requests keep their schedule: the wait is lag, and
		// latency from schedule includes it (no coordinated omission).
		var maxLag time.Duration
		for _, r := range c.recs {
			lag, _ := r.Lag()
			maxLag = max(maxLag, lag)
			fromSched, _ := r.TTFTSched()
			ttft, _ := r.TTFT()
			if fromSched != ttft+lag {
				t.Fatalf("TTFT from schedule %v != TTFT %v + lag %v", fromSched, ttft, lag)
			}
		}
		if maxLag < 500*time.Millisecond {
			t.Errorf("max lag %v: want it to grow while the cap holds", maxLag)
		}
		// The live line says the run is behind.
		found := false
		for _, tk := range c.ticks {
			found = found || tk.Behind != ""
		}
		if !found {
			t.Error("no tick says the run is behind")
		}
	})
}

func TestClosedLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Clients, p.Load.Requests = 3, 30
		out, c := st.execute(t, p, nil, nil)
		if out.Results.Requests.Sent != 30 || len(c.recs) != 30 || st.peak.Load() != 3 {
			t.Fatalf("sent %d records %d peak %d", out.Results.Requests.Sent, len(c.recs), st.peak.Load())
		}
		// Each client sends its next request when its last ends: 10 rounds
		// of 380 ms, the window the rates are over.
		if d := out.Summary.Wall(); d != 10*380*time.Millisecond || out.Results.Window != 3.8 {
			t.Errorf("wall %v window %v, want 3.8s", d, out.Results.Window)
		}
		p.Load.Clients, p.Load.Requests, p.Load.Duration = 4, 0, plan.Duration(3*time.Second)
		out, _ = st.execute(t, p, nil, nil)
		if out.Results.Stopped != "duration" || out.Results.Requests.Sent != 4*8 {
			t.Errorf("closed loop for 3 s: sent %d stopped %s", out.Results.Requests.Sent, out.Results.Stopped)
		}
		// Its last round ends after the 3 s: 32 requests in 8 rounds of
		// 380 ms, 3.04 s, not 32 over the 3 s of dispatch.
		if w, rpm := out.Results.Window.F(), out.Results.RPM.Achieved.F(); math.Abs(w-3.04) > 1e-9 || math.Abs(rpm-32/3.04*60) > 1e-6 {
			t.Errorf("window %v, achieved %v RPM", w, rpm)
		}
	})
}

func TestDrainTimeoutIncomplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := fast()
		slow.ITL = simconfig.Duration(time.Second) // 10-token requests take 9.2 s
		st := newStack(t, slow)
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Duration, p.Load.DrainTimeout = rate(60), plan.Duration(3*time.Second), plan.Duration(2*time.Second)
		out, c := st.execute(t, p, nil, nil)
		if out.Results.Requests.Sent != 3 || len(c.recs) != 3 || out.Results.Requests.Incomplete != 3 {
			t.Fatalf("sent %d records %d incomplete %d", out.Results.Requests.Sent, len(c.recs), out.Results.Requests.Incomplete)
		}
		for _, r := range c.recs {
			if d, ok := r.E2E(); !ok || d <= 0 {
				t.Errorf("incomplete request without a time to failure: %v", d)
			}
		}
		if !strings.Contains(strings.Join(c.logs, "\n"), "drain timeout") {
			t.Errorf("logs %q", c.logs)
		}
		// A drain timeout of 0 cuts off at once.
		p.Load.DrainTimeout = 0
		start := time.Now()
		out, _ = st.execute(t, p, nil, nil)
		if out.Results.Requests.Incomplete != 3 || time.Since(start) != 3*time.Second+lead {
			t.Errorf("drain 0: incomplete %d after %v", out.Results.Requests.Incomplete, time.Since(start))
		}
	})
}

func TestStopThenCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := fast()
		slow.ITL = simconfig.Duration(time.Second)
		st := newStack(t, slow)
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Duration = rate(60), plan.Duration(time.Hour)
		// A stop at 2.5 s: dispatch ends, the 3 requests drain fully.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(2500*time.Millisecond+lead, cancel)
		out, _ := st.execute(t, p, ctx, nil)
		if out.Results.Stopped != "signal" || out.Results.Requests.Sent != 3 || out.Results.Requests.OK != 3 {
			t.Fatalf("soft stop: stopped %s sent %d ok %d", out.Results.Stopped, out.Results.Requests.Sent, out.Results.Requests.OK)
		}
		// An abort cuts requests in flight at once.
		abort := make(chan struct{})
		time.AfterFunc(2500*time.Millisecond+lead, func() { close(abort) })
		start := time.Now()
		out, c := st.execute(t, p, nil, abort)
		if out.Results.Requests.Incomplete != 3 || len(c.recs) != 3 || time.Since(start) != 2500*time.Millisecond+lead {
			t.Fatalf("abort: sent %d incomplete %d records %d after %v", out.Results.Requests.Sent, out.Results.Requests.Incomplete, len(c.recs), time.Since(start))
		}
	})
}

func TestTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Duration = rate(600), plan.Duration(5*time.Second)
		_, c := st.execute(t, p, nil, nil)
		if len(c.ticks) < 5 {
			t.Fatalf("%d ticks", len(c.ticks))
		}
		// At 3 s: sent at 0, 0.1, ... 2.9 s = 30; each takes 380 ms, so
		// those sent by 2.6 s are done (27). The window is the 3 elapsed
		// seconds: 27 completions in 3 s = 540 RPM.
		tk := c.ticks[2]
		// (The request due at 3 s may or may not be out at the tick.)
		if tk.RunSeconds != 3 || tk.Requests < 30 || tk.Requests > 31 || tk.Completed != 27 || tk.Processing != tk.Requests-27 ||
			tk.Window.Span != 3 || tk.Window.RPM != 540 || math.Abs(tk.Window.TTFT.P95-0.2) > 1e-6 || math.Abs(tk.Window.E2E.Avg-0.38) > 1e-6 ||
			tk.Behind != "" || tk.Offered != 600 {
			t.Fatalf("tick %+v", tk)
		}
		if last := c.ticks[len(c.ticks)-1]; !last.Final || last.Completed != 50 {
			t.Errorf("last tick %+v", last)
		}
	})
}

// TestFirstRequestChecks: no probe request is sent; the run's first
// request checks the endpoint, and an answer of 404 stops the run at once.
func TestFirstRequestChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("nosuch", 50, 10)
		p.Load.Rate, p.Load.Duration = rate(6000), plan.Duration(time.Minute)
		start := time.Now()
		out, _ := st.execute(t, p, nil, nil)
		if out.Fatal == nil || !strings.Contains(out.Fatal.Error(), "404") || out.Results.Stopped != "endpoint" {
			t.Fatalf("fatal %v stopped %s", out.Fatal, out.Results.Stopped)
		}
		if time.Since(start) > time.Second || out.Results.Requests.Sent > 10 {
			t.Errorf("ran %v, sent %d", time.Since(start), out.Results.Requests.Sent)
		}
		// With the check off, a wrong deployment runs to the end.
		p.Load.NoCheck, p.Load.Duration = true, plan.Duration(time.Second)
		out, _ = st.execute(t, p, nil, nil)
		if out.Fatal != nil || out.Results.Requests.Sent != 100 || out.Results.Requests.HTTP != 100 {
			t.Errorf("no check: %v sent %d", out.Fatal, out.Results.Requests.Sent)
		}
		// A good endpoint: the first request is a request like any other,
		// and the simulator saw no other.
		p = basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Requests = rate(600), 5
		before := st.sim.Stats().Deployments["d"].Accepted
		out, _ = st.execute(t, p, nil, nil)
		if out.Fatal != nil || st.sim.Stats().Deployments["d"].Accepted-before != 5 {
			t.Errorf("accepted %d for 5 requests", st.sim.Stats().Deployments["d"].Accepted-before)
		}
	})
}

// TestLabScenariosEndToEnd runs the seed lab's two runs, whole, through the
// client and the simulator, in virtual time: gpt-35-turbo-16k at 20K TPM
// with 4 RPM, then at 200K TPM with 50 RPM; 4,500-token prompts, 500 max
// tokens, no retries, 180 s. The first runs exactly at its quota: with the
// old probe request, its tokens tipped the fourth request over.
func TestLabScenariosEndToEnd(t *testing.T) {
	for _, c := range []struct {
		tpm          int
		rpm          float64
		sent         int64
		minTh, maxTh int64
	}{
		{20_000, 4, 12, 0, 0},
		{200_000, 50, 150, 25, 35},
	} {
		synctest.Test(t, func(t *testing.T) {
			d := simconfig.Deployment{Name: "gpt-35-turbo-16k", TPM: c.tpm, TTFT: simconfig.Duration(150 * time.Millisecond),
				Prefill: simconfig.Duration(20 * time.Microsecond), ITL: simconfig.Duration(10 * time.Millisecond)}
			st := newStack(t, d)
			defer st.close()
			p := basePlan("gpt-35-turbo-16k", 4500, 500)
			p.Target.Model = "gpt-35-turbo-16k"
			p.Load.Rate, p.Load.Duration = rate(c.rpm), plan.Duration(180*time.Second)
			out, recs := st.execute(t, p, nil, nil)
			res := out.Results
			th := res.Requests.Throttled
			if res.Requests.Sent != c.sent || th < c.minTh || th > c.maxTh || res.Requests.OK+th != c.sent {
				t.Fatalf("%d TPM at %g RPM: sent %d, throttled %d, %+v", c.tpm, c.rpm, res.Requests.Sent, th, res.Requests)
			}
			for _, r := range recs.recs {
				if r.Class == metrics.OK && (r.PromptTokens() != 4500 || r.OutputTokens() != 500 || r.ClientPrompt != 4500) {
					t.Fatalf("tokens %d/%d", r.PromptTokens(), r.OutputTokens())
				}
				if r.Class == metrics.Throttled && (r.RetryAfter <= 0 || !strings.Contains(r.Err, "token rate limit")) {
					t.Fatalf("throttled without retry-after or reason: %v %q", r.RetryAfter, r.Err)
				}
			}
			simStats := st.sim.Stats().Deployments["gpt-35-turbo-16k"]
			if simStats.ThrottledTotal() != th || simStats.Accepted != res.Requests.OK {
				t.Errorf("client saw %d throttled, %d ok; simulator %d, %d", th, res.Requests.OK, simStats.ThrottledTotal(), simStats.Accepted)
			}
			// 4 RPM reads 4 RPM and 20,000 quota TPM exactly: completions
			// over the 180 s dispatch window.
			if c.rpm == 4 && (res.RPM.Achieved != 4 || res.TPM.Quota != 20000 || res.TPM.Total != 20000) {
				t.Errorf("4 RPM run: achieved %v RPM, quota TPM %v, TPM %v", res.RPM.Achieved, res.TPM.Quota, res.TPM.Total)
			}
		})
	}
}

// TestBadPlans: bad input is a *plan.Error before anything is sent.
func TestBadPlans(t *testing.T) {
	for _, tc := range []struct {
		edit func(*plan.Plan)
		want string
	}{
		{func(p *plan.Plan) { p.Workload.ContextTokens = 0 }, "--context-tokens"},
		{func(p *plan.Plan) { p.Workload.ContextTokens = 2_000_000_000 }, "context window"},
		{func(p *plan.Plan) { p.Load.Rate = rate(math.Inf(1)) }, "--rate"},
		{func(p *plan.Plan) { p.Target.URL = "http://127.0.0.1:99999" }, "port"},
		{func(p *plan.Plan) { p.Target.URL, p.Target.KeyEnv = "https://x.openai.azure.com", "NOPE" }, "NOPE"},
	} {
		p := basePlan("d", 50, 10)
		tc.edit(&p)
		_, err := New(p, Options{})
		var perr *plan.Error
		if !errors.As(err, &perr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want a plan error naming %s, got %v", tc.want, err)
		}
	}
}

// TestReasoningModel: a reasoning model's hidden tokens are counted in
// completion_tokens; TPOT is over the streamed tokens, TTFT includes the
// reasoning, and the client's count is no mismatch.
func TestReasoningModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := fast()
		d.Name, d.Model, d.ReasoningTokens = "o3", "o3-mini", 64
		st := newStack(t, d)
		defer st.close()
		p := basePlan("o3", 50, 200)
		p.Target.Model = "o3-mini"
		p.Load.Rate, p.Load.Requests = rate(600), 5
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		if res.Requests.OK != 5 || res.Tokens.Reasoning != 5*64 || res.Tokens.Visible != 5*136 || res.Tokens.Output != 5*200 || res.Tokens.Mismatched != 0 {
			t.Fatalf("%+v %+v", res.Requests, res.Tokens)
		}
		for _, r := range c.recs {
			if d, _ := r.TPOT(); d != 20*time.Millisecond {
				t.Errorf("TPOT %v, want 20ms (reasoning left out)", d)
			}
			if d, _ := r.TTFT(); d != 200*time.Millisecond+64*20*time.Millisecond {
				t.Errorf("TTFT %v", d)
			}
		}
	})
}

// TestChoices: n=3 against the simulator: each choice's tokens and TPOT,
// and one TPOT sample per choice.
func TestChoices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 20)
		p.Workload.Completions = 3
		p.Load.Rate, p.Load.Requests = rate(600), 4
		out, c := st.execute(t, p, nil, nil)
		if out.Results.Requests.OK != 4 || out.Summary.Hist("tpot").Count() != 12 {
			t.Fatalf("ok %d, TPOT samples %d", out.Results.Requests.OK, out.Summary.Hist("tpot").Count())
		}
		for _, r := range c.recs {
			if len(r.Choices) != 3 || r.Choices[2].Tokens != 20 || r.OutputTokens() != 60 {
				t.Fatalf("choices %+v", r.Choices)
			}
			if d, _ := r.TPOT(); d != 20*time.Millisecond {
				t.Errorf("TPOT %v, want 20ms per choice", d)
			}
		}
	})
}

// TestInterruptWhileNothingAnswers: one interrupt stops a run whose
// endpoint has not answered anything at once, without a drain.
func TestInterruptWhileNothingAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang)
		ln := memnet.Listen()
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		})}
		go hs.Serve(ln)
		defer func() { hs.Close(); ln.Close() }()
		tr := &http.Transport{DialContext: ln.Dial}
		defer tr.CloseIdleConnections()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Duration = rate(60), plan.Duration(time.Hour)
		r, err := New(p, Options{Transport: tr, Sleep: TimerSleep})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Second, cancel)
		start := time.Now()
		out, err := r.Execute(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 3*time.Second || out.Results.Requests.Incomplete != 3 {
			t.Errorf("stopped after %v with %+v", d, out.Results.Requests)
		}
	})
}

// TestInterruptStopsRetries: after the first interrupt no new attempt
// leaves: requests waiting to retry a 429 end at once as incomplete,
// instead of retrying on for a minute.
func TestInterruptStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := fast()
		d.Storm429 = 1 // every request 429, retry-after 1 to 5 s
		st := newStack(t, d)
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Duration, p.Load.Retry = rate(60), plan.Duration(time.Hour), "exponential"
		ctx, cancel := context.WithCancel(context.Background())
		var atStop int64
		// Half a second off the 429s and retries, which come on whole
		// seconds.
		time.AfterFunc(5500*time.Millisecond, func() {
			atStop = st.sim.Stats().Deployments["d"].ThrottledTotal()
			cancel()
		})
		start := time.Now()
		out, _ := st.execute(t, p, ctx, nil)
		q := out.Results.Requests
		if after := st.sim.Stats().Deployments["d"].ThrottledTotal(); after != atStop {
			t.Errorf("%d attempts after the interrupt", after-atStop)
		}
		// The first request checks the endpoint: it is not retried.
		if d := time.Since(start); d != 5500*time.Millisecond || q.Sent != 6 || q.Throttled != 1 || q.Incomplete != 5 {
			t.Errorf("ended after %v with %+v", d, q)
		}
	})
}

// TestClosedLoopBacksOffOn429: a closed loop against a deployment that
// throttles everything waits each retry-after instead of hammering it.
func TestClosedLoopBacksOffOn429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := fast()
		d.Storm429 = 1 // every request 429, retry-after 1 to 5 s
		st := newStack(t, d)
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Clients, p.Load.Duration, p.Load.NoCheck = 4, plan.Duration(10*time.Second), true
		for _, turns := range []int{0, 3} {
			// Conversations too: a throttled first turn ends its
			// conversation, and the slot waits before the next.
			p.Workload.Turns = turns
			start := time.Now()
			out, _ := st.execute(t, p, nil, nil)
			// 4 clients, each waiting 1 to 5 s after each 429: at most 4 x 10.
			if n := out.Results.Requests.Throttled; n < 4 || n > 40 {
				t.Errorf("turns %d: %d requests throttled in 10 s by 4 clients", turns, n)
			}
			if d := time.Since(start); d > 10*time.Second+time.Second {
				t.Errorf("turns %d: ran %v: the back-off outlived the run", turns, d)
			}
		}
	})
}

// TestStages: a ramp from 0 to 600 RPM over 30 s, then 30 s at 600,
// dispatches exactly its integral (150 + 300), each request at its due
// time; the summary has each stage's figures; the ticks say the stage.
func TestStages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Stages = []plan.Stage{{Duration: plan.Duration(30 * time.Second), Target: 600}, {Duration: plan.Duration(30 * time.Second), Target: 600}}
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		if res.Requests.Sent != 450 || res.Stopped != "duration" || res.Window != 60 || math.Abs(res.RPM.Offered.F()-450) > 1e-9 {
			t.Fatalf("sent %d stopped %s window %v offered %v", res.Requests.Sent, res.Stopped, res.Window, res.RPM.Offered)
		}
		if len(res.Stages) != 2 || res.Stages[0].Results.Requests.Sent != 150 || res.Stages[1].Results.Requests.Sent != 300 ||
			res.Stages[1].Results.RPM.Achieved != 600 || math.Abs(res.Stages[0].Results.RPM.Offered.F()-300) > 1e-9 {
			t.Fatalf("stages %+v %+v", res.Stages[0].Results.Requests, res.Stages[1].Results.RPM)
		}
		// Requests per second follow the ramp: in second k of the first
		// stage, the integral gives (2k+1)/6 a second... 1/6 of k+0.5.
		perSec := map[int]int{}
		for _, r := range c.recs {
			perSec[int(r.Sched.Sub(c.recs[0].Sched)/time.Second)]++
			if lag, _ := r.Lag(); lag != 0 {
				t.Fatalf("lag %v", lag)
			}
		}
		if perSec[0] > 1 || perSec[29] < 9 || perSec[29] > 10 || perSec[45] != 10 {
			t.Errorf("per second: %v", perSec)
		}
		var stages []int
		for _, tk := range c.ticks {
			stages = append(stages, tk.Stage)
		}
		if len(stages) < 60 || stages[0] != 1 || stages[40] != 2 || c.ticks[14].Offered != 300 || c.ticks[14].RunSeconds != 15 {
			t.Errorf("tick stages %v, offered at %d s %v", stages, c.ticks[14].RunSeconds, c.ticks[14].Offered)
		}
	})
}

// TestClientStages: a closed loop ramping from 1 to 8 clients holds the
// number the ramp says.
func TestClientStages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.StartRate, p.Load.StageClients = 1, true
		p.Load.Stages = []plan.Stage{{Duration: plan.Duration(10 * time.Second), Target: 8}, {Duration: plan.Duration(10 * time.Second), Target: 8}}
		out, _ := st.execute(t, p, nil, nil)
		if pk := st.peak.Load(); pk != 8 {
			t.Errorf("peak in flight %d, want 8", pk)
		}
		s := out.Results.Stages
		// Stage 2 holds 8 clients, 380 ms a request: about 8 / 0.38 a second.
		if len(s) != 2 || s[1].Results == nil || math.Abs(s[1].Results.RPM.Achieved.F()-8/0.38*60) > 60 {
			t.Fatalf("stage 2 %+v", s[1].Results)
		}
		if a, b := s[0].Results.Requests.Sent, s[1].Results.Requests.Sent; a >= b {
			t.Errorf("the ramp sent %d, the hold %d", a, b)
		}
	})
}

// TestWarmup: the warmup is sent but not counted; rates are over the rest.
func TestWarmup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Rate, p.Load.Duration, p.Load.Warmup = rate(600), plan.Duration(20*time.Second), plan.Duration(5*time.Second)
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		warm := 0
		for _, r := range c.recs {
			if r.Warmup {
				warm++
			}
		}
		if warm != 50 || len(c.recs) != 200 || res.Requests.Sent != 150 || res.Window != 15 || res.RPM.Achieved != 600 || !res.Valid {
			t.Errorf("warmup %d of %d; counted %d over %v s at %v RPM", warm, len(c.recs), res.Requests.Sent, res.Window, res.RPM.Achieved)
		}
	})
}

// TestThrottlingReading: when 429s come, the summary says when, and what
// the endpoint admitted in the minute before: the quota that binds.
func TestThrottlingReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := fast()
		d.TPM, d.RPMPer1K = 12000, 60 // 720 RPM; the tokens bind: 100 + 50 = 150 a request, 80 a minute
		st := newStack(t, d)
		defer st.close()
		p := basePlan("d", 100, 50)
		p.Load.Rate, p.Load.Duration = rate(120), plan.Duration(90*time.Second)
		out, _ := st.execute(t, p, nil, nil)
		th := out.Results.Throttling
		if th == nil {
			t.Fatal("no throttling reading")
		}
		// 120 RPM of 150 tokens fills 12,000 in 40 s: the 81st request.
		if th.FirstAt.F() != 40 || th.QuotaTPM.F() != 12000 || th.RPMBefore.F() != 80 || th.Span.F() != 40 || th.LimitTokens != 12000 {
			t.Errorf("throttling %+v", th)
		}
	})
}
