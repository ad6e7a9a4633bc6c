package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// Row is one run's line of the summary table. Latencies are seconds; NaN
// means the run does not have the figure.
type Row struct {
	Name string
	// OfferedRPM is requests a minute; a conversation run offers
	// conversations (OfferedCPM) and has none.
	OfferedRPM                   float64
	OfferedCPM                   float64 // conversations a minute offered (--turns)
	CPM                          float64 // conversations started a minute
	Clients                      int
	Context, MaxTokens           int
	Batch                        int // inputs of an embeddings request
	Duration                     float64
	Sent, OK, Throttled, Failed  int64
	Incomplete                   int64
	RPM, SendRPM                 float64
	TPMContext, TPMGen, TPMTotal float64
	TPMQuota                     float64 // prompt + max_tokens: what a standard quota counts
	TTFT50, TTFT95, TTFT99       float64
	TPOT50, TPOT95, TPOT99       float64
	E2E50, E2E95, E2E99          float64
	UtilAvg, UtilP95             float64
	LagP99                       float64
	Mismatch                     float64 // share of requests whose token counts differ
	CachedShare                  float64 // of prompt tokens, served from the prompt cache
	Sessions                     float64 // conversations of a multi-turn run
	Spilled                      float64 // requests a provisioned deployment spilled over
	// Judged says the run has a verdict (a summary.json); Valid is it,
	// Invalid why not.
	Judged, Valid bool
	Invalid       []string
	// Caveats are summary.json's notes on its figures.
	Caveats  []string
	Quota    Quota
	Warnings []string
}

var nan = math.NaN()

// Row computes a run's summary row: from summary.json when the run has
// one, else from the last live line (the notebook's "last row").
func (r *Run) Row() Row {
	row := Row{Name: r.Name, OfferedRPM: r.Settings.Rate.F(), Clients: r.Settings.Clients, Context: r.Settings.ContextTokens,
		MaxTokens: r.Settings.MaxTokens, Mismatch: nan, LagP99: nan, TPMQuota: nan, CachedShare: nan, Sessions: nan, Spilled: nan,
		OfferedCPM: nan, CPM: nan, Caveats: r.Caveats, Quota: r.quota()}
	if r.Settings.Endpoint == "embeddings" {
		row.Batch = r.Settings.Batch
	}
	if s := r.Summary; s != nil {
		row.fromSummary(s)
	} else if n := len(r.Lines); n > 0 {
		row.fromLine(r.Lines[n-1])
	}
	if math.IsNaN(row.TPMQuota) && len(r.Records) > 0 && row.Duration > 0 {
		row.TPMQuota = quotaTPM(r.Records, r.Settings.MaxTokens, row.Duration)
	}
	if r.Summary == nil && r.Settings.Turns > 1 {
		row.OfferedCPM, row.OfferedRPM = row.OfferedRPM, nan
	}
	row.warn(r.Summary)
	return row
}

// fromSummary takes the row's figures from summary.json.
func (row *Row) fromSummary(s *metrics.Results) {
	row.Judged, row.Valid, row.Invalid = true, s.Valid, s.Invalid
	row.Duration = s.Window.F()
	q := s.Requests
	row.Sent, row.OK, row.Throttled = q.Sent, q.OK, q.Throttled
	row.Failed = q.Failed() - q.Throttled
	row.Incomplete = q.Incomplete
	if !math.IsNaN(s.RPM.Offered.F()) {
		row.OfferedRPM = s.RPM.Offered.F()
	}
	row.RPM, row.SendRPM = s.RPM.Achieved.F(), s.RPM.Sent.F()
	row.TPMContext, row.TPMGen, row.TPMTotal, row.TPMQuota = s.TPM.Context.F(), s.TPM.Gen.F(), s.TPM.Total.F(), s.TPM.Quota.F()
	l := func(k string) metrics.Dist { return s.Latency[k] }
	row.TTFT50, row.TTFT95, row.TTFT99 = l("ttft").P50.F(), l("ttft").P95.F(), l("ttft").P99.F()
	row.TPOT50, row.TPOT95, row.TPOT99 = l("tpot").P50.F(), l("tpot").P95.F(), l("tpot").P99.F()
	row.E2E50, row.E2E95, row.E2E99 = l("e2e").P50.F(), l("e2e").P95.F(), l("e2e").P99.F()
	row.UtilAvg, row.UtilP95 = s.Util.Mean.F(), s.Util.P95.F()
	if s.Util.Count == 0 {
		row.UtilAvg, row.UtilP95 = nan, nan
	}
	row.LagP99 = l("lag").P99.F()
	if s.Tokens.Compared > 0 {
		row.Mismatch = s.Tokens.MismatchShare.F()
	}
	row.CachedShare = s.CachedShare()
	if s.Sessions > 0 {
		// The offered rate of a conversation run is of
		// conversations, not of requests.
		row.Sessions = float64(s.Sessions)
		row.OfferedCPM, row.OfferedRPM = row.OfferedRPM, nan
		if w := s.Window.F(); w > 0 {
			row.CPM = float64(s.Sessions) / (w / 60)
		}
	}
	if len(s.Deployments) > 0 {
		row.Spilled = 0
		for _, d := range s.Deployments {
			row.Spilled += float64(d.Spilled)
		}
	}
}

