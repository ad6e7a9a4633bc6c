package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// epoch is when the test deployments' quotas start.
func epoch() time.Time { return time.Unix(1_000_000, 0) }

// testDeployment is the deployment of dc, filled, its quota starting at its epoch.
func testDeployment(t *testing.T, dc simconfig.Deployment) *deployment {
	t.Helper()
	if dc.Name == "" {
		dc.Name = "d"
	}
	if dc.Model == "" {
		dc.Model = "gpt-4o-mini"
	}
	if err := dc.Fill(); err != nil {
		t.Fatal(err)
	}
	return newDeployment(dc, epoch())
}

// chatAsk is a chat request's measure: prompt tokens and max tokens.
func chatAsk(prompt, limit int) ask {
	return ask{kind: kindChat, prompt: prompt, exact: true, n: 1, limit: limit, asked: true}
}

// counts are a deployment's admission counts, by name.
func counts(x *depStats) map[string]int64 {
	m := map[string]int64{"accepted": x.Accepted, "failed": x.Failed, "invalid": x.Invalid, "spilled": x.Spilled}
	for k, v := range x.Throttled {
		m["throttled "+k] = v
	}
	return m
}

// decideCase is one decision of a deployment of dep: on ask, at its epoch, after
// the asks before.
type decideCase struct {
	name    string
	dep     simconfig.Deployment
	before  []ask
	ask     ask
	want    outcome
	counted string                // the count it adds one to
	check   func(decision) string // what else is wrong with it ("" for nothing)
}

// unless is a check's message when ok is false.
func unless(ok bool, msg string) string {
	if ok {
		return ""
	}
	return msg
}

func runDecide(t *testing.T, cases []decideCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := testDeployment(t, c.dep)
			for _, b := range c.before {
				d.decide(epoch(), b)
			}
			was := counts(&d.stats)
			dec := d.decide(epoch(), c.ask)
			var added []string
			for k, v := range counts(&d.stats) {
				for range v - was[k] {
					added = append(added, k)
				}
			}
			if dec.outcome != c.want || !slices.Equal(added, []string{c.counted}) {
				t.Errorf("outcome %d counted %v, want %d counted [%s]", dec.outcome, added, c.want, c.counted)
			}
			if c.want == throttled && (dec.verdict.ok || !strings.HasSuffix(c.counted, " "+dec.verdict.reason)) {
				t.Errorf("verdict %+v for %s", dec.verdict, c.counted)
			}
			if c.check != nil {
				if msg := c.check(dec); msg != "" {
					t.Errorf("%+v: want %s", dec, msg)
				}
			}
		})
	}
}

// stdQuota is a standard deployment of 1,000 tokens and 600 requests (10
// a second) a minute.
func stdQuota() simconfig.Deployment { return simconfig.Deployment{TPM: 1000, RPMPer1K: 600} }

// ptuQuota is a provisioned deployment of 15 PTUs of 240: 3,600 units a
// minute.
func ptuQuota() simconfig.Deployment {
	return simconfig.Deployment{Type: "provisioned", PTU: 15, TPMPerPTU: 240}
}

// with is dep changed by f.
func with(dep simconfig.Deployment, f func(*simconfig.Deployment)) simconfig.Deployment {
	f(&dep)
	return dep
}

