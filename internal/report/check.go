package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// What a number read from a file may be. Past these bounds a value is no
// run's: it is refused where it is read, naming its file, line and field,
// rather than left to size an axis, a bucket count or a loop.
const (
	// maxSeconds bounds times and latencies: no run is longer than a year
	// (plan.MaxDuration), drain included, twice over.
	maxSeconds = 2 * 365 * 24 * 3600.0
	// maxTokens bounds one request's tokens: no model's context is a
	// thousandth of it.
	maxTokens = 1e9
	// maxRate bounds rates (requests or tokens a minute, tokens a second):
	// plan.MaxRate, the most a plan takes.
	maxRate = plan.MaxRate
	// maxCount bounds a whole run's counts of requests and tokens: a year
	// at 30,000 requests of 1,000 tokens a minute is 1.6e13 tokens.
	maxCount = 1e15
	// maxPercent bounds a percent (utilization may pass 100, not 1000).
	maxPercent = 1000.0
	// maxFigure bounds a server's scraped figure (its counters run for
	// the server's life, not the run's).
	maxFigure = 1e18
)

// kind is what a number read from a file stands for, and so its range.
type kind int

const (
	kTime    kind = iota // seconds from the run's start
	kSeconds             // a latency or a length of time
	kTokens              // one request's tokens
	kRate                // a rate a minute (or tokens a second)
	kCount               // a whole run's requests or tokens
	kShare               // 0..1
	kPercent             // 0..maxPercent
	kFigure              // a server's figure: only finite and not absurd
)

// bounds returns a kind's range and its description for an error.
func (k kind) bounds() (lo, hi float64, what string) {
	switch k {
	case kTime:
		return 0, maxSeconds, "a time in a run (0 to two years of seconds)"
	case kSeconds:
		return 0, maxSeconds, "a latency or duration (0 to two years of seconds)"
	case kTokens:
		return 0, maxTokens, "a request's token count (0 to 1e9)"
	case kRate:
		return 0, maxRate, "a rate (0 to 1e9 a minute)"
	case kCount:
		return 0, maxCount, "a count of a run (0 to 1e15)"
	case kShare:
		return 0, 1 + 1e-9, "a share (0 to 1)"
	case kPercent:
		return 0, maxPercent, "a percent (0 to 1000)"
	}
	return -maxFigure, maxFigure, "a server's figure (at most 1e18)"
}

// checker checks the numbers of one file (or one line of it) and keeps
// the first that is out of range, with the field's path.
type checker struct {
	path, msg string // the first problem's field path and message
}

// num checks v, a Num that may be absent (NaN).
func (c *checker) num(path string, v float64, k kind) {
	if math.IsNaN(v) {
		return
	}
	c.must(path, v, k)
}

// must checks v, which must be present.
func (c *checker) must(path string, v float64, k kind) {
	if c.msg != "" {
		return
	}
	lo, hi, what := k.bounds()
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		c.path, c.msg = path, fmt.Sprintf("%s is %s, not %s", path, strconv.FormatFloat(v, 'g', 6, 64), what)
	}
}

// err returns the first problem as a bad-input error naming file:line
// (line 0: no line).
func (c *checker) err(file string, line int) error {
	if c.msg == "" {
		return nil
	}
	if line > 0 {
		return plan.Errorf("%s:%d: %s", file, line, c.msg)
	}
	return plan.Errorf("%s: %s", file, c.msg)
}

// errIn returns the first problem of a whole JSON document b as a
// bad-input error naming the line of its field.
func (c *checker) errIn(file string, b []byte) error {
	if c.msg == "" {
		return nil
	}
	return c.err(file, lineOf(b, c.path))
}

// record checks one record of requests.jsonl.
func (c *checker) record(r *Record) {
	c.num("send", r.Send.F(), kTime)
	c.num("end", r.End.F(), kTime)
	if l := r.Lag.F(); !math.IsNaN(l) && math.Abs(l) > maxSeconds {
		c.must("lag", l, kSeconds)
	}
	c.num("ttft", r.TTFT.F(), kSeconds)
	c.num("tpot", r.TPOT.F(), kSeconds)
	c.num("e2e", r.E2E.F(), kSeconds)
	c.must("prompt_tokens", float64(r.PromptTokens), kTokens)
	c.must("output_tokens", float64(r.OutputTokens), kTokens)
	c.num("util", r.Util.F(), kPercent)
	c.num("quota_tokens", r.QuotaTokens.F(), kTokens)
	// x-ratelimit-remaining-tokens may go below zero: only its size.
	if v := r.RemainingTokens.F(); !math.IsNaN(v) && math.Abs(v) > maxRate {
		c.must("remaining_tokens", v, kRate)
	}
	c.num("limit_tokens", r.LimitTokens.F(), kRate)
	c.num("limit_requests", r.LimitRequests.F(), kRate)
	c.num("max_tokens", r.MaxTokens.F(), kTokens)
	c.num("client_prompt_tokens", r.ClientPrompt.F(), kTokens)
	c.num("server_prompt_tokens", r.ServerPrompt.F(), kTokens)
	c.num("cached_tokens", r.Cached.F(), kTokens)
	c.num("turn", r.Turn.F(), kCount)
}

