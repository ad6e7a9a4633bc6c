package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
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
	// dash overrides a dashed line's pattern (SVG stroke-dasharray).
	dash string
	pts  []pt
}

// ref is a horizontal reference line: an offered rate, a quota.
type ref struct {
	run   string // the runs it stands for, named before name
	name  string
	color string
	y     float64
	// dash is the line's pattern: dotted for an offered rate, dash-dot
	// (quotaDash) for a quota, so that a legend tells them from a
	// dashed series.
	dash string
}

// mark is a vertical line at x: a stage's end, the warmup's end, a
// search's answer; label, when set, is written beside it.
type mark struct {
	x     float64
	label string
}

// Line patterns: a dashed series, an offered rate (dotted) and a quota
// (dash-dot), each told apart in a legend.
const (
	seriesDash = "5 3"
	refDash    = "2 3"
	quotaDash  = "9 3 2 3"
)

// spec is one chart.
type spec struct {
	title, xlab, ylab string
	ss                []series
	refs              []ref
	// yMax, when set, is the least top of the y axis (100 for percent).
	yMax float64
	// marks are x positions drawn as thin vertical lines: stage ends.
	marks []mark
	// wholeX says x is a count (tokens): no tick between two whole numbers;
	// wholeY the same of y (requests).
	wholeX, wholeY bool
	// note is lines under the title ("\n" between them): how the figures
	// were made, the run of a chart of one.
	note string
	// xLo and xHi, when xHi > xLo, fix the x axis, so that charts of one
	// page share it whatever their points.
	xLo, xHi float64
}

// palette colours runs; red and orange are left out, for they mark
// throttled and failed requests.
var palette = []string{"#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"}

