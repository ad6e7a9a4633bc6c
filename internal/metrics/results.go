package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Schema is the version of summary.json this package writes. Files
// without a schema field are version 0: the same keys, fewer of them.
const Schema = 1

// Num is a number that may be absent: NaN in Go, null in JSON. It also
// reads the original tool's strings ("n/a", "89.3%").
type Num float64

// F returns the value as a float64 (NaN when absent).
func (n Num) F() float64 { return float64(n) }

// MarshalJSON writes null for NaN and infinities.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, null, or a numeric string.
func (n *Num) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*n = Num(math.NaN())
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSuffix(strings.TrimSpace(str), "%")
		if s == "" || strings.EqualFold(s, "n/a") || strings.EqualFold(s, "nan") || s == "-" {
			*n = Num(math.NaN())
			return nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = Num(f)
	return nil
}

// Point is one point of a cumulative distribution: the share of values at
// or below V (0..1).
type Point struct {
	V float64 `json:"v"`
	P float64 `json:"p"`
}

// Dist is one distribution's summary figures, in seconds for durations.
type Dist struct {
	Count int64   `json:"count"`
	Mean  Num     `json:"mean"`
	Min   Num     `json:"min"`
	P50   Num     `json:"p50"`
	P90   Num     `json:"p90"`
	P95   Num     `json:"p95"`
	P99   Num     `json:"p99"`
	P999  Num     `json:"p99_9"`
	Max   Num     `json:"max"`
	CDF   []Point `json:"cdf,omitempty"`
}

// Requests counts a run's requests by outcome.
type Requests struct {
	Sent     int64 `json:"sent"`
	OK       int64 `json:"ok"`
	HeldBack int64 `json:"held_back"` // due requests the clients cap delayed
	// NotSent is due requests that never left: the run ended while the
	// clients cap held them back.
	NotSent           int64 `json:"not_sent"`
	Attempts          int64 `json:"attempts"`
	ThrottledAttempts int64 `json:"throttled_attempts"`
	// Warned counts answers that broke the API's rules without failing
	// (a usage count that is not a number, a finish_reason twice): each
	// record says which in its "warning"; FirstWarning is the first.
	Warned       int64  `json:"warned,omitempty"`
	FirstWarning string `json:"first_warning,omitempty"`
	Throttled    int64  `json:"throttled"`
	HTTP         int64  `json:"http"`
	Timeout      int64  `json:"timeout"`
	Connection   int64  `json:"connection"`
	Stream       int64  `json:"stream"`
	Incomplete   int64  `json:"incomplete"`
}

// Failed is every request that did not succeed, throttled ones included.
func (r Requests) Failed() int64 {
	return r.Throttled + r.HTTP + r.Timeout + r.Connection + r.Stream + r.Incomplete
}

// Rates are requests per minute.
type Rates struct {
	Offered  Num `json:"offered"`
	Sent     Num `json:"sent"`
	Achieved Num `json:"achieved"`
	Goodput  Num `json:"goodput"`
}

// TPM is tokens per minute of the successful requests. Quota is what
// Azure counts against a standard deployment's quota at admission: prompt
// plus max_tokens per choice.
type TPM struct {
	Context Num `json:"context"`
	Gen     Num `json:"gen"`
	Total   Num `json:"total"`
	Quota   Num `json:"quota"`
}

// Tokens are a run's token totals, of successful requests, and how the
// server's and the client's counts of them compare.
type Tokens struct {
	Prompt    int64 `json:"prompt"`
	Output    int64 `json:"output"`
	Visible   int64 `json:"visible"`   // output streamed (hidden reasoning excluded)
	Reasoning int64 `json:"reasoning"` // reasoning tokens reported
	Cached    int64 `json:"cached"`    // prompt tokens served from the prompt cache
	// CachedRequests had some of their prompt served from the cache;
	// CacheReported told how much (usage.prompt_tokens_details).
	CachedRequests  int64 `json:"cached_requests"`
	CacheReported   int64 `json:"cache_reported"`
	Compared        int64 `json:"compared"`
	Mismatched      int64 `json:"mismatched"`
	MismatchShare   Num   `json:"mismatch_share"`
	MismatchMeanAbs Num   `json:"mismatch_mean_abs"`
}

// Connections tell how requests reached the endpoint.
type Connections struct {
	New       int64            `json:"new"`       // connections opened
	Protocols map[string]int64 `json:"protocols"` // attempts answered per protocol
}

// Check is one objective of --slo and whether the run met it.
type Check struct {
	Objective string `json:"objective"` // as given, e.g. ttft_p95<=2s
	Figure    string `json:"figure"`    // ttft_p95
	Value     Num    `json:"value"`     // the run's figure: seconds, a share (0..1), or plain
	Passed    bool   `json:"passed"`
}

