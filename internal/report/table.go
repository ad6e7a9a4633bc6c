package report

import (
	"encoding/csv"

	"encoding/json"
	"fmt"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"io"
	"math"
	"strconv"
	"strings"
)

// Row is one run's line of the summary table. Latencies are seconds; NaN
// means the run does not have the figure.
type Row struct {
	Name                         string
	OfferedRPM                   float64
	Clients                      int
	Context, MaxTokens           int
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
	Warnings                     []string
}

var nan = math.NaN()

// Row computes a run's summary row: from summary.json when the run has
// one, else from the last live line (the notebook's "last row").
func (r *Run) Row() Row {
	row := Row{Name: r.Name, OfferedRPM: r.Settings.Rate.F(), Clients: r.Settings.Clients, Context: r.Settings.ContextTokens,
		MaxTokens: r.Settings.MaxTokens, Mismatch: nan, LagP99: nan, TPMQuota: nan}
	if s := r.Summary; s != nil {
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
		for _, why := range s.Invalid {
			row.Warnings = append(row.Warnings, "not valid for the offered rate: "+why)
		}
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
	} else if n := len(r.Lines); n > 0 {
		last := r.Lines[n-1]
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
	if row.LagP99 > 0.010 && (r.Summary == nil || len(r.Summary.Invalid) == 0) {
		row.Warnings = append(row.Warnings, fmt.Sprintf("schedule lag p99 is %.1f ms: the load generator fell behind its schedule", row.LagP99*1e3))
	}
	if row.Sent > 0 && float64(row.Incomplete) > 0.01*float64(row.Sent) {
		row.Warnings = append(row.Warnings, fmt.Sprintf("%d of %d requests were cut off (incomplete)", row.Incomplete, row.Sent))
	}
	if row.Mismatch > 0.01 {
		row.Warnings = append(row.Warnings, fmt.Sprintf("server and client token counts disagree on %.1f%% of requests", 100*row.Mismatch))
	}
	return row
}

// column is one figure of the summary table.
type column struct {
	name string
	get  func(Row) float64
	prec int
}

var columns = []column{
	{"offered RPM", func(r Row) float64 { return r.OfferedRPM }, 1},
	{"clients", func(r Row) float64 { return known(r.Clients) }, 0},
	{"context tokens", func(r Row) float64 { return known(r.Context) }, 0},
	{"max tokens", func(r Row) float64 { return known(r.MaxTokens) }, 0},
	{"duration s", func(r Row) float64 { return r.Duration }, 1},
	{"sent", func(r Row) float64 { return float64(r.Sent) }, 0},
	{"ok", func(r Row) float64 { return float64(r.OK) }, 0},
	{"throttled", func(r Row) float64 { return float64(r.Throttled) }, 0},
	{"failed", func(r Row) float64 { return float64(r.Failed) }, 0},
	{"RPM", func(r Row) float64 { return r.RPM }, 1},
	{"context TPM", func(r Row) float64 { return r.TPMContext }, 0},
	{"gen TPM", func(r Row) float64 { return r.TPMGen }, 0},
	{"total TPM", func(r Row) float64 { return r.TPMTotal }, 0},
	{"TTFT p50 s", func(r Row) float64 { return r.TTFT50 }, 4},
	{"TTFT p95 s", func(r Row) float64 { return r.TTFT95 }, 4},
	{"TTFT p99 s", func(r Row) float64 { return r.TTFT99 }, 4},
	{"TPOT p50 s", func(r Row) float64 { return r.TPOT50 }, 5},
	{"TPOT p95 s", func(r Row) float64 { return r.TPOT95 }, 5},
	{"TPOT p99 s", func(r Row) float64 { return r.TPOT99 }, 5},
	{"E2E p50 s", func(r Row) float64 { return r.E2E50 }, 3},
	{"E2E p95 s", func(r Row) float64 { return r.E2E95 }, 3},
	{"E2E p99 s", func(r Row) float64 { return r.E2E99 }, 3},
	{"util avg %", func(r Row) float64 { return r.UtilAvg }, 1},
	{"util p95 %", func(r Row) float64 { return r.UtilP95 }, 1},
}

// known is n, or NaN when a setting is unknown (zero).
func known(n int) float64 {
	if n == 0 {
		return nan
	}
	return float64(n)
}

// Cell formats a figure with prec decimals, "-" when it is absent.
func Cell(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// Markdown writes the summary table, one row per run.
func Markdown(w io.Writer, rows []Row) {
	hdr := []string{"run"}
	for _, c := range columns {
		hdr = append(hdr, c.name)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(hdr, " | "), strings.Repeat("---|", len(hdr)))
	for _, r := range rows {
		cells := []string{r.Name}
		for _, c := range columns {
			cells = append(cells, Cell(c.get(r), c.prec))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	for _, r := range rows {
		for _, wn := range r.Warnings {
			fmt.Fprintf(w, "\nwarning: %s: %s\n", r.Name, wn)
		}
	}
}

// CSV writes the summary table as CSV.
func CSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	hdr := []string{"run"}
	for _, c := range columns {
		hdr = append(hdr, c.name)
	}
	cw.Write(hdr)
	for _, r := range rows {
		rec := []string{r.Name}
		for _, c := range columns {
			v := c.get(r)
			if math.IsNaN(v) {
				rec = append(rec, "")
			} else {
				rec = append(rec, strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// JSON writes every summary figure of every run.
func JSON(w io.Writer, rows []Row) error {
	var out []map[string]any
	for _, r := range rows {
		m := map[string]any{"run": r.Name, "warnings": r.Warnings}
		if r.Warnings == nil {
			m["warnings"] = []string{}
		}
		for _, c := range columns {
			if v := c.get(r); !math.IsNaN(v) {
				m[c.name] = v
			} else {
				m[c.name] = nil
			}
		}
		m["send RPM"] = numOrNil(r.SendRPM)
		m["lag p99 s"] = numOrNil(r.LagP99)
		m["token mismatch share"] = numOrNil(r.Mismatch)
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

// Compare writes, for two runs, each figure of A and B and its change.
func Compare(w io.Writer, a, b Row) {
	fmt.Fprintf(w, "| figure | %s | %s | change | change %% |\n|---|---|---|---|---|\n", a.Name, b.Name)
	for _, c := range columns {
		va, vb := c.get(a), c.get(b)
		d, pct := "-", "-"
		if !math.IsNaN(va) && !math.IsNaN(vb) {
			d = strconv.FormatFloat(vb-va, 'f', c.prec, 64)
			if vb-va > 0 {
				d = "+" + d
			}
			if va != 0 {
				pct = fmt.Sprintf("%+.1f%%", 100*(vb-va)/math.Abs(va))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.name, Cell(va, c.prec), Cell(vb, c.prec), d, pct)
	}
}
