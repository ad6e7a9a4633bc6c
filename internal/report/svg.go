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
	f, ok := frameOf(c, top)
	if !ok {
		return ""
	}
	legend, rows := layLegend(c)
	chartH := top + plotH + padB + rows*legendRow
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-points="%d" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		f.n, chartW, chartH, chartW, chartH, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="t">%s</text>`, padL, html.EscapeString(c.title))
	for i, n := range notes {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="nt">%s</text>`, padL, 33+i*noteRow, html.EscapeString(n))
	}
	f.grid(&b, c.xlab, c.ylab)
	// Marks and reference lines, under the data.
	f.marks(&b, c.marks)
	f.refs(&b, c.refs)
	for _, s := range c.ss {
		if s.step {
			b.WriteString(stepPath(s, f.sx, f.sy))
			continue
		}
		b.WriteString(f.path(s))
	}
	f.legend(&b, legend)
	b.WriteString(`</svg>`)
	return b.String()
}

// frame is a chart's geometry: the ranges and steps of its axes, and
// where its plot starts.
type frame struct {
	top          int // the plot's top, below the title and its notes
	x0, x1, y1   float64
	xstep, ystep float64
	n            int // the points drawn
}

// frameOf fits the axes to a chart's points, its reference lines and its
// fixed ranges, with round steps; false when there is no point to draw.
func frameOf(c spec, top int) (frame, bool) {
	f := frame{top: top, x0: math.Inf(1), x1: math.Inf(-1), y1: c.yMax}
	for _, s := range c.ss {
		for _, p := range s.pts {
			if !valid(p) {
				continue
			}
			f.n++
			f.x0, f.x1, f.y1 = math.Min(f.x0, p.x), math.Max(f.x1, p.x), math.Max(f.y1, p.y)
		}
	}
	if f.n == 0 {
		return f, false
	}
	for _, r := range c.refs {
		if math.Abs(r.y) <= maxAbs {
			f.y1 = math.Max(f.y1, r.y*1.05)
		}
	}
	if c.xHi > c.xLo && c.xHi-c.xLo <= maxAbs {
		f.x0, f.x1 = c.xLo, c.xHi
	}
	if f.x1 <= f.x0 {
		// One x: a span around it that its precision can hold.
		f.x1 = f.x0 + math.Max(1, math.Abs(f.x0)*1e-6)
	}
	if f.y1 <= 0 {
		f.y1 = 1
	}
	f.ystep = niceStep(f.y1, 5)
	f.y1 = math.Ceil(f.y1/f.ystep) * f.ystep
	if c.wholeY {
		f.ystep = math.Max(math.Ceil(f.ystep), 1) // 2.5 requests apart: 3
		f.y1 = math.Ceil(f.y1/f.ystep) * f.ystep
	}
	f.xstep = niceStep(f.x1-f.x0, 6)
	if c.wholeX {
		f.xstep = math.Max(math.Floor(f.xstep), 1) // 2.5 tokens apart: 2
	}
	return f, true
}

// The plot's width and height, in pixels.
const (
	plotPW = float64(chartW - padL - padR)
	plotPH = float64(plotH)
)

// sx is where x is drawn.
func (f *frame) sx(x float64) float64 { return float64(padL) + (x-f.x0)/(f.x1-f.x0)*plotPW }

// sy is where y is drawn.
func (f *frame) sy(y float64) float64 { return float64(f.top) + plotPH - y/f.y1*plotPH }

// grid draws the grid, the ticks and the axes' labels.
func (f *frame) grid(b *strings.Builder, xlab, ylab string) {
	top := f.top
	for _, y := range ticks(0, f.y1+f.ystep/2, f.ystep) {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/><text x="%d" y="%.1f" class="yl">%s</text>`,
			padL, chartW-padR, f.sy(y), f.sy(y), padL-5, f.sy(y)+4, fmtTick(y, f.ystep))
	}
	for _, x := range ticks(f.x0, f.x1, f.xstep) {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="g"/><text x="%.1f" y="%d" class="xl">%s</text>`,
			f.sx(x), f.sx(x), top, top+plotH, f.sx(x), top+plotH+15, fmtTick(x, f.xstep))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%d" class="al">%s</text>`, float64(padL)+plotPW/2, top+plotH+32, html.EscapeString(xlab))
	fmt.Fprintf(b, `<text transform="translate(13 %.0f) rotate(-90)" class="al">%s</text>`, float64(top)+plotPH/2, html.EscapeString(ylab))
}

