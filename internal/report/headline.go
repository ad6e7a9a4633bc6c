package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// quota is the limit the run was held to: summary.json's, else the
// largest x-ratelimit-limit-* the endpoint announced, else what the run
// learned when throttled, else the simulator's settings.
func (r *Run) quota() Quota {
	if q := r.Quota; !math.IsNaN(q.TPM) || !math.IsNaN(q.RPM) {
		return q
	}
	q := noQuota
	for _, rec := range r.Records {
		if v := rec.LimitTokens.F(); v > 0 && !(v <= q.TPM) {
			q.TPM = v
		}
		if v := rec.LimitRequests.F(); v > 0 && !(v <= q.RPM) {
			q.RPM = v
		}
	}
	if s := r.Summary; s != nil && s.Throttling != nil {
		if math.IsNaN(q.TPM) && s.Throttling.LimitTokens > 0 {
			q.TPM = float64(s.Throttling.LimitTokens)
		}
		if math.IsNaN(q.RPM) && s.Throttling.LimitRequests > 0 {
			q.RPM = float64(s.Throttling.LimitRequests)
		}
	}
	if !math.IsNaN(q.TPM) || !math.IsNaN(q.RPM) {
		q.Source = "x-ratelimit-limit"
		return q
	}
	return r.Settings.SimQuota
}

// quotaSource says where a quota figure came from, for a label.
func quotaSource(q Quota, which string) string {
	switch q.Source {
	case "x-ratelimit-limit":
		return "x-ratelimit-limit-" + which
	case "":
		return "quota"
	}
	return q.Source
}

// grouped writes v with prec decimals and thousands separated: 120,000.
func grouped(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', prec, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// fig writes one headline figure, marked with its key so that a test (or
// a scraper) finds it.
func fig(key, text string) string {
	return fmt.Sprintf(`<b data-fig="%s">%s</b>`, key, html.EscapeString(text))
}

// headline writes what a planner quotes first, a card per run: the
// verdict, achieved against offered against the quota (requests and
// tokens a minute), the throttled share, TTFT and TPOT p95, and the
// notes on them.
func headline(b *strings.Builder, runs []*Run, rows []Row) {
	b.WriteString(`<div class="cards">`)
	for i, r := range rows {
		run := runs[i]
		b.WriteString(`<div class="card">`)
		verdictLine(b, r)
		requestsLine(b, run, r)
		tokensLine(b, r)
		latencyLine(b, r)
		above := aboveLimits(b, r)
		for _, c := range r.Caveats {
			if above && strings.HasSuffix(c, "no whole minute allows it") {
				continue // said above, in red
			}
			fmt.Fprintf(b, `<div class="caveat">%s</div>`, html.EscapeString(c))
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(b, `<div class="warn">%s</div>`, html.EscapeString(w))
		}
		if s := settingsLine(run, r); s != "" {
			fmt.Fprintf(b, `<div class="muted">%s</div>`, html.EscapeString(s))
		}
		b.WriteString("</div>\n")
	}
	b.WriteString("</div>\n")
}

// verdictLine writes the run's name and verdict, and why it is not valid.
func verdictLine(b *strings.Builder, r Row) {
	fmt.Fprintf(b, `<div class="run">%s `, html.EscapeString(r.Name))
	switch {
	case !r.Judged:
		b.WriteString(`<span class="badge">no verdict: a log's last line</span>`)
	case r.Valid:
		b.WriteString(`<span class="badge ok" data-fig="verdict">valid</span>`)
	default:
		b.WriteString(`<span class="badge bad" data-fig="verdict">NOT VALID</span>`)
	}
	b.WriteString("</div>")
	for _, why := range r.Invalid {
		fmt.Fprintf(b, `<div class="why">not valid for the offered rate: %s</div>`, html.EscapeString(why))
	}
}

// quotaFig is a headline's quota figure of which (requests, tokens) in
// unit, and where it came from; "" when unknown.
func quotaFig(q Quota, v float64, which, unit string) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf(` · quota %s %s <span class="muted">(%s)</span>`, fig("quota_"+which, grouped(v, 0)), unit, html.EscapeString(quotaSource(q, which)))
}

// requestsLine writes requests, or conversations and requests, a minute:
// achieved, offered and the limit.
func requestsLine(b *strings.Builder, run *Run, r Row) {
	b.WriteString(`<div class="line">`)
	if !math.IsNaN(r.OfferedCPM) || !math.IsNaN(r.CPM) {
		fmt.Fprintf(b, `Conversations a minute: %s started of %s offered; requests a minute (every turn): %s achieved`,
			fig("conversations_pm", grouped(r.CPM, 1)), fig("offered_conversations_pm", grouped(r.OfferedCPM, 1)), fig("rpm_achieved", grouped(r.RPM, 1)))
		if run.Settings.Turns > 1 {
			fmt.Fprintf(b, ` <span class="muted">(up to %d turns a conversation)</span>`, run.Settings.Turns)
		}
	} else {
		fmt.Fprintf(b, `Requests a minute: %s achieved`, fig("rpm_achieved", grouped(r.RPM, 1)))
		if !math.IsNaN(r.OfferedRPM) {
			fmt.Fprintf(b, ` of %s offered`, fig("rpm_offered", grouped(r.OfferedRPM, 1)))
		}
	}
	b.WriteString(quotaFig(r.Quota, r.Quota.RPM, "requests", "RPM"))
	b.WriteString("</div>")
}