// Ms writes seconds for people as milliseconds, with the decimals their
// size needs: 0.85 ms, 165.4 ms, 5423 ms.
func Ms(sec float64) string {
	ms := sec * 1e3
	switch {
	case math.IsNaN(ms):
		return "-"
	case math.Abs(ms) >= 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	case math.Abs(ms) >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
}

// Format writes a figure's value for people, in its unit: 165.4 ms, 25.00%.
func Format(figure string, v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	unit, _ := FigureUnit(figure)
	switch unit {
	case Seconds:
		return Ms(v)
	case Share:
		return strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// StopReason says why a run's dispatch stopped.
type StopReason string

// Why dispatch stops.
const (
	StopDuration StopReason = "duration" // --duration, or the stages' end
	StopRequests StopReason = "requests" // --requests
	StopSchedule StopReason = "schedule" // a trace's (or a schedule's) last request
	StopSignal   StopReason = "signal"   // an interrupt, or a halt before the end
	StopEndpoint StopReason = "endpoint" // the first request showed the endpoint is wrong
	StopInput    StopReason = "input"    // a row of the input could not be read
	// StopMixed is a merged run's whose shards stopped for different
	// reasons.
	StopMixed StopReason = "mixed"
)

// Valid reports whether s is one of the reasons.
func (s StopReason) Valid() bool {
	switch s {
	case StopDuration, StopRequests, StopSchedule, StopSignal, StopEndpoint, StopInput, StopMixed:
		return true
	}
	return false
}

// Results is summary.json: every whole-run figure. The writer (the run)
// and every reader (report, bench, merge) use this one type.
type Results struct {
	Schema int    `json:"schema"`
	Start  string `json:"start"` // RFC 3339, UTC
	// Duration is the wall time from the first t_send to the last t_end.
	Duration Num `json:"duration_s"`
	// Window is the dispatch window the rates are over (docs/metrics.md).
	Window  Num        `json:"window_s"`
	Stopped StopReason `json:"stopped"`
	// Valid is false when the load generator did not deliver the offered
	// rate, so that the figures do not describe that rate.
	Valid       bool            `json:"valid"`
	Invalid     []string        `json:"invalid_reasons,omitempty"`
	Requests    Requests        `json:"requests"`
	RPM         Rates           `json:"rpm"`
	TPM         TPM             `json:"tpm"`
	Tokens      Tokens          `json:"tokens"`
	Latency     map[string]Dist `json:"latency"`
	TokensPerS  Dist            `json:"tokens_per_s"`
	Util        Dist            `json:"util"`
	Connections Connections     `json:"connections"`
	SLO         []Check         `json:"slo,omitempty"`
	// Stages are the figures of each stage of a ramp.
	Stages []StageResults `json:"stages,omitempty"`
	// Sessions counts the conversations of a multi-turn run; Turns are
	// the figures of each turn index.
	Sessions int64         `json:"sessions,omitempty"`
	Turns    []TurnResults `json:"turns,omitempty"`
	// Throttling is what the run learned of the quota, when it was
	// throttled.
	Throttling *Throttling `json:"throttling,omitempty"`
	// Quota is the deployment's per-minute limit, when the run knows it.
	Quota *Quota `json:"quota,omitempty"`
	// Caveats say how the rates must be read: scaled to a minute from a
	// shorter run, or above what the quota allows in a whole minute.
	Caveats []string `json:"caveats,omitempty"`
	// Entra is how Microsoft Entra ID tokens were kept, with --auth entra.
	Entra *Entra `json:"entra,omitempty"`
	// Shard says which share of a divided plan this run was (nil: all of
	// it); a merged run has Count and no Index.
	Shard *ShardResults `json:"shard,omitempty"`
	// Deployments splits the successful requests by the deployment that
	// served them (x-ms-deployment-name), when more than one did or any
	// spilled over from a provisioned one.
	Deployments map[string]*Served `json:"deployments,omitempty"`
	// Answers split the successful requests by answer kind (text, tool
	// call, structured) with their calls' and structured answers'
	// verdicts and their images, when the run had any but text.
	Answers *Answers `json:"answers,omitempty"`
}

// Quota is a deployment's per-minute limit as far as a run knows it: the
// built-in simulator's own, or the largest x-ratelimit-limit-* headers
// the endpoint announced. A zero is not known.
type Quota struct {
	TPM    int64  `json:"tpm,omitempty"`
	RPM    int64  `json:"rpm,omitempty"`
	Source string `json:"source"` // "simulator" or "x-ratelimit-limit"
}

// OverQuota says which of the run's per-minute rates are over its quota
// (by more than 1%): the quota-counted TPM, or the achieved RPM. Such a
// rate was held for less than a minute; no whole minute allows it, so it
// is never a capacity answer. Nil when none is, or the quota is unknown.
func (r *Results) OverQuota() []string {
	q := r.Quota
	if q == nil {
		return nil
	}
	var out []string
	if tpm := r.TPM.Quota.F(); q.TPM > 0 && tpm > 1.01*float64(q.TPM) {
		out = append(out, fmt.Sprintf("%.0f quota-counted TPM is over the %d TPM quota (%s): no whole minute allows it", tpm, q.TPM, q.Source))
	}
	if rpm := r.RPM.Achieved.F(); q.RPM > 0 && rpm > 1.01*float64(q.RPM) {
		out = append(out, fmt.Sprintf("%.1f RPM achieved is over the %d RPM limit (%s): no whole minute allows it", rpm, q.RPM, q.Source))
	}
	return out
}

// ShardResults place a shard among its plan's shards.
type ShardResults struct {
	Index   int    `json:"index"`
	Count   int    `json:"count"`
	StartAt string `json:"start_at,omitempty"`
	// Skew is how late this shard's t=0 was past StartAt, in seconds: a
	// machine that started after the agreed time.
	Skew Num `json:"skew_s"`
	// Merged lists the shards a merged run is made of.
	Merged []int `json:"merged,omitempty"`
}

// Served are the figures of the requests one deployment served.
type Served struct {
	Requests int64 `json:"requests"`
	// Spilled counts requests that came to it by spillover
	// (x-ms-spillover-from-deployment), From the deployment they
	// spilled from.
	Spilled int64  `json:"spilled"`
	From    string `json:"spilled_from,omitempty"`
	TTFT    Dist   `json:"ttft"`
	E2E     Dist   `json:"e2e"`
}

// StageResults are one stage's figures: the requests scheduled in it.
type StageResults struct {
	Index   int      `json:"index"`   // from 1
	Start   Num      `json:"start_s"` // from the run's start
	End     Num      `json:"end_s"`
	Target  float64  `json:"target"`  // requests per minute, or clients
	Clients bool     `json:"clients"` // the target is a client count
	Results *Results `json:"results,omitempty"`
}

// Entra counts a run's token refreshes: done in the background, never
// inside a request.
type Entra struct {
	Refreshes int64 `json:"refreshes"`
	Failures  int64 `json:"failures"` // refresh attempts that failed (each retried)
}

// TurnResults are the figures of every request that was turn Turn of its
// conversation.
type TurnResults struct {
	Turn    int      `json:"turn"` // from 1
	Results *Results `json:"results"`
}

// Throttling is what a run learned of a quota when it was throttled: when
// the first 429 came and what the endpoint had admitted in the minute
// before it, which is the quota that binds, whatever its nominal size.
type Throttling struct {
	FirstAt Num `json:"first_at_s"` // t_send of the first request answered 429
	// QuotaTPM is the quota-counted tokens (prompt + max_tokens) of the
	// requests admitted in the minute before the first 429 (the sliding
	// minute a standard quota counts; Span seconds when the 429 came
	// sooner), and RPMBefore those requests: what the quota held.
	QuotaTPM  Num `json:"quota_tpm_before"`
	RPMBefore Num `json:"rpm_before"`
	Span      Num `json:"span_s"`
	// The largest x-ratelimit-limit-tokens and -requests seen (0: none),
	// and the least x-ratelimit-remaining-tokens before the first 429.
	LimitTokens        int `json:"limit_tokens"`
	LimitRequests      int `json:"limit_requests"`
	RemainingTokensMin int `json:"remaining_tokens_min"`
	RetryAfterP50      Num `json:"retry_after_p50_s"`
}

// Share returns n as a share of the requests sent (NaN when none were).
func (r *Results) Share(n int64) float64 {
	if r.Requests.Sent == 0 {
		return math.NaN()
	}
	return float64(n) / float64(r.Requests.Sent)
}

// Unit is what kind of figure a name denotes.
type Unit int

// Figure units.
const (
	Seconds Unit = iota // latencies: given with a unit, compared in seconds
	Share               // 0..1, given as a percent or a fraction
	Plain               // rates and counts
)

// stats are the statistic suffixes of a latency figure's name.
var stats = map[string]func(Dist) Num{
	"mean": func(d Dist) Num { return d.Mean }, "min": func(d Dist) Num { return d.Min },
	"p50": func(d Dist) Num { return d.P50 }, "p90": func(d Dist) Num { return d.P90 },
	"p95": func(d Dist) Num { return d.P95 }, "p99": func(d Dist) Num { return d.P99 },
	"p99.9": func(d Dist) Num { return d.P999 }, "p99_9": func(d Dist) Num { return d.P999 },
	"p999": func(d Dist) Num { return d.P999 }, "max": func(d Dist) Num { return d.Max },
}

// plain are the figures that are not distributions.
var plain = map[string]struct {
	unit Unit
	get  func(*Results) float64
}{
	"throttled":      {Share, func(r *Results) float64 { return r.Share(r.Requests.Throttled) }},
	"failed":         {Share, func(r *Results) float64 { return r.Share(r.Requests.Failed() - r.Requests.Throttled) }},
	"errors":         {Share, func(r *Results) float64 { return r.Share(r.Requests.Failed()) }},
	"rpm":            {Plain, func(r *Results) float64 { return r.RPM.Achieved.F() }},
	"sent_rpm":       {Plain, func(r *Results) float64 { return r.RPM.Sent.F() }},
	"goodput":        {Plain, func(r *Results) float64 { return r.RPM.Goodput.F() }},
	"tpm":            {Plain, func(r *Results) float64 { return r.TPM.Total.F() }},
	"gen_tpm":        {Plain, func(r *Results) float64 { return r.TPM.Gen.F() }},
	"achieved_ratio": {Share, func(r *Results) float64 { return r.AchievedRatio() }},
	"tokens_per_s":   {Plain, func(r *Results) float64 { return r.TokensPerS.P50.F() }},
	"cached_share":   {Share, func(r *Results) float64 { return r.CachedShare() }},
}

// AchievedRatio is the achieved rate over the offered one (NaN for a
// closed loop, or conversations, whose offered rate is not of requests).
func (r *Results) AchievedRatio() float64 {
	if r.Sessions > 0 {
		return math.NaN()
	}
	return r.RPM.Achieved.F() / r.RPM.Offered.F()
}

// CachedShare is the share of the prompt tokens the prompt cache served,
// of the requests that reported it (NaN when none did).
func (r *Results) CachedShare() float64 {
	if r.Tokens.CacheReported == 0 || r.Tokens.Prompt == 0 {
		return math.NaN()
	}
	return float64(r.Tokens.Cached) / float64(r.Tokens.Prompt)
}

// FigureUnit returns the unit of a figure name, and false for a name that
// is no figure: a latency distribution and a statistic (ttft_p95,
// e2e_p99.9, tpot_mean), or one of throttled, failed, errors (shares of
// requests sent), rpm, sent_rpm, goodput, tpm, gen_tpm, achieved_ratio,
// tokens_per_s.
func FigureUnit(name string) (Unit, bool) {
	if p, ok := plain[name]; ok {
		return p.unit, true
	}
	dist, stat, ok := cutStat(name)
	if !ok {
		return 0, false
	}
	for _, d := range Dists {
		if d == dist {
			_, ok := stats[stat]
			return Seconds, ok
		}
	}
	return 0, false
}

func cutStat(name string) (dist, stat string, ok bool) {
	// The statistic is after the last underscore, or the last two for
	// p99_9.
	if d, ok := strings.CutSuffix(name, "_p99_9"); ok {
		return d, "p99_9", true
	}
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// Figure returns a figure of the results by name (see FigureUnit), NaN
// when the run has none.
func (r *Results) Figure(name string) float64 {
	if p, ok := plain[name]; ok {
		return p.get(r)
	}
	dist, stat, ok := cutStat(name)
	if !ok {
		return math.NaN()
	}
	get, ok := stats[stat]
	d, has := r.Latency[dist]
	if !ok || !has {
		return math.NaN()
	}
	return get(d).F()
}

// Dists names the latency distributions of summary.json, in report order.
var Dists = []string{"ttft", "ttft_sched", "ttft_content", "ttft_reasoning", "tpot", "itl", "chunk_gap",
	"e2e", "e2e_sched", "headers", "lag", "failed", "not_sent_lag", "ttft_cached", "ttft_uncached"}

// ReadResults parses summary.json, of any schema so far.
func ReadResults(b []byte) (*Results, error) {
	r := &Results{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, err
	}
	if r.Schema > Schema {
		return nil, fmt.Errorf("summary.json schema %d is newer than this aoaibench reads (%d): upgrade aoaibench", r.Schema, Schema)
	}
	if r.Schema == 0 {
		// Version 0 had no validity or window: take it as valid, over the
		// wall time it reported.
		r.Valid = true
		if math.IsNaN(r.Window.F()) || r.Window == 0 {
			r.Window = r.Duration
		}
	}
	return r, nil
}

// zero Num fields read as absent when a file lacks them.
func (r *Results) UnmarshalJSON(b []byte) error {
	type plainResults Results
	v := plainResults{Window: Num(math.NaN())}
	nan := Num(math.NaN())
	v.RPM = Rates{nan, nan, nan, nan}
	v.TPM = TPM{nan, nan, nan, nan}
	v.Tokens.MismatchShare, v.Tokens.MismatchMeanAbs = nan, nan
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Results(v)
	return nil
}

// Seconds returns a duration as a Num of seconds.
func seconds(d time.Duration) Num { return Num(d.Seconds()) }
