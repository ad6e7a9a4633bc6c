package sink

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// Table writes a run's summary for people, from its results alone, so
// that `aoaibench report` can print the same from summary.json.
func Table(w io.Writer, r *metrics.Results) {
	f1 := func(v metrics.Num) string {
		if math.IsNaN(v.F()) {
			return "n/a"
		}
		return fmt.Sprintf("%.1f", v.F())
	}
	f0 := func(v metrics.Num) string {
		if math.IsNaN(v.F()) {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", v.F())
	}
	q := r.Requests
	fmt.Fprintf(w, "\nSummary: dispatch stopped by %s; rates over %.1f s of dispatch (%.1f s from first send to last end)\n",
		r.Stopped, r.Window.F(), r.Duration.F())
	fmt.Fprintf(w, "requests  sent %d, ok %d, throttled %d, failed %d (http %d, timeout %d, connection %d, stream %d, incomplete %d); attempts %d",
		q.Sent, q.OK, q.Throttled, q.Failed()-q.Throttled, q.HTTP, q.Timeout, q.Connection, q.Stream, q.Incomplete, q.Attempts)
	if q.NotSent > 0 {
		fmt.Fprintf(w, "; %d due but not sent", q.NotSent)
	}
	fmt.Fprintln(w)
	offered := "closed loop"
	if o := r.RPM.Offered.F(); !math.IsNaN(o) {
		offered = strconv.FormatFloat(o, 'f', -1, 64) + " RPM offered"
	}
	fmt.Fprintf(w, "rate      %s, %s RPM sent, %s RPM achieved", offered, f1(r.RPM.Sent), f1(r.RPM.Achieved))
	if g := r.RPM.Goodput; !math.IsNaN(g.F()) {
		fmt.Fprintf(w, ", goodput %s RPM within SLO", f1(g))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "tokens    %s context + %s gen = %s TPM; %s TPM counted by a standard quota (prompt + max_tokens)",
		f0(r.TPM.Context), f0(r.TPM.Gen), f0(r.TPM.Total), f0(r.TPM.Quota))
	if r.Tokens.Compared > 0 {
		fmt.Fprintf(w, "; server and client output counts differ on %.1f%% of %d requests", 100*r.Tokens.MismatchShare.F(), r.Tokens.Compared)
	}
	fmt.Fprintln(w)
	if t := r.Tokens; t.Reasoning > 0 || t.Cached > 0 {
		fmt.Fprintf(w, "          %d reasoning tokens (hidden unless streamed), %d prompt tokens from the cache (%.1f%%)\n",
			t.Reasoning, t.Cached, 100*float64(t.Cached)/math.Max(float64(t.Prompt), 1))
	}
	if len(r.Connections.Protocols) > 0 {
		var ps []string
		for p, n := range r.Connections.Protocols {
			ps = append(ps, fmt.Sprintf("%s %d", p, n))
		}
		fmt.Fprintf(w, "transport %d connections opened for %d attempts (%s)\n", r.Connections.New, q.Attempts, strings.Join(ps, ", "))
	}
	if q.HeldBack > 0 {
		fmt.Fprintf(w, "warning   the --clients cap held back %d due requests: raise it, or the client, not the service, limits this test\n", q.HeldBack)
	}
	for _, why := range r.Invalid {
		fmt.Fprintf(w, "WARNING   these figures are not valid for the offered rate: %s\n", why)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms\tcount\tmean\tmin\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
	msf := func(v metrics.Num) string {
		if math.IsNaN(v.F()) {
			return "-"
		}
		return fmt.Sprintf("%.3f", v.F()*1e3)
	}
	for _, d := range []struct{ name, key string }{{"TTFT", "ttft"}, {"TTFT from sched", "ttft_sched"},
		{"to first content", "ttft_content"}, {"to first reasoning", "ttft_reasoning"}, {"TPOT", "tpot"}, {"ITL", "itl"},
		{"E2E", "e2e"}, {"headers", "headers"}, {"schedule lag", "lag"}, {"failed (to failure)", "failed"}, {"not sent (lag)", "not_sent_lag"}} {
		st, ok := r.Latency[d.key]
		if !ok || st.Count == 0 && (d.key == "ttft_content" || d.key == "ttft_reasoning" || d.key == "not_sent_lag") {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.name, st.Count, msf(st.Mean), msf(st.Min),
			msf(st.P50), msf(st.P90), msf(st.P95), msf(st.P99), msf(st.P999), msf(st.Max))
	}
	tw.Flush()
	if st := r.TokensPerS; st.Count > 0 {
		fmt.Fprintf(w, "tokens/s per choice  mean %.1f, p50 %.1f, p99 %.1f\n", st.Mean.F(), st.P50.F(), st.P99.F())
	}
	if st := r.Util; st.Count > 0 {
		fmt.Fprintf(w, "utilization          mean %.1f%%, p95 %.1f%%, max %.1f%%\n", st.Mean.F(), st.P95.F(), st.Max.F())
	}
	for _, c := range r.SLO {
		verdict := "met"
		if !c.Passed {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "slo       %s: %s (value %s)\n", c.Objective, verdict, strconv.FormatFloat(c.Value.F(), 'g', 6, 64))
	}
}

// TableSink prints the summary table at the end of a run.
// A run stopped because the endpoint is wrong has nothing to summarize:
// its error says it all.
func TableSink(w io.Writer) Sink {
	return Sink{End: func(e End) error {
		if e.Results.Stopped != "endpoint" {
			Table(w, e.Results)
		}
		return nil
	}}
}
