package load

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/client"
	"github.com/aoaibench/aoaibench/internal/memnet"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/schedule"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/workload"
)

// stack is the simulator and a client on an in-memory network, for use
// inside a synctest bubble.
type stack struct {
	sim      *sim.Server
	client   *client.Client
	builder  *workload.Builder
	peak     atomic.Int64 // most requests in flight at the client
	inflight atomic.Int64
	close    func()
}

func newStack(t *testing.T, d sim.Deployment, context, maxTokens int) *stack {
	t.Helper()
	s, err := sim.New(sim.Config{Deployments: []sim.Deployment{d}})
	if err != nil {
		t.Fatal(err)
	}
	st := &stack{sim: s}
	ln := memnet.Listen()
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	ep, err := client.Resolve("http://127.0.0.1:1", client.Azure, d.Name, "", "2024-10-21")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := tokenizer.Get(tokenizer.O200k)
	tr := &http.Transport{DialContext: ln.Dial, DisableCompression: true, MaxIdleConnsPerHost: 1000}
	st.client = client.New(client.Config{Endpoint: ep, Tokenizer: tok, Transport: counting{tr, st}})
	st.builder, err = workload.New(workload.Spec{Context: context, MaxTokens: maxTokens})
	if err != nil {
		t.Fatal(err)
	}
	st.close = func() {
		tr.CloseIdleConnections()
		hs.Close()
		s.Close()
		ln.Close()
		time.Sleep(time.Second) // let closing connections finish, in virtual time
	}
	return st
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

func (st *stack) config(c Config) Config {
	c.Client, c.Builder, c.Sleep = st.client, st.builder, TimerSleep
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.Clients == 0 {
		c.Clients = 1000
	}
	return c
}

// collect runs a test and returns the result and every record.
func collect(st *stack, c Config, stop <-chan struct{}, ctx context.Context) (*Result, []*metrics.Record) {
	var mu sync.Mutex
	var recs []*metrics.Record
	c = st.config(c)
	c.Record = func(r *metrics.Record) {
		mu.Lock()
		recs = append(recs, r)
		mu.Unlock()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	res := Run(ctx, c, stop)
	return res, recs
}

func fast() sim.Deployment {
	return sim.Deployment{Name: "d", Model: "gpt-4o-mini", TTFT: sim.Duration(200 * time.Millisecond), ITL: sim.Duration(20 * time.Millisecond)}
}

func TestOpenLoopExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast(), 100, 50)
		defer st.close()
		sch, _ := schedule.NewConstant(6000)
		res, recs := collect(st, Config{Schedule: sch, Offered: 6000, Duration: 10 * time.Second}, nil, nil)
		// 100 a second for 10 s: exactly 1,000, the first at t=0, none
		// at t=10 s.
		if res.Sent != 1000 || len(recs) != 1000 || res.Summary.Counts[metrics.OK] != 1000 || res.Stopped != "duration" {
			t.Fatalf("sent %d, records %d, ok %d, stopped %s", res.Sent, len(recs), res.Summary.Counts[metrics.OK], res.Stopped)
		}
		byID := map[int64]*metrics.Record{}
		for _, r := range recs {
			byID[r.ID] = r
		}
		for i := int64(0); i < 1000; i++ {
			r := byID[i]
			if want := res.Start.Add(time.Duration(i) * 10 * time.Millisecond); !r.Sched.Equal(want) {
				t.Fatalf("request %d scheduled at %v, want %v", i, r.Sched.Sub(res.Start), want.Sub(res.Start))
			}
			if lag, _ := r.Lag(); lag != 0 {
				t.Fatalf("request %d lag %v in virtual time", i, lag)
			}
			// The simulator's model: TTFT 200 ms, 20 ms per token.
			if d, _ := r.TTFT(); d != 200*time.Millisecond {
				t.Fatalf("request %d TTFT %v", i, d)
			}
			if d, _ := r.TPOT(); d != 20*time.Millisecond {
				t.Fatalf("request %d TPOT %v", i, d)
			}
			if r.OutputTokens() != 50 || r.PromptTokens() != 100 || r.ClientOutput != 50 {
				t.Fatalf("request %d tokens %d/%d", i, r.PromptTokens(), r.OutputTokens())
			}
		}
		if n := res.Summary.ITL.Count(); n != 1000*49 {
			t.Errorf("ITL samples %d", n)
		}
	})
}