// line checks one live line of a JSONL log.
func (c *checker) line(l *Line) {
	c.num("run_seconds", l.RunSeconds.F(), kTime)
	c.num("rpm", l.RPM.F(), kRate)
	for _, f := range []struct {
		name string
		v    Num
	}{{"processing", l.Processing}, {"completed", l.Completed}, {"failures", l.Failures}, {"throttled", l.Throttled}, {"requests", l.Requests}} {
		c.num(f.name, f.v.F(), kCount)
	}
	c.num("tpm.context", l.TPM.Context.F(), kRate)
	c.num("tpm.gen", l.TPM.Gen.F(), kRate)
	c.num("tpm.total", l.TPM.Total.F(), kRate)
	for _, p := range []struct {
		name string
		v    pair
	}{{"e2e", l.E2E}, {"ttft", l.TTFT}, {"tbt", l.TBT}} {
		c.num(p.name+".avg", p.v.Avg.F(), kSeconds)
		c.num(p.name+".95th", p.v.P95.F(), kSeconds)
	}
	c.num("util.avg", l.Util.Avg.F(), kPercent)
	c.num("util.95th", l.Util.P95.F(), kPercent)
	c.num("offered_rpm", l.OfferedRPM.F(), kRate)
	c.num("send_rpm", l.SendRPM.F(), kRate)
	for _, f := range []struct {
		name string
		v    Num
	}{{"ttft_p50", l.TTFTP50}, {"ttft_p99", l.TTFTP99}, {"tbt_p50", l.TBTP50}, {"tbt_p99", l.TBTP99}, {"e2e_p50", l.E2EP50}, {"e2e_p99", l.E2EP99}, {"lag.p99", l.Lag.P99}} {
		c.num(f.name, f.v.F(), kSeconds)
	}
}

// dist checks a distribution of kind k (its CDF's values too).
func (c *checker) dist(path string, d metrics.Dist, k kind) {
	c.must(path+".count", float64(d.Count), kCount)
	for _, f := range []struct {
		name string
		v    Num
	}{{"mean", d.Mean}, {"min", d.Min}, {"p50", d.P50}, {"p90", d.P90}, {"p95", d.P95}, {"p99", d.P99}, {"p99_9", d.P999}, {"max", d.Max}} {
		c.num(path+"."+f.name, f.v.F(), k)
	}
	for i, p := range d.CDF {
		c.must(fmt.Sprintf("%s.cdf[%d].v", path, i), p.V, k)
		c.must(fmt.Sprintf("%s.cdf[%d].p", path, i), p.P, kShare)
	}
}

// answers checks a summary's answers by kind: counts, a share, each
// kind's distributions.
func (c *checker) answers(p string, a *metrics.Answers) {
	if a == nil {
		return
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"text", a.Text}, {"tool_call", a.ToolCall}, {"structured", a.Structured}, {"tool_calls", a.ToolCalls},
		{"tool_args.valid", a.ToolArgs.Valid}, {"tool_args.not_json", a.ToolArgs.NotJSON}, {"tool_args.mismatch", a.ToolArgs.Mismatch},
		{"tool_args.unchecked", a.ToolArgs.Unchecked}, {"structured_answers.valid", a.StructuredVerdicts.Valid},
		{"structured_answers.not_json", a.StructuredVerdicts.NotJSON}, {"structured_answers.mismatch", a.StructuredVerdicts.Mismatch},
		{"structured_answers.unchecked", a.StructuredVerdicts.Unchecked}, {"image_requests", a.ImageRequests}, {"images", a.Images},
		{"image_bytes", a.ImageBytes}, {"image_tokens", a.ImageTokens}, {"image_tokens_unknown", a.ImageTokensUnknown}} {
		c.must(p+f.name, float64(f.v), kCount)
	}
	c.num(p+"tool_call_share", a.ToolShare.F(), kShare)
	for _, k := range metrics.AnswerKinds {
		kr := a.Kinds[k]
		if kr == nil {
			continue
		}
		kp := p + "kinds." + string(k) + "."
		c.must(kp+"requests", float64(kr.Requests), kCount)
		c.must(kp+"output_tokens", float64(kr.OutputTokens), kCount)
		c.dist(kp+"ttft", kr.TTFT, kSeconds)
		c.dist(kp+"tpot", kr.TPOT, kSeconds)
		c.dist(kp+"e2e", kr.E2E, kSeconds)
	}
}

