package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// stepColumn is a figure of each step, for the table and its md, csv
// and json forms: a key, a header and a value of each.
type stepColumn struct {
	key, name string
	get       func(c *Capacity, i int) string
	num       func(c *Capacity, i int) float64 // NaN: not a number column
}

// stepColumns are the step table's columns; unit heads the rate's.
func stepColumns(unit string) []stepColumn {
	res := func(get func(r *metrics.Results) float64, prec int) (func(*Capacity, int) string, func(*Capacity, int) float64) {
		return func(c *Capacity, i int) string { return Cell(get(c.Probes[i].Results), prec) },
			func(c *Capacity, i int) float64 { return get(c.Probes[i].Results) }
	}
	col := func(key, name string, get func(r *metrics.Results) float64, prec int) stepColumn {
		s, n := res(get, prec)
		return stepColumn{key, name, s, n}
	}
	lat := func(k string, p func(metrics.Dist) Num) func(r *metrics.Results) float64 {
		return func(r *metrics.Results) float64 { return p(r.Latency[k]).F() }
	}
	p50 := func(d metrics.Dist) Num { return d.P50 }
	p95 := func(d metrics.Dist) Num { return d.P95 }
	return []stepColumn{
		{"step", "step", func(c *Capacity, i int) string { return strconv.Itoa(i + 1) }, func(c *Capacity, i int) float64 { return float64(i + 1) }},
		{"offered", unit, func(c *Capacity, i int) string { return strconv.FormatFloat(c.Probes[i].Rate, 'f', -1, 64) },
			func(c *Capacity, i int) float64 { return c.Probes[i].Rate }},
		col("sent", "sent", func(r *metrics.Results) float64 { return float64(r.Requests.Sent) }, 0),
		col("ok", "ok", func(r *metrics.Results) float64 { return float64(r.Requests.OK) }, 0),
		col("throttled_pct", "429 %", func(r *metrics.Results) float64 { return 100 * r.Share(r.Requests.Throttled) }, 1),
		col("rpm", "RPM achieved", func(r *metrics.Results) float64 { return r.RPM.Achieved.F() }, 1),
		col("total_tpm", "TPM billed", func(r *metrics.Results) float64 { return r.TPM.Total.F() }, 0),
		col("quota_tpm", "TPM quota-counted", func(r *metrics.Results) float64 { return r.TPM.Quota.F() }, 0),
		col("ttft_p50_s", "TTFT p50 ms", lat("ttft", p50), ms),
		col("ttft_p95_s", "TTFT p95 ms", lat("ttft", p95), ms),
		col("tpot_p50_s", "TPOT p50 ms", lat("tpot", p50), ms),
		col("tpot_p95_s", "TPOT p95 ms", lat("tpot", p95), ms),
		col("e2e_p95_s", "E2E p95 ms", lat("e2e", p95), ms),
		{"result", "result", func(c *Capacity, i int) string { return c.Verdict(i) }, func(*Capacity, int) float64 { return nan }},
	}
}

// CapacityTable writes the steps of sweeps and searches as md, csv or
// json: a row per step (latencies in ms in md; in seconds under _s keys
// in csv and json, as summary.json).
func CapacityTable(w io.Writer, caps []*Capacity, format string) error {
	switch format {
	case "csv":
		return capacityCSV(w, caps)
	case "json":
		return capacityJSON(w, caps)
	}
	capacityMarkdown(w, caps)
	return nil
}

// capacityCSV writes a row per step, numbers as numbers.
func capacityCSV(w io.Writer, caps []*Capacity) error {
	cw := csv.NewWriter(w)
	cols := stepColumns("offered")
	hdr := []string{"run", "kind"}
	for _, c := range cols {
		hdr = append(hdr, c.key)
	}
	cw.Write(hdr)
	for _, cp := range caps {
		for i := range cp.Probes {
			rec := []string{cp.Name, cp.Kind}
			for _, c := range cols {
				if c.key == "result" {
					rec = append(rec, c.get(cp, i))
					continue
				}
				rec = append(rec, csvNum(c.num(cp, i)))
			}
			cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}

// capacityJSON writes each capacity with its answer and its steps, each
// step with its verdict, caveats and figures (null for none).
func capacityJSON(w io.Writer, caps []*Capacity) error {
	var out []map[string]any
	for _, cp := range caps {
		var steps []map[string]any
		for i, p := range cp.Probes {
			st := cp.step(i)
			m := map[string]any{"judged": st.Judged, "passed": p.Passed, "valid": p.Results.Valid, "caveats": st.Caveats}
			if st.Caveats == nil {
				m["caveats"] = []string{}
			}
			for _, c := range stepColumns("offered") {
				if c.key == "result" {
					m[c.key] = c.get(cp, i)
					continue
				}
				m[c.key] = numOrNil(c.num(cp, i))
			}
			steps = append(steps, m)
		}
		out = append(out, map[string]any{"run": cp.Name, "kind": cp.Kind, "objectives": cp.Objectives,
			"max_rate": numOrNil(cp.MaxRate), "bound": cp.Bound, "steps": steps})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// capacityMarkdown writes each capacity: its answer, what bounds it and
// why it is not one, the table of its steps, and their caveats.
func capacityMarkdown(w io.Writer, caps []*Capacity) {
	for k, cp := range caps {
		if k > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", cp.Name, cp.Kind)
		if a := cp.answer(); a != "" {
			fmt.Fprintf(w, "\n%s\n", a)
		}
		if cp.Bound != "" {
			fmt.Fprintf(w, "%s\n", cp.Bound)
		}
		for _, a := range cp.aboveQuota() {
			fmt.Fprintf(w, "NOT A CAPACITY ANSWER: %s\n", a)
		}
		cols := stepColumns(cp.unit())
		var hdr []string
		for _, c := range cols {
			hdr = append(hdr, c.name)
		}
		fmt.Fprintf(w, "\n| %s |\n|%s\n", strings.Join(hdr, " | "), strings.Repeat("---:|", len(cols)-1)+"---|")
		for i := range cp.Probes {
			var cells []string
			for _, c := range cols {
				cells = append(cells, strings.ReplaceAll(c.get(cp, i), "|", "/"))
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
		for _, cv := range cp.stepCaveats() {
			fmt.Fprintf(w, "\ncaveat: %s\n", cv)
		}
	}
}
