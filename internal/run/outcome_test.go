package run

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
)

func constant(t *testing.T, rpm float64) pace.Pacer {
	t.Helper()
	p, err := pace.NewConstant(rpm)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLagLimit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rate float64
		want time.Duration
	}{{math.NaN(), maxLag}, {0, maxLag}, {6000, maxLag}, {60, 50 * time.Millisecond}, {1, 3 * time.Second}} {
		if got := lagLimit(c.rate); got != c.want {
			t.Errorf("lagLimit(%g) = %v, want %v", c.rate, got, c.want)
		}
	}
}

// TestWindow: the rates' window for each way a dispatch stops.
func TestWindow(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, c := range []struct {
		name  string
		sp    span
		pacer pace.Pacer
		wall  time.Duration
		want  time.Duration
	}{
		{"closed loop: first send to last end", span{stopped: metrics.StopDuration, dispatch: 10 * s, length: 10 * s}, nil, 14 * s, 14 * s},
		{"closed loop, nothing ended", span{stopped: metrics.StopSignal, dispatch: 3 * s}, nil, 0, 3 * s},
		{"the duration", span{stopped: metrics.StopDuration, dispatch: 20*s + 3*time.Millisecond, length: 20 * s}, constant(t, 60), 0, 20 * s},
		{"the duration, less the warmup", span{stopped: metrics.StopDuration, dispatch: 20 * s, length: 20 * s, warmup: 5 * s}, constant(t, 60), 0, 15 * s},
		{"the count: when those were due", span{stopped: metrics.StopRequests, dispatch: 9 * s, requests: 10}, constant(t, 60), 0, 10 * s},
		{"the count of conversations: dispatch", span{stopped: metrics.StopRequests, dispatch: 30 * s, requests: 10, sessions: true}, constant(t, 60), 0, 30 * s},
		{"a signal: dispatch", span{stopped: metrics.StopSignal, dispatch: 7 * s, length: 20 * s}, constant(t, 60), 0, 7 * s},
		{"a warmup longer than dispatch", span{stopped: metrics.StopSignal, dispatch: 2 * s, warmup: 5 * s}, constant(t, 60), 0, 0},
	} {
		if got := window(c.sp, c.pacer, c.wall); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestOffered: a rate (a shard's share), a ramp's integral, a trace's
// count, a closed loop's none.
func TestOffered(t *testing.T) {
	t.Parallel()
	s := time.Second
	ramp, err := pace.NewStages(0, []pace.Stage{{Duration: 60 * s, Target: 600}})
	if err != nil {
		t.Fatal(err)
	}
	trace, err := pace.NewOffsets([]time.Duration{0, s, 2 * s, 30 * s})
	if err != nil {
		t.Fatal(err)
	}
	rate := 120.0
	for _, c := range []struct {
		name   string
		got    float64
		want   float64
		absent bool
	}{
		{"a rate", offered(&rate, nil, constant(t, 120), 1, 0, 10*s), 120, false},
		{"a shard's share", offered(&rate, nil, constant(t, 120), 4, 0, 10*s), 30, false},
		{"a ramp's mean", offered(nil, ramp, ramp, 1, 0, 60*s), 300, false},
		{"a ramp's second half", offered(nil, ramp, ramp, 1, 30*s, 60*s), 450, false},
		{"a trace's first ten seconds", offered(nil, nil, trace, 1, 0, 10*s), 18, false},
		{"a closed loop", offered(nil, nil, nil, 1, 0, 10*s), 0, true},
		{"an empty span", offered(nil, ramp, ramp, 1, 10*s, 10*s), 0, true},
	} {
		if c.absent != math.IsNaN(c.got) || !c.absent && math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s: %g, want %g", c.name, c.got, c.want)
		}
	}
}

// TestNotSent: requests due before dispatch stopped that never left, and
// the lag each had, bounded by the count.
func TestNotSent(t *testing.T) {
	t.Parallel()
	s := time.Second
	var lags []time.Duration
	got := notSent(constant(t, 60), span{stopped: metrics.StopDuration, dispatch: 10*s + 5*time.Millisecond, length: 10 * s}, 7, func(d time.Duration) { lags = append(lags, d) })
	// Due at 0..9 s: 10; sent 7; requests 7, 8, 9 waited 3, 2 and 1 s.
	if got != 3 || len(lags) != 3 || lags[0] != 3*s || lags[2] != s {
		t.Errorf("%d not sent, lags %v", got, lags)
	}
	if got := notSent(constant(t, 60), span{stopped: metrics.StopSignal, dispatch: 10 * s, requests: 8}, 8, func(time.Duration) {}); got != 0 {
		t.Errorf("with the count sent: %d not sent", got)
	}
}

func TestStageSpans(t *testing.T) {
	t.Parallel()
	s := time.Second
	stages := []plan.Stage{{Duration: plan.Duration(10 * s), Target: 60}, {Duration: plan.Duration(20 * s), Target: 120}}
	got := stageSpans(stages, span{stopped: metrics.StopSignal, dispatch: 15 * s, warmup: 5 * s})
	want := []stageSpan{{0, 10 * s, 5 * s, 10 * s}, {10 * s, 30 * s, 10 * s, 15 * s}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("%+v, want %+v", got, want)
	}
}

// TestInvalid: each reason an open loop's figures do not describe its
// rate, and none for a run that kept up.
func TestInvalid(t *testing.T) {
	t.Parallel()
	res := func(sent, notSent, heldBack, sessions int64) *metrics.Results {
		r := &metrics.Results{Requests: metrics.Requests{Sent: sent, NotSent: notSent, HeldBack: heldBack}, Sessions: sessions}
		r.RPM.Offered = 600
		return r
	}
	lag := func(ms float64) metrics.Dist { return metrics.Dist{Count: 10, P99: metrics.Num(ms / 1e3)} }
	for _, c := range []struct {
		name string
		got  []string
		want string
	}{
		{"on time", invalid(res(100, 0, 0, 0), lag(2), 20, false), ""},
		{"late", invalid(res(100, 0, 0, 0), lag(26), 20, false), "schedule lag p99 26.0 ms: requests left late (past 10ms)"},
		{"not sent", invalid(res(80, 20, 0, 0), lag(2), 20, false), "sent 80 of 100 due requests (80.0%)"},
		{"held back", invalid(res(100, 0, 7, 0), lag(2), 20, false), "the --clients cap of 20 held back 7 due requests"},
		{"conversations", invalid(res(300, 5, 0, 95), lag(2), 20, true), "sent 95 of 100 due conversations (95.0%)"},
	} {
		if got := strings.Join(c.got, "; "); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestQuotaAndCaveats: the quota the run knows and how its rates must
// be read.
func TestQuotaAndCaveats(t *testing.T) {
	t.Parallel()
	std := plan.Plan{Target: plan.Target{Sim: []simconfig.Deployment{{Name: "d", Model: "gpt-4o-mini", TPM: 60000, RPMPer1K: 6}}}}
	ptu := plan.Plan{Target: plan.Target{Sim: []simconfig.Deployment{{Name: "d", Model: "gpt-4o", Type: "provisioned", PTU: 50}}}}
	vllm := plan.Plan{Target: plan.Target{URL: "http://127.0.0.1:8000"}}
	if q := quota(&std, true, 0, 0); q == nil || q.TPM != 60000 || q.RPM != 360 || q.Source != "simulator" {
		t.Errorf("simulator's quota %+v", q)
	}
	if q := quota(&ptu, true, 0, 0); q != nil {
		t.Errorf("provisioned: %+v", q)
	}
	if q := quota(&vllm, false, 30000, 180); q == nil || q.TPM != 30000 || q.Source != "x-ratelimit-limit" {
		t.Errorf("announced %+v", q)
	}
	if q := quota(&vllm, false, 0, 0); q != nil {
		t.Errorf("unknown: %+v", q)
	}
	for _, c := range []struct {
		p         *plan.Plan
		dialect   api.API
		announced bool
		want      bool
	}{{&std, api.Azure, false, true}, {&ptu, api.Azure, false, false}, {&vllm, api.OpenAI, false, false}, {&vllm, api.OpenAI, true, true}, {&vllm, api.AzureV1, false, true}} {
		if got := perMinute(c.p, c.dialect, c.announced); got != c.want {
			t.Errorf("perMinute(%s, %s, %v) = %v", c.p.Target.URL, c.dialect, c.announced, got)
		}
	}
	// A 10-s run at 120000 quota-counted TPM against 60000.
	res := &metrics.Results{Window: 10, Quota: &metrics.Quota{TPM: 60000, RPM: 360, Source: "simulator"}}
	res.TPM.Quota, res.RPM.Achieved = 120000, 120
	got := caveats(res, true)
	if len(got) != 2 || !strings.Contains(got[0], "scaled from 10.0 s of dispatch") || !strings.Contains(got[1], "120000 quota-counted TPM is over the 60000 TPM quota") {
		t.Errorf("caveats %q", got)
	}
	res.Window = 60
	res.TPM.Quota = 59000
	if got := caveats(res, true); len(got) != 0 {
		t.Errorf("a minute within the quota: %q", got)
	}
}

func TestThrottleHold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		class metrics.Class
		after time.Duration
		want  time.Duration
	}{{metrics.OK, time.Second, 0}, {metrics.Throttled, 0, time.Second}, {metrics.Throttled, 3 * time.Second, 3 * time.Second},
		{metrics.Throttled, time.Hour, time.Minute}, {metrics.Throttled, -time.Second, time.Second}, {metrics.HTTPStatus, time.Second, 0}} {
		if got := throttleHold(c.class, c.after); got != c.want {
			t.Errorf("throttleHold(%s, %v) = %v, want %v", c.class, c.after, got, c.want)
		}
	}
}
