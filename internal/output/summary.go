package output

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aoaibench/aoaibench/internal/load"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// dists lists the whole-run distributions in report order.
func dists(s *metrics.Summary) []struct {
	Name string
	H    *metrics.Hist
} {
	return []struct {
		Name string
		H    *metrics.Hist
	}{
		{"ttft", s.TTFT}, {"ttft_sched", s.TTFTSched}, {"tpot", s.TPOT}, {"itl", s.ITL},
		{"chunk_gap", s.Gap}, {"e2e", s.E2E}, {"e2e_sched", s.E2ESched}, {"headers", s.Headers},
		{"lag", s.Lag}, {"failed", s.Failed},
	}
}

// num turns NaN into nil so that encoding/json writes null.
func num(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func statsJSON(st metrics.Stats, cdf []metrics.Point) map[string]any {
	m := map[string]any{
		"count": st.Count, "mean": num(st.Mean), "min": num(st.Min), "p50": num(st.P50),
		"p90": num(st.P90), "p95": num(st.P95), "p99": num(st.P99), "p99_9": num(st.P999), "max": num(st.Max),
	}
	if cdf != nil {
		m["cdf"] = cdf
	}
	return m
}

// sendRPM is the achieved send rate over the time dispatch ran.
func sendRPM(res *load.Result) float64 {
	if res.Dispatch <= 0 {
		return nan
	}
	return float64(res.Sent) / res.Dispatch.Minutes()
}

// SummaryJSON returns summary.json: every whole-run figure, with each
// distribution's percentiles and its CDF.
func SummaryJSON(res *load.Result) ([]byte, error) {
	s := res.Summary
	reqs := map[string]any{"sent": res.Sent, "ok": s.Counts[metrics.OK], "held_back": res.HeldBack,
		"attempts": s.Attempts, "throttled_attempts": s.Throttles}
	for _, c := range metrics.Classes {
		reqs[string(c)] = s.Counts[c]
	}
	ctx, gen, total := s.TPM()
	lat := map[string]any{}
	for _, d := range dists(s) {
		lat[d.Name] = statsJSON(d.H.Stats(), d.H.CDF(200))
	}
	good, _ := s.Goodput()
	var meanAbs float64 = nan
	if s.Mismatched > 0 {
		meanAbs = float64(s.MismatchAbs) / float64(s.Mismatched)
	}
	v := map[string]any{
		"start":      res.Start.UTC().Format(time.RFC3339Nano),
		"duration_s": s.Duration().Seconds(),
		"stopped":    res.Stopped,
		"requests":   reqs,
		"rpm":        map[string]any{"offered": num(res.Offered), "sent": num(sendRPM(res)), "achieved": num(s.RPM()), "goodput": num(good)},
		"tpm":        map[string]any{"context": num(ctx), "gen": num(gen), "total": num(total)},
		"tokens": map[string]any{"prompt": s.PromptTokens, "output": s.OutputTokens, "compared": s.Compared,
			"mismatched": s.Mismatched, "mismatch_share": num(s.MismatchShare()), "mismatch_mean_abs": num(meanAbs)},
		"latency":      lat,
		"tokens_per_s": statsJSON(s.TokensPerSec.Stats(), s.TokensPerSec.CDF(200)),
		"util":         statsJSON(s.Util.Stats(), nil),
	}
	return json.MarshalIndent(v, "", "  ")
}

// WriteFileAtomic writes data to path through a temporary file and a
// rename, so readers never see a half-written file.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes files 0600
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Table writes the whole-run summary for people.
func Table(w io.Writer, res *load.Result) {
	s := res.Summary
	f1 := func(v float64) string {
		if math.IsNaN(v) {
			return "n/a"
		}
		return fmt.Sprintf("%.1f", v)
	}
	fmt.Fprintf(w, "\nSummary: %.1f s from first send to last end; dispatch stopped by %s\n", s.Duration().Seconds(), res.Stopped)
	var failed []string
	for _, c := range metrics.Classes[1:] {
		failed = append(failed, fmt.Sprintf("%s %d", c, s.Counts[c]))
	}
	fmt.Fprintf(w, "requests  sent %d, ok %d, throttled %d, failed %d (%s); attempts %d\n",
		res.Sent, s.Counts[metrics.OK], s.Counts[metrics.Throttled], s.Failures()-s.Counts[metrics.Throttled],
		strings.Join(failed, ", "), s.Attempts)
	offered := "closed loop"
	if res.Offered > 0 {
		offered = strconv.FormatFloat(res.Offered, 'f', -1, 64) + " RPM offered"
	}
	fmt.Fprintf(w, "rate      %s, %s RPM sent, %s RPM achieved", offered, f1(sendRPM(res)), f1(s.RPM()))
	if g, ok := s.Goodput(); ok {
		fmt.Fprintf(w, ", goodput %s RPM within SLO", f1(g))
	}
	fmt.Fprintln(w)
	ctx, gen, total := s.TPM()
	f0 := func(v float64) string {
		if math.IsNaN(v) {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", v)
	}
	fmt.Fprintf(w, "tokens    %s context + %s gen = %s TPM", f0(ctx), f0(gen), f0(total))
	if s.Compared > 0 {
		fmt.Fprintf(w, "; server and client output counts differ on %.1f%% of %d requests", 100*s.MismatchShare(), s.Compared)
	}
	fmt.Fprintln(w)
	if res.HeldBack > 0 {
		fmt.Fprintf(w, "warning   the --clients cap held back %d due requests: raise it, or the client, not the service, limits this test\n", res.HeldBack)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms\tcount\tmean\tmin\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
	msf := func(v float64) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%.3f", v*1e3)
	}
	for _, d := range []struct {
		name string
		h    *metrics.Hist
	}{{"TTFT", s.TTFT}, {"TTFT from sched", s.TTFTSched}, {"TPOT", s.TPOT}, {"ITL", s.ITL}, {"E2E", s.E2E},
		{"headers", s.Headers}, {"schedule lag", s.Lag}, {"failed (to failure)", s.Failed}} {
		st := d.h.Stats()
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.name, st.Count, msf(st.Mean), msf(st.Min),
			msf(st.P50), msf(st.P90), msf(st.P95), msf(st.P99), msf(st.P999), msf(st.Max))
	}
	tw.Flush()
	if st := s.TokensPerSec.Stats(); st.Count > 0 {
		fmt.Fprintf(w, "tokens/s per request  mean %.1f, p50 %.1f, p99 %.1f\n", st.Mean, st.P50, st.P99)
	}
	if st := s.Util.Stats(); st.Count > 0 {
		fmt.Fprintf(w, "utilization           mean %.1f%%, p95 %.1f%%, max %.1f%%\n", st.Mean, st.P95, st.Max)
	}
}
