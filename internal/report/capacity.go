package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/capacity"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// Capacity is a sweep or a search: its steps' figures against the rate
// offered.
type Capacity struct {
	Name, Path string
	Kind       string // sweep or search
	Clients    bool   // the steps are client counts, not rates
	Objectives string
	MaxRate    float64 // a search's answer, NaN for a sweep or none
	// Bound says what bounds a search's answer (search.json's "bound").
	Bound  string
	Probes []capacity.Probe
	// Steps are what the report adds to each probe, in the probes' order.
	Steps []Step
	// Quota is the limit the steps were held to, when known (from the
	// steps' own directories).
	Quota Quota
}

// Step is what a report knows of a probe beyond capacity.Probe: whether
// it was judged against objectives (a step that was not is "not judged",
// never "pass"), why it failed, and its summary's caveats.
type Step struct {
	Judged  bool
	Why     []string
	Caveats []string
}

// Verdict is a step's result for people: "pass", "fail: why", or "not
// judged" (no objectives), with why its figures are not valid.
func (c *Capacity) Verdict(i int) string {
	p, s := c.Probes[i], c.step(i)
	var v string
	switch {
	case !s.Judged:
		v = "not judged"
		if r := p.Results; r != nil && !r.Valid && len(r.Invalid) > 0 {
			v += "; NOT VALID: " + strings.Join(r.Invalid, "; ")
		}
	case p.Passed:
		v = "pass"
	case len(s.Why) > 0:
		v = "fail: " + strings.Join(s.Why, "; ")
	default:
		v = "fail"
	}
	return v
}

// short is a step's result in a word or two: pass, fail, not judged, and
// NOT VALID when its figures do not describe its rate.
func (c *Capacity) short(i int) string {
	p, s := c.Probes[i], c.step(i)
	v := "not judged"
	switch {
	case s.Judged && p.Passed:
		v = "pass"
	case s.Judged:
		v = "fail"
	}
	if r := p.Results; r != nil && !r.Valid && len(r.Invalid) > 0 {
		v += "; NOT VALID"
	}
	return v
}

// step is what the report knows of probe i (judged, when a Capacity was
// made by hand without Steps).
func (c *Capacity) step(i int) Step {
	if i < len(c.Steps) {
		return c.Steps[i]
	}
	return Step{Judged: true, Why: c.Probes[i].Reasons}
}

// IsCapacity reports whether path is a sweep's or a search's directory.
func IsCapacity(path string) bool {
	for _, f := range []string{"sweep.json", "search.json"} {
		if fileExists(filepath.Join(path, f)) {
			return true
		}
	}
	return false
}

// Kind says what a path is, for a message: "a sweep directory", "a
// search directory", "a run directory", "a JSONL log", or what it is not.
func Kind(path string) string {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "not found"
	case IsSizing(path):
		return "a size answer"
	case !fi.IsDir():
		return "a JSONL log"
	case fileExists(filepath.Join(path, "search.json")):
		return "a search directory"
	case fileExists(filepath.Join(path, "sweep.json")):
		return "a sweep directory"
	case fileExists(filepath.Join(path, "summary.json")):
		return "a run directory"
	}
	return "a directory with no run in it"
}

