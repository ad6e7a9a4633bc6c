package console

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

// Summary writes a run's summary for people, from its results alone, so
// that `aoaibench report` and `merge` print the same from summary.json:
// the counts, the rates and how to read them, the tokens, the verdict,
// the latency table, then what the run learned of deployments, quotas,
// stages, turns and objectives.
func Summary(w io.Writer, r *metrics.Results) {
	counts(w, r)
	rates(w, r)
	tokens(w, r)
	transport(w, r)
	if len(r.Invalid) > 0 {
		fmt.Fprintf(w, "WARNING   these figures are NOT VALID for %s RPM:\n", strconv.FormatFloat(r.RPM.Offered.F(), 'f', -1, 64))
		for _, why := range r.Invalid {
			Wrapped(w, "          - ", why)
		}
	}
	latencies(w, r)
	answers(w, r)
	deployments(w, r)
	if st := r.TokensPerS; st.Count > 0 {
		fmt.Fprintf(w, "tokens/s per choice  mean %.1f, p50 %.1f, p99 %.1f\n", st.Mean.F(), st.P50.F(), st.P99.F())
	}
	if st := r.Util; st.Count > 0 {
		fmt.Fprintf(w, "utilization          mean %.1f%%, p95 %.1f%%, max %.1f%%\n", st.Mean.F(), st.P95.F(), st.Max.F())
	}
	throttling(w, r.Throttling)
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

// counts writes why dispatch stopped, the windows, and the requests by
// outcome.
func counts(w io.Writer, r *metrics.Results) {
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
		Wrapped(w, "          ", fmt.Sprintf("%d answers broke the API's rules without failing (the records say which), e.g. %s", q.Warned, q.FirstWarning))
	}
}

// rates writes the request and token rates, the quota they are held to,
// and the caveats on how to read them, beside them.
func rates(w io.Writer, r *metrics.Results) {
	offered := "closed loop"
	if o := r.RPM.Offered.F(); !math.IsNaN(o) {
		offered = strconv.FormatFloat(math.Round(o*10)/10, 'f', -1, 64) + " offered"
		if r.Sessions > 0 {
			offered = strconv.FormatFloat(math.Round(o*10)/10, 'f', -1, 64) + " conversations a minute offered; requests"
		}
	}
	line := fmt.Sprintf("%s, %s sent, %s achieved", offered, fixed(r.RPM.Sent, 1), fixed(r.RPM.Achieved, 1))
	if g := r.RPM.Goodput; !math.IsNaN(g.F()) {
		line += fmt.Sprintf(", %s goodput (within SLO)", fixed(g, 1))
	}
	Wrapped(w, "RPM       ", line)
	Wrapped(w, "TPM       ", fmt.Sprintf("%s context + %s gen = %s; %s by a standard quota's count",
		fixed(r.TPM.Context, 0), fixed(r.TPM.Gen, 0), fixed(r.TPM.Total, 0), fixed(r.TPM.Quota, 0)))
	if q := r.Quota; q != nil {
		fmt.Fprintf(w, "quota     %d TPM, %d RPM (%s)\n", q.TPM, q.RPM, q.Source)
	}
	for _, c := range r.Caveats {
		Wrapped(w, "NOTE      ", c)
	}
}

// tokens writes how the server's and the client's counts compare, the
// reasoning, the prompt cache and the conversations.
func tokens(w io.Writer, r *metrics.Results) {
	t := r.Tokens
	if t.Compared > 0 {
		fmt.Fprintf(w, "tokens    server and client output counts differ on %.1f%% of %d requests\n", 100*t.MismatchShare.F(), t.Compared)
	}
	if t.Reasoning > 0 {
		fmt.Fprintf(w, "          %d reasoning tokens\n", t.Reasoning)
	}
	if t.CacheReported > 0 {
		fmt.Fprintf(w, "cache     %d of %d requests hit the prompt cache; %.1f%% of prompt tokens cached\n",
			t.CachedRequests, t.CacheReported, 100*r.CachedShare())
	}
	if r.Sessions > 0 {
		fmt.Fprintf(w, "sessions  %d conversations, %d requests\n", r.Sessions, r.Requests.Sent)
	}
}

// transport writes how the run signed in and reached the endpoint.
func transport(w io.Writer, r *metrics.Results) {
	if e := r.Entra; e != nil {
		fmt.Fprintf(w, "auth      Microsoft Entra ID: %d token refreshes in the background, %d failed\n", e.Refreshes, e.Failures)
	}
	if len(r.Connections.Protocols) > 0 {
		var ps []string
		for p, n := range r.Connections.Protocols {
			ps = append(ps, fmt.Sprintf("%s %d", p, n))
		}
		sort.Strings(ps)
		fmt.Fprintf(w, "transport %d connections opened for %d attempts (%s)\n", r.Connections.New, r.Requests.Attempts, strings.Join(ps, ", "))
	}
}

