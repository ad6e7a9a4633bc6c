package merge

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// shard is one shard's output directory, read.
type shard struct {
	dir     string
	run     plan.RunFile
	start   time.Time
	results *metrics.Results
	hists   *metrics.HistFile
	records int64       // lines of requests.jsonl, once checked
	checked os.FileInfo // requests.jsonl when it was checked
	tidy    bool        // requests.jsonl is records and newlines only
}

// Bounds of a shard's start. A shard that started more than maxLate
// after --start-at, or after another shard, ran another day than the
// run's: it is refused, not merged as late (a second late is merged and
// marked not valid). Machines' clocks disagree, but by less than
// clockSlack: a shard that ended later than that past this machine's
// clock is not a run that happened.
const (
	maxLate    = 24 * time.Hour
	clockSlack = time.Hour
)

// maxCount bounds the counts a shard's records do not tell (requests held
// back or not sent): more than 10^15 is no run's.
const maxCount = 1e15

// read reads one shard's directory and checks what its files say of
// themselves: which shard it is, when it started, its figures in range,
// its histograms holding the values its summary counts. now is this
// machine's clock.
func read(dir string, now time.Time) (*shard, error) {
	s := &shard{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, plan.Errorf("merge: %s: %v (not an output directory?)", dir, errors.Unwrap(err))
	}
	rf, err := plan.ReadRunFile(b)
	if err != nil {
		return nil, plan.Errorf("merge: %s/run.json: %v", dir, err)
	}
	s.run = *rf
	if s.start, err = time.Parse(time.RFC3339Nano, s.run.Start); err != nil {
		return nil, plan.Errorf("merge: %s/run.json: start %q: %v", dir, s.run.Start, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, plan.Errorf("merge: %s: no summary.json: the run did not finish", dir)
	}
	if s.results, err = metrics.ReadResults(b); err != nil {
		return nil, plan.Errorf("merge: %s/summary.json: %v", dir, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "histograms.json"))
	if err != nil {
		return nil, plan.Errorf("merge: %s: no histograms.json: the run did not finish", dir)
	}
	s.hists = &metrics.HistFile{}
	if err := json.Unmarshal(b, s.hists); err != nil {
		return nil, plan.Errorf("merge: %s/histograms.json: %v", dir, err)
	}
	sh := s.run.Load.Shard
	if sh == nil {
		return nil, plan.Errorf("merge: %s is not a shard (its run has no --shard)", dir)
	}
	if sh.Count < 1 || sh.Count > plan.MaxShards || sh.Index < 0 || sh.Index >= sh.Count {
		return nil, plan.Errorf("merge: %s/run.json: load.shard is %d of %d: want i of N with 0 <= i < N <= %d", dir, sh.Index, sh.Count, plan.MaxShards)
	}
	if r := s.run.Load.Rate; r != nil && !(*r > 0 && *r <= plan.MaxRate) {
		return nil, plan.Errorf("merge: %s/run.json: load.rate is %g: want a rate from 0 to %g", dir, *r, float64(plan.MaxRate))
	}
	if r := s.results.Shard; r == nil || r.Index != sh.Index || r.Count != sh.Count {
		return nil, plan.Errorf("merge: %s/summary.json: shard is not run.json's load.shard (%d of %d)", dir, sh.Index, sh.Count)
	}
	if err := s.checkStart(now); err != nil {
		return nil, err
	}
	if err := s.checkFigures(); err != nil {
		return nil, err
	}
	if err := s.checkHists(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkStart holds the shard's start to --start-at and to this machine's
// clock. A run starts at --start-at, or, when that has passed, as soon as
// it can, saying how late (its skew).
func (s *shard) checkStart(now time.Time) error {
	bad := func(file, format string, a ...any) error {
		return plan.Errorf("merge: %s/%s: %s", s.dir, file, fmt.Sprintf(format, a...))
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	if t, err := time.Parse(time.RFC3339Nano, s.results.Start); err != nil || !t.Equal(s.start) {
		return bad("summary.json", "start %q is not run.json's start %s", s.results.Start, stamp(s.start))
	}
	skew := s.results.Shard.Skew.F()
	if at := s.run.Load.StartAt; at != "" {
		startAt, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return bad("run.json", "load.start_at %q is not an RFC 3339 time", at)
		}
		late := s.start.Sub(startAt)
		switch {
		case late < 0:
			return bad("run.json", "start %s is before load.start_at %s", stamp(s.start), at)
		case late > maxLate:
			return bad("run.json", "start %s is %.1f h after load.start_at %s: not this run's shard", stamp(s.start), late.Hours(), at)
		case !(math.Abs(skew-late.Seconds()) < 1e-3):
			return bad("summary.json", "shard.skew_s is %g but the shard started %g s after load.start_at", skew, late.Seconds())
		}
	} else if skew != 0 {
		return bad("summary.json", "shard.skew_s is %g but the run had no load.start_at", skew)
	}
	dur := s.results.Duration.F()
	if !(dur >= 0 && dur < maxSeconds) {
		return bad("summary.json", "duration_s is %s: want seconds from 0 to %g", num(dur), float64(maxSeconds))
	}
	if end := s.start.Add(time.Duration(dur * float64(time.Second))); end.After(now.Add(clockSlack)) {
		return bad("run.json", "start %s is in the future: this machine's clock says %s", stamp(s.start), stamp(now))
	}
	return nil
}

// checkFigures range-checks the summary's figures that the merge turns
// into times or counts.
func (s *shard) checkFigures() error {
	r := s.results
	bad := func(field string, v float64, want string) error {
		return plan.Errorf("merge: %s/summary.json: %s is %s: want %s", s.dir, field, num(v), want)
	}
	if w := r.Window.F(); !(w >= 0 && w < maxSeconds) {
		return bad("window_s", w, fmt.Sprintf("seconds from 0 to %g", float64(maxSeconds)))
	}
	offered := r.RPM.Offered.F()
	if rate := s.run.Load.Rate; rate != nil {
		// The shard's share of the plan's rate, exactly.
		share := *rate / float64(s.run.Load.Shard.Count)
		if !(math.Abs(offered-share) <= 1e-9*share) {
			return bad("rpm.offered", offered, fmt.Sprintf("the plan's rate over %d shards, %g", s.run.Load.Shard.Count, share))
		}
	} else if !math.IsNaN(offered) && !(offered >= 0 && offered <= plan.MaxRate) {
		return bad("rpm.offered", offered, fmt.Sprintf("a rate from 0 to %g, or null", float64(plan.MaxRate)))
	}
	for _, f := range []struct {
		field string
		v     float64
		most  float64
	}{
		{"rpm.goodput", r.RPM.Goodput.F(), plan.MaxRate},
		{"tpm.quota", r.TPM.Quota.F(), maxCount},
		// No answer is a billion tokens.
		{"tokens.mismatch_mean_abs", r.Tokens.MismatchMeanAbs.F(), 1e9},
	} {
		if !math.IsNaN(f.v) && !(f.v >= 0 && f.v <= f.most) {
			return bad(f.field, f.v, fmt.Sprintf("from 0 to %g, or null", f.most))
		}
	}
	q := r.Requests
	for _, c := range []struct {
		field string
		n     int64
	}{
		{"requests.held_back", q.HeldBack}, {"requests.not_sent", q.NotSent},
		{"tokens.compared", r.Tokens.Compared}, {"tokens.mismatched", r.Tokens.Mismatched},
		{"sessions", r.Sessions},
	} {
		if c.n < 0 || c.n > maxCount {
			return bad(c.field, float64(c.n), fmt.Sprintf("a count from 0 to %g", float64(maxCount)))
		}
	}
	if e := r.Entra; e != nil && (e.Refreshes < 0 || e.Failures < 0 || e.Refreshes > maxCount || e.Failures > maxCount) {
		return plan.Errorf("merge: %s/summary.json: entra counts %d and %d: want counts from 0", s.dir, e.Refreshes, e.Failures)
	}
	return s.checkAnswers()
}

// checkAnswers range-checks the summary's answers: every figure is a
// count, and each kind is one the merge knows.
func (s *shard) checkAnswers() error {
	a := s.results.Answers
	if a == nil {
		return nil
	}
	counts := []struct {
		field string
		n     int64
	}{
		{"text", a.Text}, {"tool_call", a.ToolCall}, {"structured", a.Structured}, {"tool_calls", a.ToolCalls},
		{"tool_args.valid", a.ToolArgs.Valid}, {"tool_args.not_json", a.ToolArgs.NotJSON},
		{"tool_args.mismatch", a.ToolArgs.Mismatch}, {"tool_args.unchecked", a.ToolArgs.Unchecked},
		{"structured_answers.valid", a.StructuredVerdicts.Valid}, {"structured_answers.not_json", a.StructuredVerdicts.NotJSON},
		{"structured_answers.mismatch", a.StructuredVerdicts.Mismatch}, {"structured_answers.unchecked", a.StructuredVerdicts.Unchecked},
		{"image_requests", a.ImageRequests}, {"images", a.Images}, {"image_bytes", a.ImageBytes},
		{"image_tokens", a.ImageTokens}, {"image_tokens_unknown", a.ImageTokensUnknown},
	}
	for k, kr := range a.Kinds {
		if !slices.Contains(metrics.AnswerKinds, k) {
			return plan.Errorf("merge: %s/summary.json: answers.kinds has %.40q: not an answer kind", s.dir, k)
		}
		if kr == nil {
			return plan.Errorf("merge: %s/summary.json: answers.kinds.%s is null", s.dir, k)
		}
		counts = append(counts, struct {
			field string
			n     int64
		}{"kinds." + string(k) + ".requests", kr.Requests}, struct {
			field string
			n     int64
		}{"kinds." + string(k) + ".output_tokens", kr.OutputTokens})
	}
	for _, c := range counts {
		if c.n < 0 || c.n > maxCount {
			return plan.Errorf("merge: %s/summary.json: answers.%s is %d: want a count from 0 to %g", s.dir, c.field, c.n, float64(maxCount))
		}
	}
	return nil
}

// checkHists decodes the shard's histograms and holds each to the count
// of values its summary says it holds.
func (s *shard) checkHists() error {
	sum := metrics.NewSummary(metrics.SLO{})
	if err := sum.AddHistFile(s.hists); err != nil {
		return plan.Errorf("merge: %s/histograms.json: %v", s.dir, err)
	}
	check := func(field string, has, claim int64) error {
		if has != claim {
			return plan.Errorf("merge: %s/histograms.json: %s holds %d values but summary.json's %s.count is %d", s.dir, field, has, field, claim)
		}
		return nil
	}
	for _, name := range metrics.Dists {
		if err := check("latency."+name, sum.Hist(name).Count(), s.results.Latency[name].Count); err != nil {
			return err
		}
		// The values too, not only their number: a histogram swapped for
		// another of the same count would move the merged figures.
		if got, want := sum.Hist(name).Dist(0), s.results.Latency[name]; want.Count > 0 && (!same(got.P50, want.P50) || !same(got.Max, want.Max) || !same(got.Min, want.Min)) {
			return plan.Errorf("merge: %s/histograms.json: latency.%s holds other values than summary.json's (p50 %s, max %s there; %s, %s here)",
				s.dir, name, num(want.P50.F()), num(want.Max.F()), num(got.P50.F()), num(got.Max.F()))
		}
	}
	if err := check("tokens_per_s", sum.TokensPerSec.Count(), s.results.TokensPerS.Count); err != nil {
		return err
	}
	if a := s.results.Answers; a != nil {
		for k, kr := range a.Kinds {
			for name, d := range map[string]metrics.Dist{"ttft": kr.TTFT, "tpot": kr.TPOT, "e2e": kr.E2E} {
				if err := check("answers.kinds."+string(k)+"."+name, sum.KindCount(k, name), d.Count); err != nil {
					return err
				}
			}
		}
	}
	return check("util", sum.Util.Count(), s.results.Util.Count)
}

// same reports whether two figures of one histogram agree (both absent,
// or equal to a part in a billion: the summary's figures went through
// JSON).
func same(a, b metrics.Num) bool {
	x, y := a.F(), b.F()
	if math.IsNaN(x) || math.IsNaN(y) {
		return math.IsNaN(x) && math.IsNaN(y)
	}
	return math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y))
}

// num writes a figure for a message: null for NaN.
func num(v float64) string {
	if math.IsNaN(v) {
		return "null"
	}
	return fmt.Sprint(v)
}