// ReadCapacity reads a sweep's or a search's directory.
func ReadCapacity(path string) (*Capacity, error) {
	name := filepath.Base(filepath.Clean(path))
	for _, f := range []string{"search.json", "sweep.json"} {
		b, err := os.ReadFile(filepath.Join(path, f))
		if err != nil {
			continue
		}
		var v struct {
			Kind       string           `json:"kind"`
			Clients    bool             `json:"clients"`
			Objectives string           `json:"objectives"`
			MaxRate    Num              `json:"max_rate"`
			Bound      string           `json:"bound"`
			Probes     []capacity.Probe `json:"probes"`
		}
		v.MaxRate = Num(math.NaN())
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("run %s: %s: %w", path, f, err)
		}
		// This release's keys of a step, which capacity.Probe may not
		// hold.
		var extra struct {
			Probes []struct {
				Judged *bool    `json:"judged"`
				Why    []string `json:"why"`
			} `json:"probes"`
		}
		json.Unmarshal(b, &extra)
		var c checker
		c.num("max_rate", v.MaxRate.F(), kRate)
		for i, p := range v.Probes {
			if p.Results == nil {
				return nil, plan.Errorf("%s: probe %d (at %g) has no results", filepath.Join(path, f), i+1, p.Rate)
			}
			c.must(fmt.Sprintf("probes[%d].rate", i), p.Rate, kRate)
			c.results(fmt.Sprintf("probes[%d].results.", i), p.Results)
		}
		if err := c.errIn(filepath.Join(path, f), b); err != nil {
			return nil, err
		}
		if v.Kind == "" {
			v.Kind = strings.TrimSuffix(f, ".json")
		}
		cp := &Capacity{Name: name, Path: path, Kind: v.Kind, Clients: v.Clients, Objectives: v.Objectives, MaxRate: v.MaxRate.F(),
			Bound: v.Bound, Probes: v.Probes, Quota: noQuota}
		// Files before "judged": a search judges every step; a sweep
		// judged them when it had objectives, whose checks each step's
		// results keep.
		judged := v.Kind == "search"
		for _, p := range v.Probes {
			judged = judged || len(p.Results.SLO) > 0
		}
		// Each step directory is read once, and at most maxStepDirs of
		// them: the file names them, and may name one a thousand times.
		steps := map[string]*Run{}
		for i, p := range v.Probes {
			st := Step{Judged: judged, Why: p.Reasons}
			if i < len(extra.Probes) {
				if j := extra.Probes[i].Judged; j != nil {
					st.Judged = *j
				}
				if w := extra.Probes[i].Why; len(w) > 0 {
					st.Why = w
				}
			}
			// The step's own directory holds its caveats and the quota
			// the endpoint announced: where sweep.json names it, or
			// beside sweep.json when the directory moved.
			if run := readStep(path, p.Dir, steps); run != nil {
				st.Caveats = run.Caveats
				if q := run.quota(); math.IsNaN(cp.Quota.TPM) && math.IsNaN(cp.Quota.RPM) {
					cp.Quota = q
				}
			}
			cp.Steps = append(cp.Steps, st)
		}
		return cp, nil
	}
	return nil, fmt.Errorf("run %s: no sweep.json or search.json", path)
}

// maxStepDirs bounds the step directories a capacity report reads.
const maxStepDirs = 100

// readStep reads a step's directory, or nil when it is not there or not
// readable: its figures are in sweep.json; the directory adds notes.
// read holds the directories read so far (nil for one that was not
// readable).
func readStep(capDir, dir string, read map[string]*Run) *Run {
	if dir == "" {
		return nil
	}
	if r, ok := read[dir]; ok {
		return r
	}
	if len(read) >= maxStepDirs {
		return nil
	}
	read[dir] = nil
	for _, d := range []string{filepath.Join(capDir, filepath.Base(dir)), dir} {
		if r, err := Read(d); err == nil {
			read[dir] = r
			return r
		}
	}
	return nil
}

// stepRows are the figures of each step, for the table and its md, csv
// and json forms: a key, a header and a value of each.
type stepColumn struct {
	key, name string
	get       func(c *Capacity, i int) string
	num       func(c *Capacity, i int) float64 // NaN: not a number column
}

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

// unit names a capacity's steps: offered RPM or clients.
func (c *Capacity) unit() string {
	if c.Clients {
		return "clients"
	}
	return "offered RPM"
}

// answer says a search's answer, and what bounds it.
func (c *Capacity) answer() string {
	if c.Kind != "search" {
		return ""
	}
	if math.IsNaN(c.MaxRate) {
		return fmt.Sprintf("No rate searched met %s.", c.Objectives)
	}
	return fmt.Sprintf("Highest rate meeting %s: %s RPM.", c.Objectives, strconv.FormatFloat(c.MaxRate, 'f', -1, 64))
}

