package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// pt is one data point.
type pt struct{ x, y float64 }

// series is one line (or dot cloud) of a chart.
type series struct {
	name   string
	color  string
	dashed bool
	dots   bool // draw points, not a line
	cross  bool // draw points as crosses (throttled requests)
	// step draws a histogram's outline: each point is a bin's left edge
	// and count, the last the right edge of the last bin.
	step bool
	pts  []pt
}

// ref is a horizontal reference line: an offered rate, a quota.
type ref struct {
	name  string
	color string
	y     float64
}

// spec is one chart.
type spec struct {
	title, xlab, ylab string
	ss                []series
	refs              []ref
	// yMax, when set, is the least top of the y axis (100 for percent).
	yMax float64
	// marks are x positions drawn as thin vertical lines: stage ends.
	marks []float64
	// wholeX says x is a count (tokens): no tick between two whole numbers.
	wholeX bool
}

// palette colours runs; red and orange are left out, for they mark
// throttled and failed requests.
var palette = []string{"#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"}

const (
	chartW, plotH = 560, 250
	padL, padR    = 62, 12
	padT, padB    = 30, 42
	legendRow     = 16
)

// niceStep returns a round tick step for a span.
func niceStep(span float64, ticks int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(ticks)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// fmtTick formats a tick at v on an axis of ticks step apart: with the
// decimals the step needs, so that two ticks never read the same (2344.2
// and 2344.4, not 2344 twice).
func fmtTick(v, step float64) string {
	a := math.Abs(v)
	// Rounding noise from adding steps up is not a value.
	v = math.Round(v/step) * step
	// As many decimals as the step has (2.5: one; 0.25: two).
	dec := 0
	for dec < 9 && step > 0 {
		m := step * math.Pow(10, float64(dec))
		if math.Abs(m-math.Round(m)) <= 1e-6*math.Max(m, 1) {
			break
		}
		dec++
	}
	switch {
	case a == 0 || math.Abs(v) < step/2:
		return "0"
	case a >= 1e6 && step >= 1e4:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4 && step >= 10:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	t := strconv.FormatFloat(v, 'f', dec, 64)
	if dec > 0 {
		t = strings.TrimRight(strings.TrimRight(t, "0"), ".")
	}
	return t
}

// maxAbs is the largest coordinate drawn: past it the span of an axis
// could overflow. The readers refuse such values; the drawing does not
// rely on it.
const maxAbs = 1e300

// maxTicks bounds the ticks of an axis, whatever its span and step.
const maxTicks = 50

// maxMarks bounds the vertical marks (stage ends) of a chart; more are
// thinned evenly.
const maxMarks = 100

func valid(p pt) bool {
	return math.Abs(p.x) <= maxAbs && math.Abs(p.y) <= maxAbs // false for NaN too
}

// ticks returns the multiples of step from lo to hi: at most maxTicks,
// and none twice where the step is lost in the values' precision.
func ticks(lo, hi, step float64) []float64 {
	if !(step > 0) || math.IsInf(step, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return nil
	}
	first := math.Ceil(lo/step) * step
	var out []float64
	for i := range maxTicks {
		v := first + float64(i)*step
		if !(v <= hi+step/1e6) || (i > 0 && v == out[i-1]) {
			break
		}
		out = append(out, v)
	}
	return out
}

// chart draws a simple chart of ss.
func chart(title, xlab, ylab string, ss []series) string {
	return draw(spec{title: title, xlab: xlab, ylab: ylab, ss: ss})
}

// countChart draws a chart whose x is a count (tokens, turns).
func countChart(title, xlab, ylab string, ss []series) string {
	return draw(spec{title: title, xlab: xlab, ylab: ylab, ss: ss, wholeX: true})
}

// draw renders a chart as SVG: the plot, then its legend below it, where
// it hides no data. It returns "" when no series has a point, so that a
// report shows no empty charts.
func draw(c spec) string {
	x0, x1, y1 := math.Inf(1), math.Inf(-1), c.yMax
	n := 0
	for _, s := range c.ss {
		for _, p := range s.pts {
			if !valid(p) {
				continue
			}
			n++
			x0, x1, y1 = math.Min(x0, p.x), math.Max(x1, p.x), math.Max(y1, p.y)
		}
	}
	if n == 0 {
		return ""
	}
	for _, r := range c.refs {
		if math.Abs(r.y) <= maxAbs {
			y1 = math.Max(y1, r.y*1.05)
		}
	}
	if x1 <= x0 {
		// One x: a span around it that its precision can hold.
		x1 = x0 + math.Max(1, math.Abs(x0)*1e-6)
	}
	if y1 <= 0 {
		y1 = 1
	}
	ystep := niceStep(y1, 5)
	y1 = math.Ceil(y1/ystep) * ystep
	xstep := niceStep(x1-x0, 6)
	if c.wholeX {
		xstep = math.Max(math.Floor(xstep), 1) // 2.5 tokens apart: 2
	}

	// The legend's entries, laid out in rows under the plot.
	type entry struct {
		name, color        string
		dashed, dot, cross bool
	}
	var entries []entry
	for _, s := range c.ss {
		if len(s.pts) > 0 {
			entries = append(entries, entry{s.name, s.color, s.dashed, s.dots, s.cross})
		}
	}
	for _, r := range c.refs {
		if math.Abs(r.y) <= maxAbs {
			entries = append(entries, entry{r.name, r.color, true, false, false})
		}
	}
	type placed struct {
		entry
		x, row int
	}
	var legend []placed
	lx, row := padL, 0
	for _, e := range entries {
		w := 30 + 6*len(e.name)
		if lx+w > chartW-padR && lx > padL {
			lx, row = padL, row+1
		}
		legend = append(legend, placed{e, lx, row})
		lx += w
	}
	rows := 0
	if len(legend) > 0 {
		rows = row + 1
	}
	chartH := padT + plotH + padB + rows*legendRow

	pw, ph := float64(chartW-padL-padR), float64(plotH)
	sx := func(x float64) float64 { return float64(padL) + (x-x0)/(x1-x0)*pw }
	sy := func(y float64) float64 { return float64(padT) + ph - y/y1*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-points="%d" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		n, chartW, chartH, chartW, chartH, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="t">%s</text>`, padL, html.EscapeString(c.title))
	// Grid and ticks.
	for _, y := range ticks(0, y1+ystep/2, ystep) {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/><text x="%d" y="%.1f" class="yl">%s</text>`,
			padL, chartW-padR, sy(y), sy(y), padL-5, sy(y)+4, fmtTick(y, ystep))
	}
	for _, x := range ticks(x0, x1, xstep) {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="g"/><text x="%.1f" y="%d" class="xl">%s</text>`,
			sx(x), sx(x), padT, padT+plotH, sx(x), padT+plotH+15, fmtTick(x, xstep))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" class="al">%s</text>`, float64(padL)+pw/2, padT+plotH+32, html.EscapeString(c.xlab))
	fmt.Fprintf(&b, `<text transform="translate(13 %.0f) rotate(-90)" class="al">%s</text>`, float64(padT)+ph/2, html.EscapeString(c.ylab))
	// Marks, under the data.
	for i, m := range c.marks {
		if len(c.marks) > maxMarks && i%(len(c.marks)/maxMarks+1) != 0 {
			continue
		}
		if m > x0 && m < x1 {
			fmt.Fprintf(&b, `<line class="mark" x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999" stroke-width="1" stroke-dasharray="1 3"/>`, sx(m), sx(m), padT, padT+plotH)
		}
	}
	// Reference lines, under the data.
	for _, r := range c.refs {
		if !(math.Abs(r.y) <= maxAbs) {
			continue
		}
		fmt.Fprintf(&b, `<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.2" stroke-dasharray="2 3"><title>%s</title></line>`,
			padL, chartW-padR, sy(r.y), sy(r.y), r.color, html.EscapeString(r.name))
	}
	// Data.
	for _, s := range c.ss {
		if s.step {
			b.WriteString(stepPath(s, sx, sy))
			continue
		}
		var d strings.Builder
		pen := false
		for i, p := range s.pts {
			if !valid(p) {
				pen = false
				continue
			}
			// A point with no neighbour on the line would not show: draw
			// it as a dot.
			lone := !s.dots && !s.cross && !pen && (i+1 == len(s.pts) || !valid(s.pts[i+1]))
			X, Y := sx(p.x), sy(p.y)
			switch {
			case s.cross:
				fmt.Fprintf(&d, "M%.1f %.1fl5 5m0-5l-5 5", X-2.5, Y-2.5)
			case s.dots:
				fmt.Fprintf(&d, "M%.1f %.1fh0", X, Y)
			case pen:
				fmt.Fprintf(&d, "L%.1f %.1f", X, Y)
			case lone:
				fmt.Fprintf(&d, "M%.1f %.1fh0", X, Y)
			default:
				fmt.Fprintf(&d, "M%.1f %.1f", X, Y)
				pen = true
			}
		}
		if d.Len() == 0 {
			continue
		}
		style := fmt.Sprintf(`stroke="%s"`, s.color)
		switch {
		case s.dots:
			style += ` stroke-width="6" stroke-linecap="round" opacity="0.75"`
		case s.cross:
			style += ` stroke-width="1.5"`
		case s.dashed:
			style += ` stroke-width="1.5" stroke-dasharray="5 3" stroke-linecap="round"`
		default:
			style += ` stroke-width="1.8" stroke-linecap="round"`
		}
		fmt.Fprintf(&b, `<path class="series" fill="none" %s d="%s"><title>%s</title></path>`, style, d.String(), html.EscapeString(s.name))
	}
	// Legend, below the axis label.
	for _, e := range legend {
		y := padT + plotH + padB + e.row*legendRow + 10
		switch {
		case e.cross:
			fmt.Fprintf(&b, `<path d="M%d %dl7 7m0-7l-7 7" stroke="%s" stroke-width="1.8"/>`, e.x+5, y-8, e.color)
		case e.dot:
			fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3.5" fill="%s"/>`, e.x+8, y-4, e.color)
		case e.dashed:
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="4 3"/>`, e.x, e.x+18, y-4, y-4, e.color)
		default:
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`, e.x, e.x+18, y-4, y-4, e.color)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lg">%s</text>`, e.x+22, y, html.EscapeString(e.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// stepPath draws a histogram's outline, from the axis up each bin and
// back down after the last.
func stepPath(s series, sx, sy func(float64) float64) string {
	if len(s.pts) < 2 {
		return ""
	}
	var d strings.Builder
	fmt.Fprintf(&d, "M%.1f %.1f", sx(s.pts[0].x), sy(0))
	for i := 0; i+1 < len(s.pts); i++ {
		fmt.Fprintf(&d, "V%.1fH%.1f", sy(s.pts[i].y), sx(s.pts[i+1].x))
	}
	fmt.Fprintf(&d, "V%.1f", sy(0))
	style := fmt.Sprintf(`stroke="%s" stroke-width="1.8"`, s.color)
	if s.dashed {
		style = fmt.Sprintf(`stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"`, s.color)
	}
	return fmt.Sprintf(`<path class="series" fill="none" %s d="%s"><title>%s</title></path>`, style, d.String(), html.EscapeString(s.name))
}