// TestDecideQuota: admission by the quota of a standard or a provisioned
// deployment, the count each decision adds to and the quota headers'
// figures; the spillover of a provisioned deployment's overflow.
func TestDecideQuota(t *testing.T) {
	full := chatAsk(100, 1000) // 100 + 1,000 x 4 units: past 3,600
	spill := chatAsk(9, 10)
	spill.spill = true
	runDecide(t, []decideCase{
		{name: "prompt past the context window", dep: stdQuota(), ask: chatAsk(128_001, 5), want: rejected, counted: "invalid",
			check: func(d decision) string {
				return unless(d == decision{outcome: rejected}, "no dice rolled, no quota read")
			}},
		{name: "within the standard quota", dep: stdQuota(), ask: chatAsk(9, 600), want: admitted, counted: "accepted",
			check: func(d decision) string {
				// 1,000 - 609 tokens left; 9 of 10 requests this second, 540 a minute.
				return unless(d.quota == quotaFigures{tpm: 1000, tokens: 391, rpm: 600, requests: 540}, "quota figures")
			}},
		{name: "tokens exhausted", dep: stdQuota(), before: []ask{chatAsk(9, 600)}, ask: chatAsk(9, 600), want: throttled, counted: "throttled tokens",
			check: func(d decision) string {
				// The first request's tokens leave the window a minute after its second.
				return unless(d.verdict.after == time.Minute && d.quota.tokens == 391, "retry after a minute, 391 tokens left")
			}},
		{name: "one request larger than the quota", dep: stdQuota(), ask: chatAsk(9, 1000), want: throttled, counted: "throttled tokens",
			check: func(d decision) string { return unless(d.verdict.after == time.Minute, "retry after a minute") }},
		{name: "requests exhausted", dep: with(stdQuota(), func(d *simconfig.Deployment) { d.RPMPer1K = 6 }), // one request per 10 s
			before: []ask{chatAsk(9, 10)}, ask: chatAsk(9, 10), want: throttled, counted: "throttled requests",
			check: func(d decision) string {
				return unless(d.verdict.after == 10*time.Second, "retry when the first call leaves its 10 s window")
			}},
		{name: "no quota", dep: simconfig.Deployment{}, before: []ask{chatAsk(9, 100_000)}, ask: chatAsk(9, 100_000), want: admitted, counted: "accepted",
			check: func(d decision) string { return unless(d.quota == quotaFigures{}, "no quota headers") }},
		{name: "provisioned under 100%", dep: ptuQuota(), ask: chatAsk(9, 10), want: admitted, counted: "accepted",
			check: func(d decision) string {
				return unless(d.quota.provisioned && d.quota.utilization > 0 && d.quota.utilization < 100, "utilization between 0 and 100%")
			}},
		{name: "provisioned over 100%", dep: ptuQuota(), before: []ask{full}, ask: chatAsk(9, 10), want: throttled, counted: "throttled utilization",
			check: func(d decision) string {
				return unless(d.quota.provisioned && d.quota.utilization >= 100 && d.verdict.after > 0, "100% or more, a retry-after")
			}},
		{name: "provisioned over 100%, spilling over", dep: ptuQuota(), before: []ask{full}, ask: spill, want: spilled, counted: "spilled",
			check: func(d decision) string {
				return unless(d.quota == quotaFigures{}, "no figures of its own: the spillover deployment answers")
			}},
		{name: "provisioned under 100%, with a spillover", dep: ptuQuota(), ask: spill, want: admitted, counted: "accepted"},
		{name: "provisioned 429 storm does not spill over", dep: with(ptuQuota(), func(d *simconfig.Deployment) { d.Storm429 = 1 }),
			ask: spill, want: throttled, counted: "throttled storm"},
	})
}

// TestDecideFaults: the simulated faults.
func TestDecideFaults(t *testing.T) {
	fault := func(f func(*simconfig.Deployment)) simconfig.Deployment { return with(stdQuota(), f) }
	runDecide(t, []decideCase{
		{name: "429 storm", dep: fault(func(d *simconfig.Deployment) { d.Storm429 = 1 }), ask: chatAsk(9, 10), want: throttled, counted: "throttled storm",
			check: func(d decision) string {
				a := d.verdict.after
				return unless(a >= time.Second && a <= 5*time.Second && a%time.Second == 0, "retry after 1 to 5 whole seconds")
			}},
		{name: "5xx", dep: fault(func(d *simconfig.Deployment) { d.Fail5xx = 1 }), ask: chatAsk(9, 10), want: failed, counted: "failed",
			check: func(d decision) string {
				want := 500 + 3*int(d.answer.seed%2)
				return unless(d.status == want && !d.cut && !d.slow, "500 for an even seed, 503 for an odd one, no other fault")
			}},
		{name: "5xx on a throttled request", dep: fault(func(d *simconfig.Deployment) { d.Fail5xx = 1 }),
			before: []ask{chatAsk(9, 600)}, ask: chatAsk(9, 600), want: throttled, counted: "throttled tokens"},
		{name: "cut stream", dep: fault(func(d *simconfig.Deployment) { d.CutStream = 1 }), ask: chatAsk(9, 10), want: admitted, counted: "accepted",
			check: func(d decision) string { return unless(d.cut && !d.slow, "cut, not slow") }},
		{name: "slow headers", dep: fault(func(d *simconfig.Deployment) { d.SlowHeaders = 1 }), ask: chatAsk(9, 10), want: admitted, counted: "accepted",
			check: func(d decision) string { return unless(d.slow && !d.cut, "slow, not cut") }},
	})
}

// TestFaultStatus: the 5xx fault answers 500 or 503, by its seed.
func TestFaultStatus(t *testing.T) {
	d := testDeployment(t, with(stdQuota(), func(d *simconfig.Deployment) { d.Fail5xx = 1 }))
	seen := map[int]int{}
	for i := range 20 {
		dec := d.decide(epoch().Add(time.Duration(i)*time.Second), chatAsk(9, 10))
		if want := 500 + 3*int(dec.answer.seed%2); dec.outcome != failed || dec.status != want {
			t.Fatalf("decision %d: %+v, want status %d", i, dec, want)
		}
		seen[dec.status]++
	}
	if seen[500] == 0 || seen[503] == 0 {
		t.Errorf("statuses %v: want 500s and 503s", seen)
	}
}