// aboveQuota says when a search's answer is above the limit the endpoint
// announced (or the simulator enforces): a rate above it is never a
// capacity answer, however the steps passed (a step shorter than the
// quota's minute ends before the quota binds).
func (c *Capacity) aboveQuota() []string {
	if math.IsNaN(c.MaxRate) {
		return nil
	}
	var out []string
	q := c.Quota
	rate := strconv.FormatFloat(c.MaxRate, 'f', -1, 64)
	if !math.IsNaN(q.RPM) && c.MaxRate > q.RPM {
		out = append(out, fmt.Sprintf("%s RPM is above the %s RPM limit (%s): not a rate this deployment sustains.", rate, grouped(q.RPM, 0), quotaSource(q, "requests")))
	}
	for _, p := range c.Probes {
		if p.Rate == c.MaxRate && !math.IsNaN(q.TPM) && p.Results.TPM.Quota.F() > q.TPM*1.001 {
			out = append(out, fmt.Sprintf("At %s RPM, %s TPM were counted against a quota of %s TPM (%s): above the limit, so not a rate this deployment sustains; steps shorter than the quota's minute end before it binds.",
				rate, grouped(p.Results.TPM.Quota.F(), 0), grouped(q.TPM, 0), quotaSource(q, "tokens")))
			break
		}
	}
	return out
}

// CapacityTable writes the steps of sweeps and searches as md, csv or
// json: a row per step (latencies in ms in md; in seconds under _s keys
// in csv and json, as summary.json).
func CapacityTable(w io.Writer, caps []*Capacity, format string) error {
	switch format {
	case "csv":
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
	case "json":
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
		for i, st := range cp.Steps {
			for _, cv := range st.Caveats {
				fmt.Fprintf(w, "\nstep %d: caveat: %s\n", i+1, cv)
			}
		}
	}
	return nil
}