// tokensLine writes tokens a minute: billed, counted by a standard quota
// where that differs, and the quota.
func tokensLine(b *strings.Builder, r Row) {
	b.WriteString(`<div class="line">Tokens a minute: `)
	billed := "prompt + output"
	if r.Batch > 0 {
		billed = "input"
	}
	fmt.Fprintf(b, `%s billed (%s)`, fig("tpm_total", grouped(r.TPMTotal, 0)), billed)
	if !math.IsNaN(r.TPMQuota) && r.TPMQuota != r.TPMTotal {
		fmt.Fprintf(b, `, %s counted by a standard quota (prompt + max_tokens)`, fig("tpm_quota_counted", grouped(r.TPMQuota, 0)))
	}
	b.WriteString(quotaFig(r.Quota, r.Quota.TPM, "tokens", "TPM"))
	b.WriteString("</div>")
}

// latencyLine writes the throttled share and the latencies' p95.
func latencyLine(b *strings.Builder, r Row) {
	b.WriteString(`<div class="line">`)
	share := nan
	if r.Sent > 0 {
		share = 100 * float64(r.Throttled) / float64(r.Sent)
	}
	fmt.Fprintf(b, `Throttled (429): %s of %s sent`, fig("throttled_pct", Cell(share, 1)+"%"), grouped(float64(r.Sent), 0))
	if !math.IsNaN(r.TTFT95) {
		fmt.Fprintf(b, ` · TTFT p95 %s ms · TPOT p95 %s ms`, fig("ttft_p95_ms", Cell(r.TTFT95, ms)), fig("tpot_p95_ms", Cell(r.TPOT95, ms)))
	}
	if !math.IsNaN(r.E2E95) {
		fmt.Fprintf(b, ` · E2E p95 %s ms`, fig("e2e_p95_ms", Cell(r.E2E95, ms)))
	}
	if math.IsNaN(r.TTFT95) && r.Judged {
		b.WriteString(` <span class="muted">(answers not streamed: no TTFT or TPOT)</span>`)
	}
	b.WriteString("</div>")
}

// aboveLimits says when a rate is past the limit the endpoint announced,
// or the simulator enforces: it cannot be held, so it is no capacity
// answer. It reports whether it said so.
func aboveLimits(b *strings.Builder, r Row) bool {
	q := r.Quota
	said := false
	if !math.IsNaN(q.TPM) && r.TPMQuota > q.TPM*1.001 {
		said = true
		fmt.Fprintf(b, `<div class="why">%s TPM counted against a quota of %s: above the limit, so not a rate this deployment sustains (a window shorter than the quota's minute?)</div>`,
			grouped(r.TPMQuota, 0), grouped(q.TPM, 0))
	}
	if !math.IsNaN(q.RPM) && r.RPM > q.RPM*1.001 {
		said = true
		fmt.Fprintf(b, `<div class="why">%s RPM achieved against a limit of %s: above the limit, so not a rate this deployment sustains</div>`,
			grouped(r.RPM, 1), grouped(q.RPM, 0))
	}
	return said
}

// settingsLine says what was sent and where: the target, the lengths
// (the batch of an embeddings run, which asks for no output), clients,
// the warmup left out.
func settingsLine(run *Run, r Row) string {
	var parts []string
	if run.Target != "" {
		parts = append(parts, run.Target)
	}
	switch {
	case r.Batch > 0:
		parts = append(parts, fmt.Sprintf("embeddings, %d inputs a request", r.Batch))
		if r.Context > 0 {
			parts[len(parts)-1] += fmt.Sprintf(", about %d tokens each", r.Context)
		}
	case r.Context > 0 && r.MaxTokens > 0:
		parts = append(parts, fmt.Sprintf("%d prompt tokens, %d max tokens", r.Context, r.MaxTokens))
	case r.Context > 0:
		parts = append(parts, fmt.Sprintf("%d prompt tokens", r.Context))
	}
	if r.Clients > 0 {
		parts = append(parts, fmt.Sprintf("at most %d in flight", r.Clients))
	}
	switch {
	case !r.Judged && len(run.Lines) > 0:
		parts = append(parts, fmt.Sprintf("figures of the last live line, at %s s: rates over its trailing window", strconv.FormatFloat(r.Duration, 'f', -1, 64)))
	case !math.IsNaN(r.Duration) && r.Duration > 0:
		parts = append(parts, fmt.Sprintf("rates over %s s of dispatch", strconv.FormatFloat(r.Duration, 'f', -1, 64)))
	}
	if w := run.Settings.Warmup; w > 0 {
		parts = append(parts, fmt.Sprintf("the first %s s were a warmup, left out of the figures", strconv.FormatFloat(w, 'f', -1, 64)))
	}
	return strings.Join(parts, "; ")
}