const (
	chartW, plotH = 560, 250
	padL, padR    = 62, 12
	padT, padB    = 30, 42
	legendRow     = 16
	noteRow       = 14
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
	// A note under the title moves the plot down.
	top := padT
	var notes []string
	if c.note != "" {
		notes = strings.Split(c.note, "\n")
		top += noteRow * len(notes)
	}
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
	if c.xHi > c.xLo && c.xHi-c.xLo <= maxAbs {
		x0, x1 = c.xLo, c.xHi
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
	if c.wholeY {
		ystep = math.Max(math.Ceil(ystep), 1) // 2.5 requests apart: 3
		y1 = math.Ceil(y1/ystep) * ystep
	}
	xstep := niceStep(x1-x0, 6)
	if c.wholeX {
		xstep = math.Max(math.Floor(xstep), 1) // 2.5 tokens apart: 2
	}

	// The legend's entries, laid out in rows under the plot.
	type entry struct {
		name, color string
		dash        string // "": solid
		dot, cross  bool
	}
	var entries []entry
	for _, s := range c.ss {
		if len(s.pts) > 0 {
			entries = append(entries, entry{s.name, s.color, s.dashArray(), s.dots, s.cross})
		}
	}
	for _, r := range c.refs {
		if math.Abs(r.y) <= maxAbs {
			entries = append(entries, entry{r.label(), r.color, r.dashArray(), false, false})
		}
	}
	type placed struct {
		entry
		x, row int
	}
	var legend []placed
	lx, row := padL, 0
	for _, e := range entries {
		// 11-px text: about 6.5 px a character, and room between entries.
		w := 34 + int(6.5*float64(utf8.RuneCountInString(e.name)))
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
	chartH := top + plotH + padB + rows*legendRow

	pw, ph := float64(chartW-padL-padR), float64(plotH)
	sx := func(x float64) float64 { return float64(padL) + (x-x0)/(x1-x0)*pw }
	sy := func(y float64) float64 { return float64(top) + ph - y/y1*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-points="%d" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		n, chartW, chartH, chartW, chartH, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="t">%s</text>`, padL, html.EscapeString(c.title))
	for i, n := range notes {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="nt">%s</text>`, padL, 33+i*noteRow, html.EscapeString(n))
	}
	// Grid and ticks.
	for _, y := range ticks(0, y1+ystep/2, ystep) {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/><text x="%d" y="%.1f" class="yl">%s</text>`,
			padL, chartW-padR, sy(y), sy(y), padL-5, sy(y)+4, fmtTick(y, ystep))
	}
	for _, x := range ticks(x0, x1, xstep) {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="g"/><text x="%.1f" y="%d" class="xl">%s</text>`,
			sx(x), sx(x), top, top+plotH, sx(x), top+plotH+15, fmtTick(x, xstep))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" class="al">%s</text>`, float64(padL)+pw/2, top+plotH+32, html.EscapeString(c.xlab))
	fmt.Fprintf(&b, `<text transform="translate(13 %.0f) rotate(-90)" class="al">%s</text>`, float64(top)+ph/2, html.EscapeString(c.ylab))
	// Marks, under the data.
	for i, m := range c.marks {
		if len(c.marks) > maxMarks && i%(len(c.marks)/maxMarks+1) != 0 {
			continue
		}
		if m.x > x0 && m.x < x1 {
			fmt.Fprintf(&b, `<line class="mark" x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#777" stroke-width="1" stroke-dasharray="1 3"/>`, sx(m.x), sx(m.x), top, top+plotH)
			if m.label != "" {
				// A label that would run past the plot's right edge is
				// written to the left of its line.
				if X := sx(m.x); X+3+6*float64(utf8.RuneCountInString(m.label)) > float64(chartW-padR) {
					fmt.Fprintf(&b, `<text class="mk" x="%.1f" y="%d" text-anchor="end">%s</text>`, X-3, top+11, html.EscapeString(m.label))
				} else {
					fmt.Fprintf(&b, `<text class="mk" x="%.1f" y="%d">%s</text>`, X+3, top+11, html.EscapeString(m.label))
				}
			}
		}
	}
	// Reference lines, under the data.
	for _, r := range c.refs {
		if !(math.Abs(r.y) <= maxAbs) {
			continue
		}
		fmt.Fprintf(&b, `<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.4" stroke-dasharray="%s"><title>%s</title></line>`,
			padL, chartW-padR, sy(r.y), sy(r.y), r.color, r.dashArray(), html.EscapeString(r.label()))
	}
	// Data.
	for _, s := range c.ss {
		if s.step {
			b.WriteString(stepPath(s, sx, sy))
			continue
		}
		var d strings.Builder
		pen := false
		// A point past a fixed axis is not drawn (a distribution's tail
		// past its p99).
		in := func(p pt) bool { return valid(p) && p.x >= x0-1e-9*math.Abs(x0) && p.x <= x1+1e-9*math.Abs(x1) }
		for i, p := range s.pts {
			if !in(p) {
				pen = false
				continue
			}
			// A point with no neighbour on the line would not show: draw
			// it as a dot.
			lone := !s.dots && !s.cross && !pen && (i+1 == len(s.pts) || !in(s.pts[i+1]))
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
			style += ` stroke-width="1.5" stroke-dasharray="` + s.dashArray() + `" stroke-linecap="round"`
		default:
			style += ` stroke-width="1.8" stroke-linecap="round"`
		}
		fmt.Fprintf(&b, `<path class="series" fill="none" %s d="%s"><title>%s</title></path>`, style, d.String(), html.EscapeString(s.name))
	}
	// Legend, below the axis label.
	for _, e := range legend {
		y := top + plotH + padB + e.row*legendRow + 10
		switch {
		case e.cross:
			fmt.Fprintf(&b, `<path d="M%d %dl7 7m0-7l-7 7" stroke="%s" stroke-width="1.8"/>`, e.x+5, y-8, e.color)
		case e.dot:
			fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3.5" fill="%s"/>`, e.x+8, y-4, e.color)
		case e.dash != "":
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, e.x, e.x+18, y-4, y-4, e.color, e.dash)
		default:
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`, e.x, e.x+18, y-4, y-4, e.color)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lg">%s</text>`, e.x+22, y, html.EscapeString(e.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// dashArray is a series' line pattern, "" when solid.
func (s series) dashArray() string {
	switch {
	case !s.dashed:
		return ""
	case s.dash != "":
		return s.dash
	}
	return seriesDash
}

// label is a reference line's name in a legend: its runs and its name.
func (r ref) label() string {
	if r.run == "" {
		return r.name
	}
	return r.run + " " + r.name
}

// dashArray is a reference line's pattern.
func (r ref) dashArray() string {
	if r.dash != "" {
		return r.dash
	}
	return refDash
}

// stepPath draws a histogram's outline, from the axis up each bin and
// back down after the last.
func stepPath(s series, sx, sy func(float64) float64) string {
	if len(s.pts) < 2 {
		return ""
	}
	var d strings.Builder
	// A bin with no value (NaN) is a gap: the outline goes down to the
	// axis and starts again after it.
	pen := false
	for i := 0; i+1 < len(s.pts); i++ {
		p, q := s.pts[i], s.pts[i+1]
		if !valid(p) || !(math.Abs(q.x) <= maxAbs) {
			if pen {
				fmt.Fprintf(&d, "V%.1f", sy(0))
				pen = false
			}
			continue
		}
		if !pen {
			fmt.Fprintf(&d, "M%.1f %.1f", sx(p.x), sy(0))
			pen = true
		}
		fmt.Fprintf(&d, "V%.1fH%.1f", sy(p.y), sx(q.x))
	}
	if pen {
		fmt.Fprintf(&d, "V%.1f", sy(0))
	}
	if d.Len() == 0 {
		return ""
	}
	style := fmt.Sprintf(`stroke="%s" stroke-width="1.8"`, s.color)
	if s.dashed {
		style = fmt.Sprintf(`stroke="%s" stroke-width="1.5" stroke-dasharray="%s"`, s.color, s.dashArray())
	}
	return fmt.Sprintf(`<path class="series" fill="none" %s d="%s"><title>%s</title></path>`, style, d.String(), html.EscapeString(s.name))
}
