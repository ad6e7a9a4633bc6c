package sim

import (
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// lab runs the seed lab's scenario against the standard quota: rpm requests
// a minute for 180 s, each estimated at 4,500 prompt + 500 max tokens, with
// the given arrival offset (network jitter) added to each.
func lab(tpm int, rpm float64, jitter func(i int) time.Duration) (sent, throttled int) {
	epoch := time.Unix(1000, 0)
	q := newStandard(tpm, 6, epoch)
	for i := 0; ; i++ {
		at := time.Duration(float64(i) * 60 / rpm * float64(time.Second))
		if at >= 180*time.Second {
			return
		}
		sent++
		if !q.admit(epoch.Add(at+jitter(i)+300*time.Millisecond), 5000).ok {
			throttled++
		}
	}
}

func TestLabScenarios(t *testing.T) {
	none := func(int) time.Duration { return 0 }
	// A client microseconds early or late must not change the result.
	wobble := func(i int) time.Duration { return time.Duration((i%3)-1) * 200 * time.Microsecond }
	for _, j := range []func(int) time.Duration{none, wobble} {
		// 20K TPM at 4 RPM: 4 x 5,000 = 20,000 tokens a minute, exactly the
		// quota: every request fits, at the edge.
		if sent, th := lab(20_000, 4, j); sent != 12 || th != 0 {
			t.Errorf("20K TPM, 4 RPM: %d sent, %d throttled; want 12, 0", sent, th)
		}
		// 200K TPM at 50 RPM: 250,000 estimated tokens a minute against
		// 200,000: about a fifth throttled (40 of each 50 fit a minute).
		sent, th := lab(200_000, 50, j)
		if sent != 150 || th < 25 || th > 35 {
			t.Errorf("200K TPM, 50 RPM: %d sent, %d throttled; want 150 and about 30", sent, th)
		}
	}
	// One more request a minute than fits is throttled.
	if _, th := lab(20_000, 5, none); th == 0 {
		t.Error("20K TPM at 5 RPM: nothing throttled")
	}
}

func TestCallRateSubWindows(t *testing.T) {
	epoch := time.Unix(0, 0)
	// 100K TPM -> 600 RPM -> at most 10 requests in any 1 s.
	q := newStandard(100_000, 6, epoch)
	ok := 0
	for i := range 15 {
		v := q.admit(epoch.Add(time.Duration(i)*10*time.Millisecond), 10)
		if v.ok {
			ok++
		} else if v.reason != "requests" {
			t.Fatalf("reason %q", v.reason)
		} else if i == 10 && v.after != 900*time.Millisecond {
			// The first call (t=0) leaves the 1 s window at t=1 s.
			t.Errorf("retry after %v, want 900ms", v.after)
		}
	}
	if ok != 10 {
		t.Fatalf("%d admitted in 150 ms, want 10", ok)
	}
	// Throttled calls count too: at 1.005 s the five refused calls (at
	// 100..140 ms) are still in the window, so this one is refused as well;
	// once they leave it, calls pass again.
	if v := q.admit(epoch.Add(1005*time.Millisecond), 10); v.ok {
		t.Error("throttled calls did not count toward the call rate")
	}
	if v := q.admit(epoch.Add(2200*time.Millisecond), 10); !v.ok {
		t.Errorf("a call after the window slid was refused: %+v", v)
	}
	// 20K TPM -> 120 RPM -> 2 a second.
	q = newStandard(20_000, 6, epoch)
	if q.reqWin != time.Second || q.reqMax != 2 {
		t.Errorf("120 RPM: window %v max %d", q.reqWin, q.reqMax)
	}
	// 1K TPM -> 6 RPM -> 1 per 10 s.
	q = newStandard(1_000, 6, epoch)
	if q.reqWin != 10*time.Second || q.reqMax != 1 {
		t.Errorf("6 RPM: window %v max %d", q.reqWin, q.reqMax)
	}
}

func TestTokenRetryAfter(t *testing.T) {
	epoch := time.Unix(0, 0)
	q := newStandard(10_000, 600, epoch)
	if !q.admit(epoch.Add(2500*time.Millisecond), 6000).ok || !q.admit(epoch.Add(30*time.Second), 4000).ok {
		t.Fatal("first two refused")
	}
	// At 40 s the window holds 10,000; 1,000 more needs the second-2 bucket
	// (6,000 tokens) to expire at 62 s.
	v := q.admit(epoch.Add(40*time.Second), 1000)
	if v.ok || v.reason != "tokens" || v.after != 22*time.Second {
		t.Fatalf("verdict %+v, want tokens after 22s", v)
	}
	if !q.admit(epoch.Add(62*time.Second), 1000).ok {
		t.Fatal("refused once capacity returned")
	}
	// A request larger than the quota never fits.
	if v := q.admit(epoch.Add(200*time.Second), 20_000); v.ok || v.after != time.Minute {
		t.Fatalf("oversized request: %+v", v)
	}
	// Unlimited quota admits everything.
	if !newStandard(0, 6, epoch).admit(epoch, 1<<30).ok {
		t.Fatal("unlimited quota refused")
	}
}

func TestProvisionedBucket(t *testing.T) {
	t0 := time.Unix(0, 0)
	// 15 x 4,000 = 60,000 units a minute; an output token counts 4.
	p := newProvisioned(simconfig.Deployment{PTU: 15, TPMPerPTU: 4000, OutputRatio: 4}, t0)
	// 10,000 uncached prompt tokens and 5,000 max tokens: 30,000 units.
	if !p.admit(t0, 10_000, 5_000).ok || p.utilization(t0) != 50 {
		t.Fatalf("utilization %v, want 50", p.utilization(t0))
	}
	// It generated 2,500: 20,000 units.
	p.correct(t0, 10_000, 5_000, 2_500)
	if u := p.utilization(t0); u < 33.3 || u > 33.4 {
		t.Fatalf("after correction %v, want 33.3", u)
	}
	now := t0.Add(10 * time.Second)
	p.admit(now, 60_000, 0)
	v := p.admit(now, 1, 0)
	if v.ok || v.reason != "utilization" || v.after <= 0 || v.after > 11*time.Second {
		t.Fatalf("at 100%%: %+v", v)
	}
	if !p.admit(now.Add(v.after), 1, 0).ok {
		t.Fatal("refused after retry-after")
	}
}

func TestExampleConfig(t *testing.T) {
	deps, err := simconfig.Load("../../docs/sim-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Deployments: deps})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := s.Deployments()
	if len(d) != 2 || d[0].TPM != 20000 || d[1].PTU != 50 || time.Duration(d[0].Prefill) != 20*time.Microsecond {
		t.Fatalf("deployments %+v", d)
	}
	if _, err := simconfig.Load("testdata/nonexistent.yaml"); err == nil {
		t.Error("missing file: no error")
	}
}

func TestWaitersHeap(t *testing.T) {
	var h waiters
	t0 := time.Unix(0, 0)
	order := []int{5, 3, 9, 1, 7, 1, 8, 2, 6, 4, 0}
	for _, o := range order {
		h.push(waiter{due: t0.Add(time.Duration(o))})
	}
	prev := time.Duration(-1)
	for len(h) > 0 {
		d := h.pop().due.Sub(t0)
		if d < prev {
			t.Fatalf("popped %v after %v", d, prev)
		}
		prev = d
	}
}