// latencies writes the latency table, in ms: a row per distribution that
// says something for this run.
func latencies(w io.Writer, r *metrics.Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms\tcount\tmean\tp50\tp90\tp95\tp99\tp99.9\tmax\t")
	// Whole answers (--no-stream, embeddings) have no first token: their
	// rows would be empty, and E2E is the figure.
	whole := r.Latency["ttft"].Count == 0 && r.Latency["e2e"].Count > 0
	rows := [...]struct{ name, key string }{{"TTFT", "ttft"}, {"TTFT from sched", "ttft_sched"},
		{"to content", "ttft_content"}, {"to reasoning", "ttft_reasoning"}, {"TPOT", "tpot"}, {"ITL", "itl"},
		{"TTFT cached", "ttft_cached"}, {"TTFT not cached", "ttft_uncached"},
		{"E2E", "e2e"}, {"headers", "headers"}, {"schedule lag", "lag"}, {"to failure", "failed"}, {"not sent, lag", "not_sent_lag"}}
	for _, d := range rows {
		st, ok := r.Latency[d.key]
		if !ok || st.Count == 0 && (d.key == "ttft_content" || d.key == "ttft_reasoning" || d.key == "not_sent_lag" || d.key == "failed") {
			continue
		}
		if whole && st.Count == 0 {
			continue
		}
		if (d.key == "ttft_cached" || d.key == "ttft_uncached") && (r.Tokens.CachedRequests == 0 || r.Tokens.CachedRequests == r.Requests.OK) {
			// The split says something only when both sides have requests.
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.name, st.Count, cell(st.Mean),
			cell(st.P50), cell(st.P90), cell(st.P95), cell(st.P99), cell(st.P999), cell(st.Max))
	}
	tw.Flush()
	if whole {
		fmt.Fprintf(w, "not streamed: whole answers, so no TTFT, TPOT or ITL; %s input tokens/s\n", fixed(metrics.Num(r.TPM.Context.F()/60), 0))
	}
}

// deployments writes the figures of each deployment that served the run,
// when more than one did or any spilled over.
func deployments(w io.Writer, r *metrics.Results) {
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
			cell(sv.TTFT.P50), cell(sv.TTFT.P99), cell(sv.E2E.P50), cell(sv.E2E.P99))
	}
}

// throttling writes what the endpoint admitted before it first
// throttled: the quota that binds.
func throttling(w io.Writer, th *metrics.Throttling) {
	if th == nil {
		return
	}
	before := "the minute before"
	if th.Span.F() < 59.5 {
		before = fmt.Sprintf("the %.1f s before", th.Span.F())
	}
	fmt.Fprintf(w, "throttled from %.1f s: in %s, the endpoint admitted\n          %s requests and %s quota-counted tokens",
		th.FirstAt.F(), before, fixed(th.RPMBefore, 0), fixed(th.QuotaTPM, 0))
	if th.LimitTokens > 0 {
		fmt.Fprintf(w, "\n          (x-ratelimit-limit-tokens %d, -requests %d; least left %d)", th.LimitTokens, th.LimitRequests, th.RemainingTokensMin)
	}
	fmt.Fprintln(w)
}

// stageTable writes a line per stage of a ramp, latencies in ms.
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
		num := func(v metrics.Num) string {
			if math.IsNaN(v.F()) {
				return "-"
			}
			return strconv.FormatFloat(v.F(), 'f', 1, 64)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%g\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", s.Index, s.Start.F(), s.End.F(), s.Target,
			num(r.RPM.Offered), r.Requests.Sent, r.Requests.OK, r.Requests.Throttled, num(r.RPM.Achieved),
			cell(r.Latency["ttft"].P95), cell(r.Latency["e2e"].P95))
	}
	tw.Flush()
	fmt.Fprintln(w, "          (per stage: TTFT and E2E in ms)")
}

// turnTable writes a line per turn index of a multi-turn run: the prompt
// grows with the history, and TTFT with it.
func turnTable(w io.Writer, turns []metrics.TurnResults) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "turn\tsent\tok\tprompt mean\tcached\tTTFT p50\tTTFT p95\tE2E p50\t\n")
	for _, t := range turns {
		r := t.Results
		mean, cached := "-", "-"
		if r.Requests.OK > 0 {
			mean = fmt.Sprintf("%.0f", float64(r.Tokens.Prompt)/float64(r.Requests.OK))
		}
		if c := r.CachedShare(); !math.IsNaN(c) {
			cached = fmt.Sprintf("%.1f%%", 100*c)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", t.Turn, r.Requests.Sent, r.Requests.OK, mean, cached,
			cell(r.Latency["ttft"].P50), cell(r.Latency["ttft"].P95), cell(r.Latency["e2e"].P50))
	}
	tw.Flush()
	fmt.Fprintln(w, "          (per turn: times in ms)")
}