// TestDecideAnswer: an admitted request's lengths and timing.
func TestDecideAnswer(t *testing.T) {
	ms := func(n time.Duration) simconfig.Duration { return simconfig.Duration(n * time.Millisecond) }
	cache := simconfig.Deployment{TTFT: ms(100), Prefill: ms(1)}
	runDecide(t, []decideCase{
		{name: "latency", dep: simconfig.Deployment{TTFT: ms(100), Prefill: ms(1), ITL: ms(10)}, ask: chatAsk(9, 10), want: admitted, counted: "accepted",
			check: func(d decision) string {
				a := d.answer
				return unless(a.ttft == 109*time.Millisecond && a.itlScale == 1 && a.output == 10 && a.reasoning == 0 && a.cached == 0,
					"TTFT 100 ms + 9 x 1 ms, 10 tokens, no jitter")
			}},
		{name: "jitter", dep: simconfig.Deployment{TTFT: ms(100), Jitter: 0.5}, ask: chatAsk(9, 10), want: admitted, counted: "accepted",
			check: func(d decision) string {
				a := d.answer
				return unless(a.ttft >= 50*time.Millisecond && a.ttft <= 150*time.Millisecond && a.itlScale >= 0.5 && a.itlScale <= 1.5 && a.itlScale != 1,
					"TTFT and time per token within 50% of the model's")
			}},
		{name: "reasoning", dep: simconfig.Deployment{Model: "o3-mini", ReasoningTokens: 100, ITL: ms(10)}, ask: chatAsk(9, 50), want: admitted, counted: "accepted",
			check: func(d decision) string {
				// Reasoning takes all the limit but one token, before the first.
				a := d.answer
				return unless(a.reasoning == 49 && a.output == 1 && a.ttft == 490*time.Millisecond, "49 reasoning tokens, 1 visible, TTFT 49 x 10 ms")
			}},
		{name: "output between output_min and max tokens", dep: simconfig.Deployment{OutputMin: 10}, ask: chatAsk(9, 20), want: admitted, counted: "accepted",
			check: func(d decision) string {
				return unless(d.answer.output >= 10 && d.answer.output <= 20, "10 to 20 tokens")
			}},
		{name: "no max tokens: the default, spread", dep: simconfig.Deployment{DefaultOutput: 100, DefaultOutputStdev: 30, ContextWindow: 150},
			ask: ask{kind: kindChat, prompt: 100, exact: true, n: 1, limit: 50}, want: admitted, counted: "accepted",
			check: func(d decision) string {
				return unless(d.answer.output >= 1 && d.answer.output <= 50, "1 token up to the rest of the context window")
			}},
		{name: "embeddings", dep: simconfig.Deployment{ReasoningTokens: 5}, ask: ask{kind: kindEmbeddings, prompt: 9, exact: true, n: 1}, want: admitted, counted: "accepted",
			check: func(d decision) string { return unless(d.answer.output == 0 && d.answer.reasoning == 0, "no output") }},
		{name: "prompt cache hit", dep: cache,
			before: []ask{{kind: kindChat, prompt: 1200, exact: true, n: 1, limit: 5, hashes: []uint64{1, 2}}},
			ask:    ask{kind: kindChat, prompt: 1300, exact: true, n: 1, limit: 5, hashes: []uint64{1, 2, 3}}, want: admitted, counted: "accepted",
			check: func(d decision) string {
				// The first two steps (1,024 + 128 tokens) cached, their prefill free.
				a := d.answer
				return unless(a.cached == CacheMin+CacheStep && a.ttft == 248*time.Millisecond, "1,152 tokens cached, the other 148 prefilled")
			}},
		{name: "prompt cache: a throttled prompt is not cached", dep: with(cache, func(d *simconfig.Deployment) { d.TPM = 3000 }),
			before: []ask{{kind: kindChat, prompt: 1200, exact: true, n: 1, limit: 5000, hashes: []uint64{7}}},
			ask:    ask{kind: kindChat, prompt: 1200, exact: true, n: 1, limit: 5, hashes: []uint64{7}}, want: admitted, counted: "accepted",
			check: func(d decision) string { return unless(d.answer.cached == 0, "nothing cached") }},
	})
}

