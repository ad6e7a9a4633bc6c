package run

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/sink"
	"github.com/aoaibench/aoaibench/internal/size"
)

// burstyUsage writes a usage CSV of four minutes of Poisson traffic with
// two bursts: what a production export of a bursty application holds.
func burstyUsage(t *testing.T) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("timestamp,prompt_tokens,completion_tokens\n")
	for at := 0.0; at < 240; at += rng.ExpFloat64() / 1.5 { // 90 a minute
		fmt.Fprintf(&b, "%.3f,%d,%d\n", at, 200+rng.IntN(800), 20+rng.IntN(150))
	}
	for _, start := range []float64{70, 170} { // 60 large requests in 3 s
		for i := range 60 {
			fmt.Fprintf(&b, "%.3f,%d,%d\n", start+float64(i)/20, 1500+rng.IntN(1000), 100+rng.IntN(200))
		}
	}
	path := filepath.Join(t.TempDir(), "usage.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSizeReplayAgreesWithSimulator: the size replay and the simulator
// are one mechanism. Replaying the input with load --trace against a
// simulated provisioned deployment of the replay's answer gets at most
// --max-throttled, and one increment fewer gets more, as the replay
// says; the throttled counts are the replay's own, request for request
// (virtual time, and prompts and outputs of the recorded lengths).
func TestSizeReplayAgreesWithSimulator(t *testing.T) {
	path := burstyUsage(t)
	for _, maxThrottled := range []float64{0, 0.05} {
		res, err := size.Size(size.Options{Inputs: []string{path}, Model: "gpt-4o", Type: ptu.Global, MaxThrottled: maxThrottled})
		if err != nil {
			t.Fatal(err)
		}
		ans := res.Replay.PTU
		if ans <= res.Model.Min {
			t.Fatalf("the answer %d is the minimum: the test needs traffic over it", ans)
		}
		for _, n := range []int{ans, ans - res.Model.Increment} {
			var want size.Step
			for _, s := range res.Replay.Steps {
				if s.PTU == n {
					want = s
				}
			}
			if want.PTU == 0 {
				t.Fatalf("%d PTUs were not replayed", n)
			}
			synctest.Test(t, func(t *testing.T) {
				st := newStack(t, simconfig.Deployment{Name: "d", Model: "gpt-4o", Type: "provisioned", PTU: n,
					TTFT: simconfig.Duration(200 * time.Millisecond), Prefill: simconfig.Duration(20 * time.Microsecond)})
				defer st.close()
				p := basePlan("d", 100, 10)
				p.Workload.Shape = "trace"
				p.Load.Trace = &plan.Trace{Path: path}
				out, _ := st.execute(t, p, nil, nil)
				r := out.Results.Requests
				if r.Sent != int64(res.Requests) || r.OK+r.Throttled != r.Sent {
					t.Fatalf("%d PTUs: sent %d of %d, ok %d, throttled %d", n, r.Sent, res.Requests, r.OK, r.Throttled)
				}
				share := float64(r.Throttled) / float64(r.Sent)
				t.Logf("--max-throttled %g, %d PTUs: simulator throttled %d (%.2f%%), replay %d (%.2f%%)", maxThrottled, n, r.Throttled, 100*share, want.Throttled, 100*want.ThrottledShare)
				if n == ans && share > maxThrottled {
					t.Errorf("at the answer, %d PTUs, the simulator throttled %.2f%%, over --max-throttled %g", n, 100*share, maxThrottled)
				}
				if n < ans && share <= maxThrottled {
					t.Errorf("one increment under the answer, %d PTUs, the simulator throttled %.2f%%: within --max-throttled %g, as the replay says it is not", n, 100*share, maxThrottled)
				}
				if int(r.Throttled) != want.Throttled {
					t.Errorf("%d PTUs: the simulator throttled %d, the replay %d", n, r.Throttled, want.Throttled)
				}
			})
		}
	}
}

// TestSizeRecordedRun: the same agreement from a recorded run: a bursty
// run (Poisson arrivals, a ramp to ten times the rate and back) against
// an unlimited deployment, its requests.jsonl sized, then replayed with
// load --trace DIR against provisioned deployments of the answer and one
// increment under it.
func TestSizeRecordedRun(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		rec := fast()
		rec.Model = "gpt-4o"
		st := newStack(t, rec)
		defer st.close()
		p := basePlan("d", 600, 150)
		p.Load.Arrival = "poisson"
		p.Load.Stages, p.Load.StartRate = []plan.Stage{
			{Duration: plan.Duration(time.Minute), Target: 60}, {Duration: plan.Duration(2 * time.Second), Target: 900},
			{Duration: plan.Duration(10 * time.Second), Target: 900}, {Duration: plan.Duration(2 * time.Second), Target: 60},
			{Duration: plan.Duration(time.Minute), Target: 60}}, 60
		_, c := st.execute(t, p, nil, nil)
		start := c.recs[0].Sched
		for _, r := range c.recs {
			if r.Sched.Before(start) {
				start = r.Sched
			}
		}
		var b []byte
		for _, r := range c.recs {
			b = sink.RecordLine(b, r, start)
		}
		if err := os.WriteFile(filepath.Join(dir, "requests.jsonl"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	res, err := size.Size(size.Options{Inputs: []string{dir}, Model: "gpt-4o", Type: ptu.Global})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests: formula %d PTUs, replay %d; %s", res.Requests, res.Formula.PTU, res.Replay.PTU, res.Bound.Sentence)
	if res.Replay.PTU <= res.Model.Min {
		t.Fatalf("answer %d: the run needs more than the minimum for this test", res.Replay.PTU)
	}
	for _, n := range []int{res.Replay.PTU, res.Replay.PTU - res.Model.Increment} {
		want := -1
		for _, s := range res.Replay.Steps {
			if s.PTU == n {
				want = s.Throttled
			}
		}
		synctest.Test(t, func(t *testing.T) {
			st := newStack(t, simconfig.Deployment{Name: "d", Model: "gpt-4o", Type: "provisioned", PTU: n, TTFT: simconfig.Duration(200 * time.Millisecond)})
			defer st.close()
			p := basePlan("d", 100, 10)
			p.Workload.Shape = "trace"
			p.Load.Trace = &plan.Trace{Path: dir}
			out, _ := st.execute(t, p, nil, nil)
			r := out.Results.Requests
			t.Logf("%d PTUs: simulator throttled %d of %d, replay %d", n, r.Throttled, r.Sent, want)
			if r.Sent != int64(res.Requests) || int(r.Throttled) != want || (n == res.Replay.PTU) != (r.Throttled == 0) {
				t.Errorf("%d PTUs: sent %d of %d, throttled %d; the replay refused %d", n, r.Sent, res.Requests, r.Throttled, want)
			}
		})
	}
}
