package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/size"
)

// Sizing is an `aoaibench size` answer (size.json) and its name.
type Sizing struct {
	Name, Path string
	*size.Result
}

// IsSizing reports whether path is a size directory (one holding
// size.json) or a size.json itself.
func IsSizing(path string) bool {
	if filepath.Base(path) == size.File && fileExists(path) {
		return true
	}
	return fileExists(filepath.Join(path, size.File))
}

// ReadSizing reads a size directory or its size.json.
func ReadSizing(path string) (*Sizing, error) {
	file := path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		file = filepath.Join(path, size.File)
	}
	r, err := size.Read(file)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	name := filepath.Base(filepath.Clean(path))
	if name == size.File {
		name = filepath.Base(filepath.Dir(filepath.Clean(path)))
	}
	return &Sizing{Name: name, Path: path, Result: r}, nil
}

// SizingHTML writes the sizing page: each answer first (PTUs, type, what
// bounds it, the cost when priced), then the throttled share against PTU
// count from the replay's steps, the formula's count marked, and the
// steps' table.
func SizingHTML(w io.Writer, sizes []*Sizing, version string, now time.Time) error {
	var b strings.Builder
	var names []string
	for _, s := range sizes {
		names = append(names, s.Name)
	}
	head(&b, "aoaibench sizing", names, version, now)
	for i, s := range sizes {
		sizingSection(&b, s, palette[i%len(palette)])
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sizingSection writes one answer: its card, the replay's charts and
// the steps' table.
func sizingSection(b *strings.Builder, s *Sizing, color string) {
	sizingCard(b, s)
	newReplayCharts(s, color).write(b)
	sizingSteps(b, s.Result)
}

// sizingCard writes the answer first (PTUs, type, what bounds it), then
// the formula's count, the replay's, the cost when priced, the latency,
// and the notes.
func sizingCard(b *strings.Builder, s *Sizing) {
	r := s.Result
	m := r.Model
	typ := ptu.Type(r.DeploymentType).Name()
	esc := html.EscapeString
	fmt.Fprintf(b, "<h2>%s: %s, %s provisioned</h2>", esc(s.Name), esc(m.Asked), esc(typ))
	b.WriteString(`<div class="card">`)
	fmt.Fprintf(b, `<div class="run">%d PTUs, %s provisioned</div>`, r.Replay.PTU, esc(typ))
	fmt.Fprintf(b, `<div class="line">%s</div>`, esc(r.Bound.Sentence))
	f := r.Formula
	fmt.Fprintf(b, `<div class="line">Azure's formula: <b>%d PTUs</b> (%.2f): peak %s RPM × %.1f prompt tokens × (1 − %.1f%% cached) + %g × peak RPM × %.1f output tokens = %s TPM, / %s TPM a PTU.</div>`,
		f.PTU, f.PTUExact, grouped(float64(f.PeakRPM), 0), f.AvgPromptTokens, 100*f.CacheRate, m.OutputRatio, f.AvgOutputTokens, grouped(f.NormalizedTPM, 0), grouped(m.InputTPMPerPTU, 0))
	ans := stepOf(r, r.Replay.PTU)
	warm := "from an empty bucket"
	if r.Warm {
		warm = "warm: the input repeated until the bucket settles"
	}
	fmt.Fprintf(b, `<div class="line">The replay (%s requests over %s, %s): <b>%d PTUs</b> refuse %s (%s; --max-throttled %s).</div>`,
		grouped(float64(r.Requests), 0), time.Duration(r.SpanSeconds*float64(time.Second)).Round(time.Second), warm,
		r.Replay.PTU, grouped(float64(ans.Throttled), 0), sharePct(r.Replay.ThrottledShare), sharePct(r.MaxThrottled))
	if c := r.Cost; c != nil {
		sizingCost(b, c)
	}
	l := r.Latency
	fmt.Fprintf(b, `<div class="line">Generation at the %g tokens/s latency target: p50 %.2f s, p95 %.2f s (%d and %d output tokens).</div>`,
		l.LatencyTPS, l.P50Seconds, l.P95Seconds, l.OutputTokensP50, l.OutputTokensP95)
	b.WriteString("</div>\n")
	var notes []string
	notes = append(notes, r.Notes...)
	if r.Cost != nil {
		notes = append(notes, r.Cost.Notes...)
	}
	for _, n := range notes {
		fmt.Fprintf(b, `<div class="caveat">%s</div>`, esc(n))
	}
}

// sizingCost writes the card's line of what a month costs.
func sizingCost(b *strings.Builder, c *size.Cost) {
	var parts []string
	if c.PTU != nil {
		parts = append(parts, fmt.Sprintf("%d PTUs at %s an hour: <b>%s</b>", c.PTU.PTU, price(c.PTU.Hourly), price(c.PTU.Monthly)))
	}
	if c.PayGo != nil {
		parts = append(parts, fmt.Sprintf("pay-as-you-go of the same tokens: <b>%s</b>", price(c.PayGo.Monthly)))
	}
	if c.Spillover != nil {
		parts = append(parts, fmt.Sprintf("%d PTUs with spillover: <b>%s</b> (%s + %s spilled)", c.Spillover.PTU, price(c.Spillover.Monthly), price(c.Spillover.PTUMonthly), price(c.Spillover.Spilled.Monthly)))
	}
	cheapest := ""
	if c.Cheapest != "" && len(parts) > 1 {
		cheapest = "; cheapest: " + map[string]string{"ptu": "the PTUs", "paygo": "pay-as-you-go", "spillover": "PTUs with spillover"}[c.Cheapest]
	}
	fmt.Fprintf(b, `<div class="line">A month (%g hours): %s%s.</div>`, c.HoursPerMonth, strings.Join(parts, "; "), html.EscapeString(cheapest))
}

// replayCharts are the charts of a replay's steps against PTU count:
// the throttled share (and, when the counts tried span far more than
// the answer's neighbourhood, that neighbourhood close up), the
// utilization, and the month's cost with spillover when priced.
type replayCharts struct {
	s                *Sizing
	color            string
	share, p99, pmax []pt    // each step's throttled percent and utilization
	lo, hi, pad      float64 // the counts tried, and the room either side
	refs             []ref   // --max-throttled, on the share's charts
}

func newReplayCharts(s *Sizing, color string) *replayCharts {
	r := s.Result
	c := &replayCharts{s: s, color: color, lo: math.Inf(1), hi: math.Inf(-1)}
	for _, st := range r.Replay.Steps {
		x := float64(st.PTU)
		c.share = append(c.share, pt{x, 100 * st.ThrottledShare})
		c.p99 = append(c.p99, pt{x, st.Utilization.P99})
		c.pmax = append(c.pmax, pt{x, st.Utilization.Max})
		c.lo, c.hi = math.Min(c.lo, x), math.Max(c.hi, x)
	}
	c.pad = math.Max(float64(r.Model.Increment), (c.hi-c.lo)*0.04)
	if r.MaxThrottled > 0 {
		c.refs = append(c.refs, ref{name: "--max-throttled " + sharePct(r.MaxThrottled), color: "#d62728", y: 100 * r.MaxThrottled, dash: quotaDash})
	}
	return c
}

// marks are the answer and the formula's count, marked; one label for
// both when they are too close for two on an axis spanning span.
func (c *replayCharts) marks(span float64) []mark {
	r := c.s.Result
	f := r.Formula
	a, fo := float64(r.Replay.PTU), float64(f.PTU)
	switch {
	case a == fo:
		return []mark{{x: a, label: fmt.Sprintf("answer = formula %d", f.PTU)}}
	case math.Abs(a-fo) < span/4:
		return []mark{{x: a, label: fmt.Sprintf("answer %d, formula %d", r.Replay.PTU, f.PTU)}, {x: fo}}
	}
	return []mark{{x: a, label: fmt.Sprintf("answer %d", r.Replay.PTU)}, {x: fo, label: fmt.Sprintf("formula %d", f.PTU)}}
}

// at sets a chart's x axis to the counts tried, the answer and the
// formula's count marked.
func (c *replayCharts) at(sp spec) spec {
	sp.xlab, sp.xLo, sp.xHi, sp.marks, sp.wholeX = "PTUs", math.Max(c.lo-c.pad, 0), c.hi+c.pad, c.marks(c.hi-c.lo+2*c.pad), true
	return sp
}

func (c *replayCharts) write(b *strings.Builder) {
	name, color := c.s.Name, c.color
	shareSeries := []series{{name: name + " refused", color: color, pts: c.share}, {name: "counts tried", color: color, dots: true, pts: c.share}}
	charts := []string{
		draw(c.at(spec{title: "Throttled (429) share against PTUs", ylab: "percent of requests", refs: c.refs,
			note: "the replay at each count tried", ss: shareSeries})),
	}
	if z, ok := c.nearAnswer(); ok {
		charts = append(charts, z)
	}
	charts = append(charts,
		draw(c.at(spec{title: "Utilization against PTUs", ylab: "percent", yMax: 100,
			note: "the bucket's level as each request is answered",
			ss:   []series{{name: "p99", color: color, pts: c.p99}, {name: "max", color: color, dashed: true, pts: c.pmax}}})))
	if m, ok := c.monthWithSpillover(); ok {
		charts = append(charts, m)
	}
	writeCharts(b, name+": the replay", charts)
}

// nearAnswer is the throttled share near the answer and the formula's
// count, close up, when the counts tried span far more than that.
func (c *replayCharts) nearAnswer() (string, bool) {
	r := c.s.Result
	f := r.Formula
	zlo := math.Min(float64(r.Replay.PTU), float64(f.PTU))
	zhi := math.Max(float64(r.Replay.PTU), float64(f.PTU))
	zpad := math.Max(2*float64(r.Model.Increment), (zhi-zlo)*0.25+0.05*zhi)
	if !(zlo-zpad > c.lo+(c.hi-c.lo)/10) {
		return "", false
	}
	var near []pt
	for _, p := range c.share {
		if p.x >= zlo-zpad && p.x <= zhi+zpad {
			near = append(near, p)
		}
	}
	sp := spec{title: "Throttled share near the answer", ylab: "percent of requests", refs: c.refs, wholeX: true,
		note: "the same, close up", xlab: "PTUs", xLo: zlo - zpad, xHi: zhi + zpad, marks: c.marks(zhi - zlo + 2*zpad),
		ss: []series{{name: c.s.Name + " refused", color: c.color, pts: near}, {name: "counts tried", color: c.color, dots: true, pts: near}}}
	return draw(sp), true
}

// monthWithSpillover is each count's month: its PTUs and what it
// spills, priced as the answer's mix is (the month's tokens are the
// input's, scaled); when the mix was priced.
func (c *replayCharts) monthWithSpillover() (string, bool) {
	r := c.s.Result
	cost := r.Cost
	if cost == nil || cost.Spillover == nil || cost.PTU == nil || cost.PayGo == nil {
		return "", false
	}
	var mix []pt
	hourly := cost.PTU.Hourly
	for _, st := range r.Replay.Steps {
		t := st.Refused
		in, cached, out := float64(t.Prompt-t.Cached)*cost.Scale, float64(t.Cached)*cost.Scale, float64(t.Output)*cost.Scale
		pc := *cost.Prices.Input
		if cost.Prices.Cached != nil {
			pc = *cost.Prices.Cached
		}
		mix = append(mix, pt{float64(st.PTU), float64(st.PTU)*hourly*size.HoursPerMonth + (in**cost.Prices.Input+cached*pc+out**cost.Prices.Output)/1e6})
	}
	return draw(c.at(spec{title: "A month's cost against PTUs, with spillover", ylab: "price a month",
		note: "PTUs at --ptu-hourly, what they refuse at pay-as-you-go prices",
		refs: []ref{{name: "pay-as-you-go alone", color: "#999", y: cost.PayGo.Monthly, dash: refDash}},
		ss:   []series{{name: "PTUs + spillover", color: c.color, pts: mix}, {name: "counts tried", color: c.color, dots: true, pts: mix}}})), true
}

// sizingSteps writes the table of the counts replayed, the answer's, the
// formula's and the cheapest mix's marked, and where the model's figures
// come from.
func sizingSteps(b *strings.Builder, r *size.Result) {
	esc := html.EscapeString
	m, f := r.Model, r.Formula
	b.WriteString(`<table class="sum steps"><tr><th>PTUs</th><th>refused</th><th>share</th><th>prompt tokens refused</th><th>output tokens refused</th><th>util p50 %</th><th>p99 %</th><th>max %</th><th>result</th></tr>` + "\n")
	for _, st := range r.Replay.Steps {
		var what []string
		if st.PTU == r.Replay.PTU {
			what = append(what, "answer")
		}
		if st.PTU == f.PTU {
			what = append(what, "formula")
		}
		if r.Cost != nil && r.Cost.Spillover != nil && st.PTU == r.Cost.Spillover.PTU {
			what = append(what, "cheapest mix")
		}
		verdict := "over"
		if st.Meets {
			verdict = "meets"
		}
		what = append([]string{verdict}, what...)
		fmt.Fprintf(b, "<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%s</td></tr>\n",
			st.PTU, grouped(float64(st.Throttled), 0), sharePct(st.ThrottledShare), grouped(float64(st.Refused.Prompt), 0), grouped(float64(st.Refused.Output), 0),
			st.Utilization.P50, st.Utilization.P99, st.Utilization.Max, esc(strings.Join(what, ", ")))
	}
	b.WriteString("</table>\n")
	fmt.Fprintf(b, `<p class="muted">%s: %s input TPM a PTU, an output token counts %g, latency target %g tokens/s; %s provisioned deploys %d PTUs and up in steps of %d. Figures from %s: %s</p>`,
		esc(m.Name), grouped(m.InputTPMPerPTU, 0), m.OutputRatio, m.LatencyTPS, esc(ptu.Type(r.DeploymentType).Name()), m.Min, m.Increment, esc(m.Table), esc(m.Source))
}

func stepOf(r *size.Result, n int) size.Step {
	for _, s := range r.Replay.Steps {
		if s.PTU == n {
			return s
		}
	}
	return size.Step{}
}

// sharePct writes a share as a percent.
func sharePct(v float64) string {
	if v > 0 && v < 0.00005 {
		return "<0.01%"
	}
	return strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
}

// price writes an amount in the user's own currency (the prices are
// theirs): two decimals, thousands grouped.
func price(v float64) string {
	return grouped(v, 2)
}