// results checks the figures of summary.json a report reads (and those
// of a sweep's or a search's steps, of a ramp's stages and of turns),
// each under its JSON path from prefix.
func (c *checker) results(prefix string, r *metrics.Results) {
	if r == nil {
		return
	}
	c.num(prefix+"duration_s", r.Duration.F(), kSeconds)
	c.num(prefix+"window_s", r.Window.F(), kSeconds)
	q := r.Requests
	for _, f := range []struct {
		name string
		v    int64
	}{{"sent", q.Sent}, {"ok", q.OK}, {"held_back", q.HeldBack}, {"not_sent", q.NotSent}, {"attempts", q.Attempts},
		{"throttled_attempts", q.ThrottledAttempts}, {"throttled", q.Throttled}, {"http", q.HTTP}, {"timeout", q.Timeout},
		{"connection", q.Connection}, {"stream", q.Stream}, {"incomplete", q.Incomplete}} {
		c.must(prefix+"requests."+f.name, float64(f.v), kCount)
	}
	for _, f := range []struct {
		name string
		v    Num
	}{{"rpm.offered", r.RPM.Offered}, {"rpm.sent", r.RPM.Sent}, {"rpm.achieved", r.RPM.Achieved}, {"rpm.goodput", r.RPM.Goodput},
		{"tpm.context", r.TPM.Context}, {"tpm.gen", r.TPM.Gen}, {"tpm.total", r.TPM.Total}, {"tpm.quota", r.TPM.Quota}} {
		c.num(prefix+f.name, f.v.F(), kRate)
	}
	t := r.Tokens
	for _, f := range []struct {
		name string
		v    int64
	}{{"prompt", t.Prompt}, {"output", t.Output}, {"cached", t.Cached}, {"cache_reported", t.CacheReported}, {"compared", t.Compared}} {
		c.must(prefix+"tokens."+f.name, float64(f.v), kCount)
	}
	c.num(prefix+"tokens.mismatch_share", t.MismatchShare.F(), kShare)
	// Sorted, so that the first problem reported is the same each time.
	keys := make([]string, 0, len(r.Latency))
	for k := range r.Latency {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.dist(prefix+"latency."+k, r.Latency[k], kSeconds)
	}
	c.dist(prefix+"tokens_per_s", r.TokensPerS, kRate)
	c.dist(prefix+"util", r.Util, kPercent)
	c.must(prefix+"sessions", float64(r.Sessions), kCount)
	c.answers(prefix+"answers.", r.Answers)
	c.parts(prefix, r)
}

// parts checks a summary's stages, turns, throttling and deployments.
func (c *checker) parts(prefix string, r *metrics.Results) {
	for i, st := range r.Stages {
		p := fmt.Sprintf("%sstages[%d].", prefix, i)
		c.num(p+"start_s", st.Start.F(), kTime)
		c.num(p+"end_s", st.End.F(), kTime)
		c.must(p+"target", st.Target, kRate)
		c.results(p+"results.", st.Results)
	}
	for i, tr := range r.Turns {
		p := fmt.Sprintf("%sturns[%d].", prefix, i)
		c.must(p+"turn", float64(tr.Turn), kCount)
		c.results(p+"results.", tr.Results)
	}
	if th := r.Throttling; th != nil {
		p := prefix + "throttling."
		c.num(p+"first_at_s", th.FirstAt.F(), kTime)
		c.num(p+"quota_tpm_before", th.QuotaTPM.F(), kRate)
		c.num(p+"rpm_before", th.RPMBefore.F(), kRate)
		c.num(p+"span_s", th.Span.F(), kSeconds)
		c.must(p+"limit_tokens", float64(th.LimitTokens), kRate)
		c.must(p+"limit_requests", float64(th.LimitRequests), kRate)
	}
	names := make([]string, 0, len(r.Deployments))
	for k := range r.Deployments {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := r.Deployments[k]
		if d == nil {
			continue
		}
		p := prefix + "deployments." + k + "."
		c.must(p+"requests", float64(d.Requests), kCount)
		c.must(p+"spilled", float64(d.Spilled), kCount)
		c.dist(p+"ttft", d.TTFT, kSeconds)
		c.dist(p+"e2e", d.E2E, kSeconds)
	}
}

// lineOf returns the line of b (a JSON document) that holds the value at
// path ("latency.ttft.p95", "probes[2].results.rpm.achieved"), or 0 when
// the path is not found.
func lineOf(b []byte, path string) int {
	type frame struct {
		array   bool
		key     string
		i       int
		wantKey bool
	}
	var stack []frame
	at := func() string {
		var s strings.Builder
		for k, f := range stack {
			if f.array {
				fmt.Fprintf(&s, "[%d]", f.i)
				continue
			}
			if k > 0 {
				s.WriteByte('.')
			}
			s.WriteString(f.key)
		}
		return s.String()
	}
	// done moves past a value in the enclosing object or array.
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].i++
			} else {
				stack[n-1].wantKey = true
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return 0
		}
		n := len(stack)
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if at() == path {
					return 1 + bytes.Count(b[:dec.InputOffset()], []byte("\n"))
				}
				stack = append(stack, frame{array: d == '[', wantKey: d == '{'})
			default:
				stack = stack[:n-1]
				done()
			}
			continue
		}
		if n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].wantKey = false
			continue
		}
		if at() == path {
			return 1 + bytes.Count(b[:dec.InputOffset()], []byte("\n"))
		}
		done()
	}
}
