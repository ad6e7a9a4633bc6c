package console

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aoaibench/aoaibench/internal/capacity"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// StepLine writes the line a step of a sweep or a search prints when it
// ends: its counts and its TTFT p95.
func StepLine(w io.Writer, label string, r *metrics.Results) {
	ttft := "-"
	if d := r.Latency["ttft"]; d.Count > 0 {
		ttft = metrics.Ms(d.P95.F())
	}
	q := r.Requests
	fmt.Fprintf(w, "%s: %d sent, %d ok, %d throttled, %d failed; TTFT p95 %s\n", label, q.Sent, q.OK, q.Throttled, q.Failed()-q.Throttled, ttft)
}

// Steps writes a line per step of a sweep or a search, with its verdict,
// then why each step that failed did; latencies in ms. clients says the
// steps are of client counts, not rates.
func Steps(w io.Writer, probes []capacity.Probe, clients bool) {
	if len(probes) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	unit := "RPM"
	if clients {
		unit = "clients"
	}
	ms := func(d metrics.Dist, p metrics.Num) string {
		if d.Count == 0 || math.IsNaN(p.F()) {
			return "-"
		}
		return strconv.FormatFloat(p.F()*1e3, 'f', 1, 64)
	}
	fmt.Fprintf(tw, "\n%s\tsent\tok\t429 %%\tRPM ok\tTPM\tTTFT p95\tTPOT p50\tE2E p95\tresult\t\n", unit)
	for _, p := range probes {
		r := p.Results
		verdict := "pass"
		switch {
		case !p.Judged:
			verdict = "not judged"
		case !p.Passed:
			verdict = "FAIL"
		}
		ttft, tpot, e2e := r.Latency["ttft"], r.Latency["tpot"], r.Latency["e2e"]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t\n", strconv.FormatFloat(p.Rate, 'f', -1, 64),
			r.Requests.Sent, r.Requests.OK, 100*r.Share(r.Requests.Throttled), r.RPM.Achieved.F(), r.TPM.Total.F(),
			ms(ttft, ttft.P95), ms(tpot, tpot.P50), ms(e2e, e2e.P95), verdict)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\tms\tms\tms\t\t")
	tw.Flush()
	for _, p := range probes {
		if !p.Passed && len(p.Reasons) > 0 {
			Wrapped(w, fmt.Sprintf("  %s %s failed: ", strconv.FormatFloat(p.Rate, 'f', -1, 64), unit), strings.Join(p.Reasons, "; "))
		}
	}
}

// Answer writes a search's answer, for stdout: the highest rate that met
// the objectives (slo), the bracket, the figures at that rate, and what
// bounds it. min is the lowest rate searched, tolerance as given.
func Answer(w io.Writer, f *capacity.Found, slo string, min float64, tolerance string) {
	var line string
	switch {
	case math.IsNaN(f.MaxRate):
		line = fmt.Sprintf("no rate from %g RPM up met %s", min, slo)
	case f.Stopped == "max":
		line = fmt.Sprintf("max rate: at least %g RPM (the highest searched) meets %s", f.MaxRate, slo)
	case f.Stopped == "probes":
		line = fmt.Sprintf("max rate: %g RPM meets %s; %g RPM does not (stopped after %d probes, not yet within %s)", f.Pass, slo, f.Fail, len(f.Probes), tolerance)
	default:
		line = fmt.Sprintf("max rate: %g RPM meets %s; %g RPM does not", f.Pass, slo, f.Fail)
	}
	Wrapped(w, "", line)
	if p := f.Best(); p != nil && p.Results != nil {
		r := p.Results
		fmt.Fprintf(w, "at %g RPM: %.1f RPM achieved, %.0f TPM (%.0f quota-counted),\n  TTFT p95 %s, E2E p95 %s\n", p.Rate,
			r.RPM.Achieved.F(), r.TPM.Total.F(), r.TPM.Quota.F(), metrics.Ms(r.Latency["ttft"].P95.F()), metrics.Ms(r.Latency["e2e"].P95.F()))
	}
	if f.Bound != "" {
		Wrapped(w, "", f.Bound)
	}
}