// TestDecideReplays: a deployment's seed replays the same decisions, the
// throttled ones' dice included.
func TestDecideReplays(t *testing.T) {
	dc := simconfig.Deployment{TPM: 100_000, RPMPer1K: 600, Seed: 5, Jitter: 0.2, OutputMin: 3, Fail5xx: 0.2, CutStream: 0.2, SlowHeaders: 0.2, Storm429: 0.2}
	decide := func() []decision {
		d := testDeployment(t, dc)
		var out []decision
		for i := range 40 {
			out = append(out, d.decide(epoch().Add(time.Duration(i)*time.Second), chatAsk(9, 10+i*7%300)))
		}
		return out
	}
	a, b := decide(), decide()
	seen := map[outcome]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("decision %d: %+v, then %+v", i, a[i], b[i])
		}
		seen[a[i].outcome] = true
	}
	if !seen[admitted] || !seen[throttled] || !seen[failed] {
		t.Errorf("outcomes %v: want admitted, throttled and failed ones", seen)
	}
}

// TestMeasure: what admission weighs of a request.
func TestMeasure(t *testing.T) {
	d := testDeployment(t, simconfig.Deployment{ContextWindow: 100})
	i := func(v int) *int { return &v }
	hello := []tokenizer.Message{{Role: "user", Content: "hello world"}} // 9 tokens
	for _, c := range []struct {
		name string
		req  chatRequest
		want ask
	}{
		{"max_tokens", chatRequest{kind: kindChat, MaxTokens: i(20), N: i(2)}, ask{kind: kindChat, prompt: 9, exact: true, n: 2, limit: 20, asked: true}},
		{"max_completion_tokens", chatRequest{kind: kindChat, MaxCompletionTokens: i(30)}, ask{kind: kindChat, prompt: 9, exact: true, n: 1, limit: 30, asked: true}},
		{"the default, up to the context window", chatRequest{kind: kindChat}, ask{kind: kindChat, prompt: 9, exact: true, n: 1, limit: 91}},
		{"max tokens up to the context window", chatRequest{kind: kindChat, MaxTokens: i(500)}, ask{kind: kindChat, prompt: 9, exact: true, n: 1, limit: 91, asked: true}},
		{"embeddings", chatRequest{kind: kindEmbeddings, texts: []string{"hello world", "hello"}}, ask{kind: kindEmbeddings, prompt: 3, exact: true, n: 1}},
	} {
		if got := d.measure(&c.req, hello); !equalAsk(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	// Past the window: a text counted whole is an exact count; one not
	// counted (the third input here) makes it a lower bound.
	for _, c := range []struct {
		req   chatRequest
		msgs  []tokenizer.Message
		exact bool
	}{
		{chatRequest{kind: kindCompletions, texts: []string{strings.Repeat("hello ", 500)}}, nil, true},
		{chatRequest{kind: kindEmbeddings, texts: []string{strings.Repeat("hello ", 60), strings.Repeat("hello ", 60), "hello"}}, nil, false},
		{chatRequest{kind: kindChat}, []tokenizer.Message{{Role: "user", Content: strings.Repeat("hello ", 500)}}, true},
	} {
		if got := d.measure(&c.req, c.msgs); got.prompt <= 100 || got.exact != c.exact || got.limit != 0 {
			t.Errorf("%d texts, %d messages past the window: %+v, want exact %v", len(c.req.texts), len(c.msgs), got, c.exact)
		}
	}
}

func equalAsk(a, b ask) bool {
	return a.kind == b.kind && a.prompt == b.prompt && a.exact == b.exact && a.n == b.n && a.limit == b.limit &&
		a.asked == b.asked && slices.Equal(a.hashes, b.hashes) && a.spill == b.spill
}

// TestSpillTarget: where a provisioned deployment's overflow goes.
func TestSpillTarget(t *testing.T) {
	ptu := simconfig.Deployment{Name: "ptu", Type: "provisioned", PTU: 15, Spillover: "std"}
	s := &Server{deps: map[string]*deployment{}}
	for _, dc := range []simconfig.Deployment{ptu, {Name: "std"}, {Name: "std2"}, {Name: "ptu2", Type: "provisioned", PTU: 15}} {
		s.deps[dc.Name] = testDeployment(t, dc)
	}
	for _, c := range []struct {
		from, header, want string
	}{
		{"ptu", "", "std"},      // the one it is set up with
		{"ptu", "std2", "std2"}, // the request's header names another
		{"ptu", "nope", ""},     // a deployment the resource does not have
		{"ptu", "ptu2", ""},     // a provisioned one
		{"ptu2", "", ""},        // set up with none
		{"std", "std2", ""},     // a standard deployment does not spill over
	} {
		got := ""
		if t := s.spillTarget(s.deps[c.from], c.header); t != nil {
			got = t.cfg.Name
		}
		if got != c.want {
			t.Errorf("from %s, header %q: %q, want %q", c.from, c.header, got, c.want)
		}
	}
}