// fromLine takes the row's figures from a log's last live line.
func (row *Row) fromLine(last Line) {
	row.Duration = last.RunSeconds.F()
	row.Sent, row.OK = int64(last.Requests.F()), int64(last.Completed.F())
	row.Throttled, row.Failed = int64(last.Throttled.F()), int64(last.Failures.F())
	row.RPM, row.SendRPM = last.RPM.F(), last.SendRPM.F()
	if !math.IsNaN(last.OfferedRPM.F()) {
		row.OfferedRPM = last.OfferedRPM.F()
	}
	row.TPMContext, row.TPMGen, row.TPMTotal = last.TPM.Context.F(), last.TPM.Gen.F(), last.TPM.Total.F()
	row.TTFT50, row.TTFT95, row.TTFT99 = last.TTFTP50.F(), last.TTFT.P95.F(), last.TTFTP99.F()
	row.TPOT50, row.TPOT95, row.TPOT99 = last.TBTP50.F(), last.TBT.P95.F(), last.TBTP99.F()
	row.E2E50, row.E2E95, row.E2E99 = last.E2EP50.F(), last.E2E.P95.F(), last.E2EP99.F()
	row.UtilAvg, row.UtilP95 = last.Util.Avg.F(), last.Util.P95.F()
	row.LagP99 = last.Lag.P99.F()
}

// quotaTPM is a first-release run's quota count, tokens a minute over
// duration seconds, from its records: each successful request's prompt
// and max_tokens (its output, when the run set none).
func quotaTPM(recs []Record, maxTokens int, duration float64) float64 {
	var q float64
	for _, rec := range recs {
		if rec.Class == "ok" {
			q += float64(rec.PromptTokens) + float64(max(maxTokens, 0))
			if maxTokens == 0 {
				q += float64(rec.OutputTokens)
			}
		}
	}
	return q / (duration / 60)
}

// warn adds the row's warnings: a load generator behind its schedule
// (unless the summary said why the run is not valid), requests cut off,
// token counts that disagree.
func (row *Row) warn(s *metrics.Results) {
	if row.LagP99 > 0.010 && (s == nil || len(s.Invalid) == 0) {
		row.Warnings = append(row.Warnings, fmt.Sprintf("schedule lag p99 is %.1f ms: the load generator fell behind its schedule", row.LagP99*1e3))
	}
	if row.Sent > 0 && float64(row.Incomplete) > 0.01*float64(row.Sent) {
		row.Warnings = append(row.Warnings, fmt.Sprintf("%d of %d requests were cut off (incomplete)", row.Incomplete, row.Sent))
	}
	if row.Mismatch > 0.01 {
		row.Warnings = append(row.Warnings, fmt.Sprintf("server and client token counts disagree on %.1f%% of requests", 100*row.Mismatch))
	}
}

// column is one figure of the summary table.
type column struct {
	key  string // stable snake_case, for csv and json (latencies in seconds, as summary.json)
	name string // for people
	get  func(Row) float64
	prec int // decimals, or ms: a latency in seconds shown in milliseconds
}

// ms is the precision of a latency column: seconds shown as milliseconds,
// to four significant digits, as the terminal shows them.
const ms = -1