// CapacityHTML writes the capacity report of sweeps and searches: what
// each step achieved and how its latency grew, against the rate offered,
// every chart over the same range of rates.
func CapacityHTML(w io.Writer, caps []*Capacity, version string, now time.Time) error {
	var b strings.Builder
	var names []string
	for _, c := range caps {
		names = append(names, c.Name)
	}
	head(&b, "aoaibench capacity report", names, version, now)
	color := func(i int) string { return palette[i%len(palette)] }
	unit := "offered RPM"
	if len(caps) > 0 && caps[0].Clients {
		unit = "clients"
	}
	for _, c := range caps {
		fmt.Fprintf(&b, "<h2>%s: %s</h2>", html.EscapeString(c.Name), html.EscapeString(c.Kind))
		if a := c.answer(); a != "" {
			fmt.Fprintf(&b, `<div class="card"><div class="run">%s</div>`, html.EscapeString(a))
			if c.Bound != "" {
				fmt.Fprintf(&b, `<div class="line">%s</div>`, html.EscapeString(c.Bound))
			}
			for _, w := range c.aboveQuota() {
				fmt.Fprintf(&b, `<div class="why">%s</div>`, html.EscapeString(w))
			}
			b.WriteString("</div>")
		}
		cols := stepColumns(c.unit())
		b.WriteString(`<table class="sum steps"><tr>`)
		for _, col := range cols {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(col.name))
		}
		b.WriteString("</tr>\n")
		// The result column is short; why, below the table.
		var whys []string
		for i, p := range c.Probes {
			b.WriteString("<tr>")
			for _, col := range cols {
				v := col.get(c, i)
				if col.key == "result" {
					if v != "pass" && v != "not judged" {
						whys = append(whys, fmt.Sprintf("step %d (%s %s): %s", i+1, strconv.FormatFloat(p.Rate, 'f', -1, 64), c.unit(), v))
					}
					v = c.short(i)
				}
				fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(v))
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
		for _, w := range whys {
			fmt.Fprintf(&b, `<div class="why">%s</div>`, html.EscapeString(w))
		}
		for i, st := range c.Steps {
			for _, cv := range st.Caveats {
				fmt.Fprintf(&b, `<div class="caveat">step %d: %s</div>`, i+1, html.EscapeString(cv))
			}
		}
	}
	// The probes of a search come in the order it tried them: curves are
	// drawn in rate order.
	sorted := func(c *Capacity, get func(*metrics.Results) float64) []pt {
		var p []pt
		for _, pr := range c.Probes {
			p = append(p, pt{pr.Rate, get(pr.Results)})
		}
		sort.Slice(p, func(i, j int) bool { return p[i].x < p[j].x })
		return p
	}
	curve := func(get func(*metrics.Results) float64, label string, dashed bool) []series {
		var ss []series
		for i, c := range caps {
			ss = append(ss, series{name: c.Name + label, color: color(i), dashed: dashed, pts: sorted(c, get)})
		}
		return ss
	}
	// Every chart spans the same rates, from 0.
	top := 0.0
	for _, c := range caps {
		for _, p := range c.Probes {
			top = math.Max(top, p.Rate)
		}
	}
	top *= 1.05
	var marks []series
	var answers []mark
	var tpmRefs, rpmRefs []ref
	for i, c := range caps {
		var pass, fail, none, invalid []pt
		for k, pr := range c.Probes {
			p := pt{pr.Rate, pr.Results.RPM.Achieved.F()}
			switch {
			case !pr.Results.Valid:
				invalid = append(invalid, p)
			case !c.step(k).Judged:
				none = append(none, p)
			case pr.Passed:
				pass = append(pass, p)
			default:
				fail = append(fail, p)
			}
		}
		marks = append(marks, series{name: c.Name + " passed", color: color(i), dots: true, pts: pass},
			series{name: c.Name + " failed", color: "#d62728", cross: true, pts: fail},
			series{name: c.Name + " not judged", color: color(i), dots: true, pts: none},
			series{name: c.Name + " NOT VALID (not a test of its rate)", color: "#ff7f0e", cross: true, pts: invalid})
		if !math.IsNaN(c.MaxRate) {
			answers = append(answers, mark{x: c.MaxRate, label: c.Name + " answer " + strconv.FormatFloat(c.MaxRate, 'f', -1, 64)})
		}
		if q := c.Quota; !math.IsNaN(q.TPM) {
			tpmRefs = append(tpmRefs, ref{name: c.Name + " quota (" + quotaSource(q, "tokens") + ")", color: color(i), y: q.TPM, dash: quotaDash})
		}
		if q := c.Quota; !math.IsNaN(q.RPM) && q.RPM <= 2*top {
			rpmRefs = append(rpmRefs, ref{name: c.Name + " limit (" + quotaSource(q, "requests") + ")", color: color(i), y: q.RPM, dash: quotaDash})
		}
	}
	lat := func(key string) []series {
		return append(curve(func(r *metrics.Results) float64 { return 1e3 * r.Latency[key].P50.F() }, " p50", false),
			curve(func(r *metrics.Results) float64 { return 1e3 * r.Latency[key].P95.F() }, " p95", true)...)
	}
	at := func(sp spec) spec {
		sp.xlab, sp.xLo, sp.xHi, sp.marks = unit, 0, top, answers
		return sp
	}
	achieved := curve(func(r *metrics.Results) float64 { return r.RPM.Achieved.F() }, " achieved", false)
	if unit != "clients" {
		// Where achieved meets offered: the y = x line.
		achieved = append([]series{{name: "achieved = offered", color: "#999", dashed: true, dash: "3 3", pts: []pt{{0, 0}, {top, top}}}}, achieved...)
	}
	tpm := curve(func(r *metrics.Results) float64 { return r.TPM.Total.F() }, " billed", false)
	for i, c := range caps {
		q := sorted(c, func(r *metrics.Results) float64 { return r.TPM.Quota.F() })
		if !samePts(q, tpm[i].pts) {
			tpm = append(tpm, series{name: c.Name + " counted by a standard quota", color: color(i), dashed: true, pts: q})
		}
	}
	charts := []string{
		draw(at(spec{title: "Achieved RPM against " + unit, ylab: "RPM achieved", ss: append(achieved, marks...), refs: rpmRefs})),
		draw(at(spec{title: "Tokens a minute against " + unit, ylab: "TPM", ss: tpm, refs: tpmRefs})),
		draw(at(spec{title: "Throttled (429) share against " + unit, ylab: "percent", yMax: 100,
			ss: curve(func(r *metrics.Results) float64 { return 100 * r.Share(r.Requests.Throttled) }, "", false)})),
		draw(at(spec{title: "Time to first token against " + unit, ylab: "ms", ss: lat("ttft")})),
		draw(at(spec{title: "Time per output token against " + unit, ylab: "ms", ss: lat("tpot")})),
		draw(at(spec{title: "End-to-end latency against " + unit, ylab: "ms", ss: lat("e2e")})),
	}
	writeCharts(&b, "Capacity curve", charts)
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
