package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

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
	unit := "offered RPM"
	if len(caps) > 0 && caps[0].Clients {
		unit = "clients"
	}
	for _, c := range caps {
		fmt.Fprintf(&b, "<h2>%s: %s</h2>", html.EscapeString(c.Name), html.EscapeString(c.Kind))
		answerCard(&b, c)
		stepTable(&b, c)
	}
	writeCharts(&b, "Capacity curve", capacityCurves(caps, unit))
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// answerCard writes a search's answer, what bounds it, and why it is
// not a capacity answer when it is above the quota; nothing for a sweep.
func answerCard(b *strings.Builder, c *Capacity) {
	a := c.answer()
	if a == "" {
		return
	}
	fmt.Fprintf(b, `<div class="card"><div class="run">%s</div>`, html.EscapeString(a))
	if c.Bound != "" {
		fmt.Fprintf(b, `<div class="line">%s</div>`, html.EscapeString(c.Bound))
	}
	for _, w := range c.aboveQuota() {
		fmt.Fprintf(b, `<div class="why">%s</div>`, html.EscapeString(w))
	}
	b.WriteString("</div>")
}

// stepTable writes the table of a capacity's steps, then why each step
// that failed did (the result column is short), and the steps' caveats.
func stepTable(b *strings.Builder, c *Capacity) {
	cols := stepColumns(c.unit())
	b.WriteString(`<table class="sum steps"><tr>`)
	for _, col := range cols {
		fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(col.name))
	}
	b.WriteString("</tr>\n")
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
			fmt.Fprintf(b, "<td>%s</td>", html.EscapeString(v))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	for _, w := range whys {
		fmt.Fprintf(b, `<div class="why">%s</div>`, html.EscapeString(w))
	}
	for _, cv := range c.stepCaveats() {
		fmt.Fprintf(b, `<div class="caveat">%s</div>`, html.EscapeString(cv))
	}
}

// byRate is a figure of a capacity's steps against their rate. The
// probes of a search come in the order it tried them: curves are drawn
// in rate order.
func byRate(c *Capacity, get func(*metrics.Results) float64) []pt {
	var p []pt
	for _, pr := range c.Probes {
		p = append(p, pt{pr.Rate, get(pr.Results)})
	}
	sort.Slice(p, func(i, j int) bool { return p[i].x < p[j].x })
	return p
}

// curves is a series per capacity of a figure against the rate.
func curves(caps []*Capacity, get func(*metrics.Results) float64, label string, dashed bool) []series {
	var ss []series
	for i, c := range caps {
		ss = append(ss, series{name: c.Name + label, color: colorOf(i), dashed: dashed, pts: byRate(c, get)})
	}
	return ss
}

// capacityCurves are the charts against the rate offered (or clients,
// unit): achieved rate, tokens, throttled share and latencies. Every
// chart spans the same rates, from 0.
func capacityCurves(caps []*Capacity, unit string) []string {
	top := 0.0
	for _, c := range caps {
		for _, p := range c.Probes {
			top = math.Max(top, p.Rate)
		}
	}
	top *= 1.05
	o := outcomesOf(caps, top)
	lat := func(key string) []series {
		return append(curves(caps, func(r *metrics.Results) float64 { return 1e3 * r.Latency[key].P50.F() }, " p50", false),
			curves(caps, func(r *metrics.Results) float64 { return 1e3 * r.Latency[key].P95.F() }, " p95", true)...)
	}
	at := func(sp spec) spec {
		sp.xlab, sp.xLo, sp.xHi, sp.marks = unit, 0, top, o.answers
		return sp
	}
	achieved := curves(caps, func(r *metrics.Results) float64 { return r.RPM.Achieved.F() }, " achieved", false)
	if unit != "clients" {
		// Where achieved meets offered: the y = x line.
		achieved = append([]series{{name: "achieved = offered", color: "#999", dashed: true, dash: "3 3", pts: []pt{{0, 0}, {top, top}}}}, achieved...)
	}
	tpm := curves(caps, func(r *metrics.Results) float64 { return r.TPM.Total.F() }, " billed", false)
	for i, c := range caps {
		q := byRate(c, func(r *metrics.Results) float64 { return r.TPM.Quota.F() })
		if !samePts(q, tpm[i].pts) {
			tpm = append(tpm, series{name: c.Name + " counted by a standard quota", color: colorOf(i), dashed: true, pts: q})
		}
	}
	return []string{
		draw(at(spec{title: "Achieved RPM against " + unit, ylab: "RPM achieved", ss: append(achieved, o.marks...), refs: o.rpmRefs})),
		draw(at(spec{title: "Tokens a minute against " + unit, ylab: "TPM", ss: tpm, refs: o.tpmRefs})),
		draw(at(spec{title: "Throttled (429) share against " + unit, ylab: "percent", yMax: 100,
			ss: curves(caps, func(r *metrics.Results) float64 { return 100 * r.Share(r.Requests.Throttled) }, "", false)})),
		draw(at(spec{title: "Time to first token against " + unit, ylab: "ms", ss: lat("ttft")})),
		draw(at(spec{title: "Time per output token against " + unit, ylab: "ms", ss: lat("tpot")})),
		draw(at(spec{title: "End-to-end latency against " + unit, ylab: "ms", ss: lat("e2e")})),
	}
}

// outcomes are what the achieved-rate chart marks: each step by its
// result, each search's answer, and the quotas.
type outcomes struct {
	marks            []series
	answers          []mark
	tpmRefs, rpmRefs []ref
}

// outcomesOf marks each capacity's steps as passed, failed, not judged or
// NOT VALID, its answer, and its quotas; a request limit only when near
// enough (top is the chart's end) not to flatten the curves.
func outcomesOf(caps []*Capacity, top float64) outcomes {
	var o outcomes
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
		o.marks = append(o.marks, series{name: c.Name + " passed", color: colorOf(i), dots: true, pts: pass},
			series{name: c.Name + " failed", color: "#d62728", cross: true, pts: fail},
			series{name: c.Name + " not judged", color: colorOf(i), dots: true, pts: none},
			series{name: c.Name + " NOT VALID (not a test of its rate)", color: "#ff7f0e", cross: true, pts: invalid})
		if !math.IsNaN(c.MaxRate) {
			o.answers = append(o.answers, mark{x: c.MaxRate, label: c.Name + " answer " + strconv.FormatFloat(c.MaxRate, 'f', -1, 64)})
		}
		if q := c.Quota; !math.IsNaN(q.TPM) {
			o.tpmRefs = append(o.tpmRefs, ref{name: c.Name + " quota (" + quotaSource(q, "tokens") + ")", color: colorOf(i), y: q.TPM, dash: quotaDash})
		}
		if q := c.Quota; !math.IsNaN(q.RPM) && q.RPM <= 2*top {
			o.rpmRefs = append(o.rpmRefs, ref{name: c.Name + " limit (" + quotaSource(q, "requests") + ")", color: colorOf(i), y: q.RPM, dash: quotaDash})
		}
	}
	return o
}