// marks draws the vertical marks inside the x axis, thinned to
// maxMarks, with their labels.
func (f *frame) marks(b *strings.Builder, marks []mark) {
	top := f.top
	for i, m := range marks {
		if len(marks) > maxMarks && i%(len(marks)/maxMarks+1) != 0 {
			continue
		}
		if m.x > f.x0 && m.x < f.x1 {
			fmt.Fprintf(b, `<line class="mark" x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#777" stroke-width="1" stroke-dasharray="1 3"/>`, f.sx(m.x), f.sx(m.x), top, top+plotH)
			if m.label != "" {
				// A label that would run past the plot's right edge is
				// written to the left of its line.
				if X := f.sx(m.x); X+3+6*float64(utf8.RuneCountInString(m.label)) > float64(chartW-padR) {
					fmt.Fprintf(b, `<text class="mk" x="%.1f" y="%d" text-anchor="end">%s</text>`, X-3, top+11, html.EscapeString(m.label))
				} else {
					fmt.Fprintf(b, `<text class="mk" x="%.1f" y="%d">%s</text>`, X+3, top+11, html.EscapeString(m.label))
				}
			}
		}
	}
}

// refs draws the horizontal reference lines that can be drawn.
func (f *frame) refs(b *strings.Builder, refs []ref) {
	for _, r := range refs {
		if !(math.Abs(r.y) <= maxAbs) {
			continue
		}
		fmt.Fprintf(b, `<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.4" stroke-dasharray="%s"><title>%s</title></line>`,
			padL, chartW-padR, f.sy(r.y), f.sy(r.y), r.color, r.dashArray(), html.EscapeString(r.label()))
	}
}

// path draws a series that is not a histogram's outline: a line, dots
// or crosses; "" when none of its points is inside the axes.
func (f *frame) path(s series) string {
	var d strings.Builder
	pen := false
	// A point past a fixed axis is not drawn (a distribution's tail
	// past its p99).
	in := func(p pt) bool { return valid(p) && p.x >= f.x0-1e-9*math.Abs(f.x0) && p.x <= f.x1+1e-9*math.Abs(f.x1) }
	for i, p := range s.pts {
		if !in(p) {
			pen = false
			continue
		}
		// A point with no neighbour on the line would not show: draw
		// it as a dot.
		lone := !s.dots && !s.cross && !pen && (i+1 == len(s.pts) || !in(s.pts[i+1]))
		X, Y := f.sx(p.x), f.sy(p.y)
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
		return ""
	}
	return fmt.Sprintf(`<path class="series" fill="none" %s d="%s"><title>%s</title></path>`, s.style(), d.String(), html.EscapeString(s.name))
}

// style is a series' stroke: dots, crosses, dashed or solid.
func (s series) style() string {
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
	return style
}

// legendEntry is one entry of a chart's legend: a series or a reference
// line.
type legendEntry struct {
	name, color string
	dash        string // "": solid
	dot, cross  bool
	x, row      int // where it is laid out
}

// layLegend lays out the legend's entries in rows under the plot, and
// returns them and the rows they take.
func layLegend(c spec) ([]legendEntry, int) {
	var entries []legendEntry
	for _, s := range c.ss {
		if len(s.pts) > 0 {
			entries = append(entries, legendEntry{name: s.name, color: s.color, dash: s.dashArray(), dot: s.dots, cross: s.cross})
		}
	}
	for _, r := range c.refs {
		if math.Abs(r.y) <= maxAbs {
			entries = append(entries, legendEntry{name: r.label(), color: r.color, dash: r.dashArray()})
		}
	}
	lx, row := padL, 0
	for i, e := range entries {
		// 11-px text: about 6.5 px a character, and room between entries.
		w := 34 + int(6.5*float64(utf8.RuneCountInString(e.name)))
		if lx+w > chartW-padR && lx > padL {
			lx, row = padL, row+1
		}
		entries[i].x, entries[i].row = lx, row
		lx += w
	}
	if len(entries) == 0 {
		return nil, 0
	}
	return entries, row + 1
}

// legend draws the legend, below the axis label: each entry's line, dot
// or cross, and its name.
func (f *frame) legend(b *strings.Builder, legend []legendEntry) {
	for _, e := range legend {
		y := f.top + plotH + padB + e.row*legendRow + 10
		switch {
		case e.cross:
			fmt.Fprintf(b, `<path d="M%d %dl7 7m0-7l-7 7" stroke="%s" stroke-width="1.8"/>`, e.x+5, y-8, e.color)
		case e.dot:
			fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="3.5" fill="%s"/>`, e.x+8, y-4, e.color)
		case e.dash != "":
			fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, e.x, e.x+18, y-4, y-4, e.color, e.dash)
		default:
			fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`, e.x, e.x+18, y-4, y-4, e.color)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" class="lg">%s</text>`, e.x+22, y, html.EscapeString(e.name))
	}
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