var columns = []column{
	{"offered_rpm", "RPM offered (requests)", func(r Row) float64 { return r.OfferedRPM }, 1},
	{"offered_conversations_pm", "conversations/min offered", func(r Row) float64 { return r.OfferedCPM }, 1},
	{"clients", "clients", func(r Row) float64 { return known(r.Clients) }, 0},
	{"context_tokens", "context tokens", func(r Row) float64 { return known(r.Context) }, 0},
	{"max_tokens", "max tokens", func(r Row) float64 { return known(r.MaxTokens) }, 0},
	{"embedding_batch", "embedding inputs per request", func(r Row) float64 { return known(r.Batch) }, 0},
	{"duration_s", "duration s", func(r Row) float64 { return r.Duration }, 1},
	{"sent", "sent", func(r Row) float64 { return float64(r.Sent) }, 0},
	{"ok", "ok", func(r Row) float64 { return float64(r.OK) }, 0},
	{"throttled", "throttled", func(r Row) float64 { return float64(r.Throttled) }, 0},
	{"failed", "failed", func(r Row) float64 { return float64(r.Failed) }, 0},
	{"rpm", "RPM achieved (requests)", func(r Row) float64 { return r.RPM }, 1},
	{"send_rpm", "RPM sent (requests)", func(r Row) float64 { return r.SendRPM }, 1},
	{"conversations_pm", "conversations/min started", func(r Row) float64 { return r.CPM }, 1},
	{"context_tpm", "context TPM", func(r Row) float64 { return r.TPMContext }, 0},
	{"gen_tpm", "gen TPM", func(r Row) float64 { return r.TPMGen }, 0},
	{"total_tpm", "total TPM", func(r Row) float64 { return r.TPMTotal }, 0},
	{"quota_tpm", "quota-counted TPM", func(r Row) float64 { return r.TPMQuota }, 0},
	{"ttft_p50_s", "TTFT p50 ms", func(r Row) float64 { return r.TTFT50 }, ms},
	{"ttft_p95_s", "TTFT p95 ms", func(r Row) float64 { return r.TTFT95 }, ms},
	{"ttft_p99_s", "TTFT p99 ms", func(r Row) float64 { return r.TTFT99 }, ms},
	{"tpot_p50_s", "TPOT p50 ms", func(r Row) float64 { return r.TPOT50 }, ms},
	{"tpot_p95_s", "TPOT p95 ms", func(r Row) float64 { return r.TPOT95 }, ms},
	{"tpot_p99_s", "TPOT p99 ms", func(r Row) float64 { return r.TPOT99 }, ms},
	{"e2e_p50_s", "E2E p50 ms", func(r Row) float64 { return r.E2E50 }, ms},
	{"e2e_p95_s", "E2E p95 ms", func(r Row) float64 { return r.E2E95 }, ms},
	{"e2e_p99_s", "E2E p99 ms", func(r Row) float64 { return r.E2E99 }, ms},
	{"util_avg_pct", "util avg %", func(r Row) float64 { return r.UtilAvg }, 1},
	{"util_p95_pct", "util p95 %", func(r Row) float64 { return r.UtilP95 }, 1},
	{"lag_p99_s", "schedule lag p99 ms", func(r Row) float64 { return r.LagP99 }, ms},
	{"token_mismatch_share", "token mismatch share", func(r Row) float64 { return r.Mismatch }, 3},
	{"cached_share", "prompt cached share", func(r Row) float64 { return r.CachedShare }, 3},
	{"sessions", "conversations", func(r Row) float64 { return r.Sessions }, 0},
	{"spilled", "spilled over", func(r Row) float64 { return r.Spilled }, 0},
}

// csvColumns are the columns in the order of the csv: the first
// release's, then those added since, so that a reader that counts
// columns still finds its figures.
func csvColumns() []column {
	added := map[string]bool{"offered_conversations_pm": true, "embedding_batch": true, "conversations_pm": true}
	var first, later []column
	for _, c := range columns {
		if added[c.key] {
			later = append(later, c)
		} else {
			first = append(first, c)
		}
	}
	return append(first, later...)
}