func TestFractionalRateAndPoisson(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast(), 50, 5)
		defer st.close()
		sch, _ := schedule.NewConstant(0.5) // one every 2 minutes
		res, recs := collect(st, Config{Schedule: sch, Duration: 5 * time.Minute}, nil, nil)
		if res.Sent != 3 {
			t.Fatalf("0.5 RPM over 5 min sent %d, want 3", res.Sent)
		}
		for _, r := range recs {
			if off := r.Sched.Sub(res.Start); off%(2*time.Minute) != 0 {
				t.Errorf("request at %v", off)
			}
		}
		p, _ := schedule.NewPoisson(600, 3)
		res, _ = collect(st, Config{Schedule: p, Duration: time.Minute}, nil, nil)
		if res.Sent < 540 || res.Sent > 660 {
			t.Errorf("Poisson 600 RPM sent %d in a minute", res.Sent)
		}
	})
}

func TestRequestCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast(), 50, 5)
		defer st.close()
		sch, _ := schedule.NewConstant(60000)
		res, recs := collect(st, Config{Schedule: sch, Requests: 37, Duration: time.Hour}, nil, nil)
		if res.Sent != 37 || len(recs) != 37 || res.Stopped != "requests" {
			t.Fatalf("sent %d records %d stopped %s", res.Sent, len(recs), res.Stopped)
		}
	})
}

func TestClientsCapLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Requests take 200 ms + 9*20 ms = 380 ms; at 10 a second, about 4
		// are in flight, so a cap of 2 holds requests back.
		st := newStack(t, fast(), 50, 10)
		defer st.close()
		sch, _ := schedule.NewConstant(600)
		var warned []string
		res, recs := collect(st, Config{Schedule: sch, Duration: 5 * time.Second, Clients: 2,
			Warn: func(s string) { warned = append(warned, s) }}, nil, nil)
		if p := st.peak.Load(); p != 2 {
			t.Errorf("peak in flight %d, want 2", p)
		}
		if res.HeldBack == 0 || len(warned) != 1 || !strings.Contains(warned[0], "client cap") {
			t.Fatalf("held back %d, warnings %q", res.HeldBack, warned)
		}
		// Held-back requests keep their schedule: the wait is lag, and
		// latency from schedule includes it (no coordinated omission).
		var maxLag time.Duration
		for _, r := range recs {
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
	})
}

func TestClosedLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast(), 50, 10)
		defer st.close()
		res, recs := collect(st, Config{Clients: 3, Requests: 30}, nil, nil)
		if res.Sent != 30 || len(recs) != 30 || st.peak.Load() != 3 {
			t.Fatalf("sent %d records %d peak %d", res.Sent, len(recs), st.peak.Load())
		}
		// Each client sends its next request when its last ends: 10 rounds
		// of 380 ms.
		if d := res.Summary.Duration(); d != 10*380*time.Millisecond {
			t.Errorf("duration %v, want 3.8s", d)
		}
		res, _ = collect(st, Config{Clients: 4, Duration: 3 * time.Second}, nil, nil)
		if res.Stopped != "duration" || res.Sent != 4*8 {
			t.Errorf("closed loop for 3 s: sent %d stopped %s", res.Sent, res.Stopped)
		}
	})
}

func TestDrainTimeoutIncomplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := fast()
		slow.ITL = sim.Duration(time.Second) // 10-token requests take 9.2 s
		st := newStack(t, slow, 50, 10)
		defer st.close()
		sch, _ := schedule.NewConstant(60)
		var warned []string
		res, recs := collect(st, Config{Schedule: sch, Duration: 3 * time.Second, DrainTimeout: 2 * time.Second,
			Warn: func(s string) { warned = append(warned, s) }}, nil, nil)
		if res.Sent != 3 || len(recs) != 3 || res.Summary.Counts[metrics.Incomplete] != 3 {
			t.Fatalf("sent %d records %d incomplete %d", res.Sent, len(recs), res.Summary.Counts[metrics.Incomplete])
		}
		for _, r := range recs {
			if d, ok := r.E2E(); !ok || d <= 0 {
				t.Errorf("incomplete request without a time to failure: %v", d)
			}
		}
		if len(warned) != 1 || !strings.Contains(warned[0], "drain timeout") {
			t.Errorf("warnings %q", warned)
		}
	})
}

func TestStopThenCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := fast()
		slow.ITL = sim.Duration(time.Second)
		st := newStack(t, slow, 50, 10)
		defer st.close()
		sch, _ := schedule.NewConstant(60)
		// A soft stop at 2.5 s: dispatch ends, the 3 requests drain fully.
		stop := make(chan struct{})
		time.AfterFunc(2500*time.Millisecond, func() { close(stop) })
		res, _ := collect(st, Config{Schedule: sch, Duration: time.Hour, DrainTimeout: time.Minute}, stop, nil)
		if res.Stopped != "signal" || res.Sent != 3 || res.Summary.Counts[metrics.OK] != 3 {
			t.Fatalf("soft stop: stopped %s sent %d ok %d", res.Stopped, res.Sent, res.Summary.Counts[metrics.OK])
		}
		// A hard stop cuts requests in flight at once.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(2500*time.Millisecond, cancel)
		sch, _ = schedule.NewConstant(60)
		start := time.Now()
		res, recs := collect(st, Config{Schedule: sch, Duration: time.Hour, DrainTimeout: time.Minute}, nil, ctx)
		if res.Summary.Counts[metrics.Incomplete] != 3 || len(recs) != 3 || time.Since(start) != 2500*time.Millisecond {
			t.Fatalf("hard stop: sent %d incomplete %d records %d after %v, counts %v", res.Sent, res.Summary.Counts[metrics.Incomplete], len(recs), time.Since(start), res.Summary.Counts)
		}
	})
}

func TestTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast(), 50, 10)
		defer st.close()
		sch, _ := schedule.NewConstant(600)
		var ticks []Tick
		collect(st, Config{Schedule: sch, Duration: 5 * time.Second, Tick: func(tk Tick) { ticks = append(ticks, tk) }}, nil, nil)
		if len(ticks) < 5 {
			t.Fatalf("%d ticks", len(ticks))
		}
		// At 3 s: sent at 0, 0.1, ... 2.9 s = 30; each takes 380 ms, so
		// those sent by 2.6 s are done (27). The window is the 3 elapsed
		// seconds: 27 completions in 3 s = 540 RPM.
		tk := ticks[2]
		// (The request due at 3 s may or may not be out at the tick.)
		if tk.RunSeconds != 3 || tk.Requests < 30 || tk.Requests > 31 || tk.Completed != 27 || tk.Processing != tk.Requests-27 ||
			tk.Window.Span != 3 || tk.Window.RPM != 540 || math.Abs(tk.Window.TTFT.P95-0.2) > 1e-6 || math.Abs(tk.Window.E2E.Avg-0.38) > 1e-6 {
			t.Fatalf("tick %+v", tk)
		}
	})
}

// TestLabScenariosEndToEnd runs the seed lab's two runs, whole, through the
// client and the simulator, in virtual time: gpt-35-turbo-16k at 20K TPM
// with 4 RPM, then at 200K TPM with 50 RPM; 4,500-token prompts, 500 max
// tokens, no retries, 180 s.
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
			d := sim.Deployment{Name: "gpt-35-turbo-16k", TPM: c.tpm, TTFT: sim.Duration(150 * time.Millisecond),
				Prefill: sim.Duration(20 * time.Microsecond), ITL: sim.Duration(10 * time.Millisecond)}
			st := newStack(t, d, 4500, 500)
			defer st.close()
			sch, _ := schedule.NewConstant(c.rpm)
			res, recs := collect(st, Config{Schedule: sch, Duration: 180 * time.Second, Offered: c.rpm}, nil, nil)
			th := res.Summary.Counts[metrics.Throttled]
			if res.Sent != c.sent || th < c.minTh || th > c.maxTh || res.Summary.Counts[metrics.OK]+th != c.sent {
				t.Fatalf("%d TPM at %g RPM: sent %d, throttled %d, counts %v", c.tpm, c.rpm, res.Sent, th, res.Summary.Counts)
			}
			for _, r := range recs {
				if r.Class == metrics.OK && (r.PromptTokens() != 4500 || r.OutputTokens() != 500 || r.ClientPrompt != 4500) {
					t.Fatalf("tokens %d/%d", r.PromptTokens(), r.OutputTokens())
				}
				if r.Class == metrics.Throttled && (r.RetryAfter <= 0 || !strings.Contains(r.Err, "token rate limit")) {
					t.Fatalf("throttled without retry-after or reason: %v %q", r.RetryAfter, r.Err)
				}
			}
			simTh := st.sim.Stats().Deployments["gpt-35-turbo-16k"].ThrottledTotal()
			if simTh != th {
				t.Errorf("client saw %d throttled, simulator %d", th, simTh)
			}
		})
	}
}
