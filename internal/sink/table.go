package sink

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
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
	fmt.Fprintf(w, "\nSummary: dispatch stopped by %s; rates over %.1f s of dispatch\n          (%.1f s from first send to last end)\n",
		r.Stopped, r.Window.F(), r.Duration.F())
	fmt.Fprintf(w, "requests  sent %d, ok %d, throttled %d, failed %d; %d attempts", q.Sent, q.OK, q.Throttled, q.Failed()-q.Throttled, q.Attempts)
	if q.NotSent > 0 {
		fmt.Fprintf(w, "; %d due, not sent", q.NotSent)
	}
	fmt.Fprintln(w)
	var failed []string
	for _, c := range []struct {
		name string
		n    int64
	}{{"http", q.HTTP}, {"timeout", q.Timeout}, {"connection", q.Connection}, {"stream", q.Stream}, {"incomplete", q.Incomplete}} {
		if c.n > 0 {
			failed = append(failed, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "          failed: %s\n", strings.Join(failed, ", "))
	}
	if q.Warned > 0 {
		fmt.Fprintf(w, "          %d answers broke the API's rules without failing, e.g. %s\n", q.Warned, q.FirstWarning)
	}
	offered := "closed loop"
	if o := r.RPM.Offered.F(); !math.IsNaN(o) {
		offered = strconv.FormatFloat(math.Round(o*10)/10, 'f', -1, 64) + " offered"
		if r.Sessions > 0 {
			offered = strconv.FormatFloat(math.Round(o*10)/10, 'f', -1, 64) + " conversations a minute offered; requests"
		}
	}
	fmt.Fprintf(w, "RPM       %s, %s sent, %s achieved", offered, f1(r.RPM.Sent), f1(r.RPM.Achieved))
	if g := r.RPM.Goodput; !math.IsNaN(g.F()) {
		fmt.Fprintf(w, ", %s goodput (within SLO)", f1(g))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "TPM       %s context + %s gen = %s; %s by a standard quota's count\n",
		f0(r.TPM.Context), f0(r.TPM.Gen), f0(r.TPM.Total), f0(r.TPM.Quota))
	if q := r.Quota; q != nil {
		fmt.Fprintf(w, "quota     %d TPM, %d RPM (%s)\n", q.TPM, q.RPM, q.Source)
	}
	for _, c := range r.Caveats {
		// Beside the rates they qualify.
		Wrapped(w, "NOTE      ", c)
	}
	if t := r.Tokens; t.Compared > 0 {
		fmt.Fprintf(w, "tokens    server and client output counts differ on %.1f%% of %d requests\n", 100*t.MismatchShare.F(), t.Compared)
	}
	if t := r.Tokens; t.Reasoning > 0 {
		fmt.Fprintf(w, "          %d reasoning tokens\n", t.Reasoning)
	}
	if t := r.Tokens; t.CacheReported > 0 {
		fmt.Fprintf(w, "cache     %d of %d requests hit the prompt cache; %.1f%% of prompt tokens cached\n",
			t.CachedRequests, t.CacheReported, 100*r.CachedShare())
	}
	if r.Sessions > 0 {
		fmt.Fprintf(w, "sessions  %d conversations, %d requests\n", r.Sessions, q.Sent)
	}
	if e := r.Entra; e != nil {
		fmt.Fprintf(w, "auth      Microsoft Entra ID: %d token refreshes in the background, %d failed\n", e.Refreshes, e.Failures)
	}
	if len(r.Connections.Protocols) > 0 {
		var ps []string
		for p, n := range r.Connections.Protocols {
			ps = append(ps, fmt.Sprintf("%s %d", p, n))
		}
		sort.Strings(ps)
		fmt.Fprintf(w, "transport %d connections opened for %d attempts (%s)\n", r.Connections.New, q.Attempts, strings.Join(ps, ", "))
	}
	if len(r.Invalid) > 0 {
		fmt.Fprintf(w, "WARNING   these figures are NOT VALID for %s RPM:\n", strconv.FormatFloat(r.RPM.Offered.F(), 'f', -1, 64))
		for _, why := range r.Invalid {
			Wrapped(w, "          - ", why)
		}
	}
	// Four significant digits keep the table within 80 columns.
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms\tcount\tmean\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
	msf := func(v metrics.Num) string {
		ms := v.F() * 1e3
		switch {
		case math.IsNaN(ms):
			return "-"
		case ms >= 1000:
			return fmt.Sprintf("%.0f", ms)
		case ms >= 100:
			return fmt.Sprintf("%.1f", ms)
		case ms >= 10:
			return fmt.Sprintf("%.2f", ms)
		}
		return fmt.Sprintf("%.3f", ms)
	}
	// Whole answers (--no-stream, embeddings) have no first token: their
	// rows would be empty, and E2E is the figure.
	whole := r.Latency["ttft"].Count == 0 && r.Latency["e2e"].Count > 0
	for _, d := range []struct{ name, key string }{{"TTFT", "ttft"}, {"TTFT from sched", "ttft_sched"},
		{"to content", "ttft_content"}, {"to reasoning", "ttft_reasoning"}, {"TPOT", "tpot"}, {"ITL", "itl"},
		{"TTFT cached", "ttft_cached"}, {"TTFT not cached", "ttft_uncached"},
		{"E2E", "e2e"}, {"headers", "headers"}, {"schedule lag", "lag"}, {"to failure", "failed"}, {"not sent, lag", "not_sent_lag"}} {
		st, ok := r.Latency[d.key]
		if !ok || st.Count == 0 && (d.key == "ttft_content" || d.key == "ttft_reasoning" || d.key == "not_sent_lag" || d.key == "failed") {
			continue
		}
		if whole && st.Count == 0 {
			continue
		}
		if (d.key == "ttft_cached" || d.key == "ttft_uncached") && (r.Tokens.CachedRequests == 0 || r.Tokens.CachedRequests == q.OK) {
			// The split says something only when both sides have requests.
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.name, st.Count, msf(st.Mean),
			msf(st.P50), msf(st.P90), msf(st.P95), msf(st.P99), msf(st.P999), msf(st.Max))
	}
	tw.Flush()
	if whole {
		fmt.Fprintf(w, "not streamed: whole answers, so no TTFT, TPOT or ITL; %s input tokens/s\n", f0(metrics.Num(r.TPM.Context.F()/60)))
	}
	if len(r.Deployments) > 0 {
		for i, n := range slices.Sorted(maps.Keys(r.Deployments)) {
			sv := r.Deployments[n]
			head := "served by "
			if i > 0 {
				head = "          "
			}
			spill := ""
			if sv.Spilled > 0 {
				spill = fmt.Sprintf(" (%d spilled over from %s)", sv.Spilled, sv.From)
			}
			fmt.Fprintf(w, "%s%s: %d requests%s\n", head, n, sv.Requests, spill)
			fmt.Fprintf(w, "            TTFT p50 %s, p99 %s ms; E2E p50 %s, p99 %s ms\n",
				msf(sv.TTFT.P50), msf(sv.TTFT.P99), msf(sv.E2E.P50), msf(sv.E2E.P99))
		}
	}
	if st := r.TokensPerS; st.Count > 0 {
		fmt.Fprintf(w, "tokens/s per choice  mean %.1f, p50 %.1f, p99 %.1f\n", st.Mean.F(), st.P50.F(), st.P99.F())
	}
	if st := r.Util; st.Count > 0 {
		fmt.Fprintf(w, "utilization          mean %.1f%%, p95 %.1f%%, max %.1f%%\n", st.Mean.F(), st.P95.F(), st.Max.F())
	}
	if th := r.Throttling; th != nil {
		before := "the minute before"
		if th.Span.F() < 59.5 {
			before = fmt.Sprintf("the %.1f s before", th.Span.F())
		}
		fmt.Fprintf(w, "throttled from %.1f s: in %s, the endpoint admitted\n          %s requests and %s quota-counted tokens",
			th.FirstAt.F(), before, f0(th.RPMBefore), f0(th.QuotaTPM))
		if th.LimitTokens > 0 {
			fmt.Fprintf(w, "\n          (x-ratelimit-limit-tokens %d, -requests %d; least remaining tokens %d)", th.LimitTokens, th.LimitRequests, th.RemainingTokensMin)
		}
		fmt.Fprintln(w)
	}
	if len(r.Stages) > 0 {
		stageTable(w, r.Stages)
	}
	if len(r.Turns) > 0 {
		turnTable(w, r.Turns)
	}
	for _, c := range r.SLO {
		verdict := "met"
		if !c.Passed {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "slo       %s: %s (%s)\n", c.Objective, verdict, metrics.Format(c.Figure, c.Value.F()))
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

// stageTable writes a line per stage of a ramp.
func stageTable(w io.Writer, stages []metrics.StageResults) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	unit := "RPM"
	if stages[0].Clients {
		unit = "clients"
	}
	fmt.Fprintf(tw, "stage\tfrom s\tto s\ttarget %s\toffered\tsent\tok\t429\tachieved\tTTFT p95\tE2E p95\t\n", unit)
	for _, s := range stages {
		if s.Results == nil {
			fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%g\t-\t-\t-\t-\t-\t-\t-\t\n", s.Index, s.Start.F(), s.End.F(), s.Target)
			continue
		}
		r := s.Results
		num := func(v metrics.Num, prec int) string {
			if math.IsNaN(v.F()) {
				return "-"
			}
			return strconv.FormatFloat(v.F(), 'f', prec, 64)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%g\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", s.Index, s.Start.F(), s.End.F(), s.Target,
			num(r.RPM.Offered, 1), r.Requests.Sent, r.Requests.OK, r.Requests.Throttled, num(r.RPM.Achieved, 1),
			num(r.Latency["ttft"].P95, 3), num(r.Latency["e2e"].P95, 3))
	}
	tw.Flush()
}

// turnTable writes a line per turn index of a multi-turn run: the prompt
// grows with the history, and TTFT with it.
func turnTable(w io.Writer, turns []metrics.TurnResults) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "turn	sent	ok	prompt mean	cached	TTFT p50	TTFT p95	E2E p50	\n")
	for _, t := range turns {
		r := t.Results
		ms := func(v metrics.Num) string {
			if math.IsNaN(v.F()) {
				return "-"
			}
			return fmt.Sprintf("%.1f", v.F()*1e3)
		}
		mean, cached := "-", "-"
		if r.Requests.OK > 0 {
			mean = fmt.Sprintf("%.0f", float64(r.Tokens.Prompt)/float64(r.Requests.OK))
		}
		if c := r.CachedShare(); !math.IsNaN(c) {
			cached = fmt.Sprintf("%.1f%%", 100*c)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", t.Turn, r.Requests.Sent, r.Requests.OK, mean, cached,
			ms(r.Latency["ttft"].P50), ms(r.Latency["ttft"].P95), ms(r.Latency["e2e"].P50))
	}
	tw.Flush()
	fmt.Fprintln(w, "          (per turn: times in ms)")
}

// Width is the columns a line for people fits in.
const Width = 80

// Wrapped writes text after head, wrapped at word boundaries to Width
// columns, each following line indented as far as head.
func Wrapped(w io.Writer, head, text string) {
	pad := strings.Repeat(" ", len(head))
	line := head
	for i, word := range strings.Fields(text) {
		if i > 0 && len(line)+1+len(word) > Width-1 {
			fmt.Fprintln(w, line)
			line = pad + word
			continue
		}
		if i > 0 {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}