// shown are the columns some run has a figure for: a row of "-" for
// every run says nothing.
func shown(rows []Row) []column {
	var out []column
	for _, c := range columns {
		for _, r := range rows {
			if !math.IsNaN(c.get(r)) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// known is n, or NaN when a setting is unknown (zero).
func known(n int) float64 {
	if n == 0 {
		return nan
	}
	return float64(n)
}

// Cell formats a figure with prec decimals (ms: seconds as
// milliseconds), "-" when it is absent.
func Cell(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	if prec == ms {
		return Millis(v)
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// Millis writes seconds as milliseconds to four significant digits (at
// most three decimals), as the terminal's summary does: 5206, 160.5,
// 10.11, 0.514.
func Millis(s float64) string {
	v := s * 1e3
	a := math.Abs(v)
	dec := 3
	switch {
	case a >= 1000:
		dec = 0
	case a >= 100:
		dec = 1
	case a >= 10:
		dec = 2
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// Markdown writes the summary table, one column per run and one row per
// figure, so that it fits a terminal whatever the figures.
func Markdown(w io.Writer, rows []Row) {
	hdr := []string{"figure"}
	for _, r := range rows {
		hdr = append(hdr, r.Name)
	}
	fmt.Fprintf(w, "| %s |\n|---|%s\n", strings.Join(hdr, " | "), strings.Repeat("---:|", len(rows)))
	for _, c := range shown(rows) {
		cells := []string{c.name}
		for _, r := range rows {
			cells = append(cells, Cell(c.get(r), c.prec))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	for _, r := range rows {
		for _, wn := range r.notes() {
			fmt.Fprintf(w, "\n%s: %s\n", r.Name, wn)
		}
	}
}

// notes are what a reader of the figures must know: the verdict when it
// is not valid, summary.json's caveats, the report's warnings.
func (r Row) notes() []string {
	var out []string
	for _, why := range r.Invalid {
		out = append(out, "NOT VALID for the offered rate: "+why)
	}
	for _, c := range r.Caveats {
		out = append(out, "caveat: "+c)
	}
	for _, w := range r.Warnings {
		out = append(out, "warning: "+w)
	}
	return out
}

// CSV writes the summary table as CSV: a row per run, a column per
// figure, headed by the figures' snake_case keys.
func CSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	hdr := []string{"run"}
	for _, c := range csvColumns() {
		hdr = append(hdr, c.key)
	}
	cw.Write(hdr)
	for _, r := range rows {
		rec := []string{r.Name}
		for _, c := range csvColumns() {
			rec = append(rec, csvNum(c.get(r)))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func csvNum(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// JSON writes every summary figure of every run, under snake_case keys.
func JSON(w io.Writer, rows []Row) error {
	var out []map[string]any
	for _, r := range rows {
		m := map[string]any{"run": r.Name, "warnings": r.Warnings, "caveats": r.Caveats}
		if r.Warnings == nil {
			m["warnings"] = []string{}
		}
		if r.Caveats == nil {
			m["caveats"] = []string{}
		}
		if r.Judged {
			m["valid"] = r.Valid
			m["invalid_reasons"] = r.Invalid
			if r.Invalid == nil {
				m["invalid_reasons"] = []string{}
			}
		}
		for _, c := range columns {
			m[c.key] = numOrNil(c.get(r))
		}
		out = append(out, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func numOrNil(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// change is one figure of two runs compared.
type change struct {
	c          column
	a, b, d, p float64 // A, B, B-A, and (B-A)/|A| in percent
}

func changes(a, b Row) []change {
	var out []change
	for _, c := range columns {
		va, vb := c.get(a), c.get(b)
		ch := change{c: c, a: va, b: vb, d: nan, p: nan}
		if !math.IsNaN(va) && !math.IsNaN(vb) {
			ch.d = vb - va
			if va != 0 {
				ch.p = 100 * (vb - va) / math.Abs(va)
			}
		}
		out = append(out, ch)
	}
	return out
}

// Compare writes, for two runs, each figure of A and B and its change, as
// md, csv or json.
func Compare(w io.Writer, a, b Row, format string) error {
	chs := changes(a, b)
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"figure", a.Name, b.Name, "change", "change_pct"})
		for _, ch := range chs {
			cw.Write([]string{ch.c.key, csvNum(ch.a), csvNum(ch.b), csvNum(ch.d), csvNum(ch.p)})
		}
		cw.Flush()
		return cw.Error()
	case "json":
		var out []map[string]any
		for _, ch := range chs {
			out = append(out, map[string]any{"figure": ch.c.key, "a": numOrNil(ch.a), "b": numOrNil(ch.b),
				"change": numOrNil(ch.d), "change_pct": numOrNil(ch.p)})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"a": a.Name, "b": b.Name, "figures": out})
	}
	fmt.Fprintf(w, "| figure | %s | %s | change | change %% |\n|---|---:|---:|---:|---:|\n", a.Name, b.Name)
	for _, ch := range chs {
		if math.IsNaN(ch.a) && math.IsNaN(ch.b) {
			continue // neither run has it
		}
		d, pct := "-", "-"
		if !math.IsNaN(ch.d) {
			d = Cell(ch.d, ch.c.prec)
			if ch.d > 0 {
				d = "+" + d
			}
		}
		if !math.IsNaN(ch.p) {
			pct = fmt.Sprintf("%+.1f%%", ch.p)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", ch.c.name, Cell(ch.a, ch.c.prec), Cell(ch.b, ch.c.prec), d, pct)
	}
	for _, r := range []Row{a, b} {
		for _, wn := range r.notes() {
			fmt.Fprintf(w, "\n%s: %s\n", r.Name, wn)
		}
	}
	return nil
}
