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
	pts    []pt
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"}

const (
	chartW, chartH = 560, 280
	padL, padR     = 62, 12
	padT, padB     = 30, 42
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

func fmtTick(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// chart draws an SVG chart of the series. It returns "" when no series
// has a point, so that a report shows no empty charts.
func chart(title, xlab, ylab string, ss []series) string {
	x0, x1, y1 := math.Inf(1), math.Inf(-1), 0.0
	n := 0
	for _, s := range ss {
		for _, p := range s.pts {
			if math.IsNaN(p.x) || math.IsNaN(p.y) || math.IsInf(p.y, 0) {
				continue
			}
			n++
			x0, x1, y1 = math.Min(x0, p.x), math.Max(x1, p.x), math.Max(y1, p.y)
		}
	}
	if n == 0 {
		return ""
	}
	if x1 <= x0 {
		x1 = x0 + 1
	}
	ystep := niceStep(y1, 5)
	if y1 <= 0 {
		y1 = 1
	}
	y1 = math.Ceil(y1/ystep) * ystep
	xstep := niceStep(x1-x0, 6)
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	sx := func(x float64) float64 { return float64(padL) + (x-x0)/(x1-x0)*pw }
	sy := func(y float64) float64 { return float64(padT) + ph - y/y1*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-points="%d" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		n, chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="t">%s</text>`, padL, html.EscapeString(title))
	// Grid and ticks.
	for y := 0.0; y <= y1+ystep/2; y += ystep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/><text x="%d" y="%.1f" class="yl">%s</text>`,
			padL, chartW-padR, sy(y), sy(y), padL-5, sy(y)+4, fmtTick(y))
	}
	for x := math.Ceil(x0/xstep) * xstep; x <= x1+xstep/1e6; x += xstep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="g"/><text x="%.1f" y="%d" class="xl">%s</text>`,
			sx(x), sx(x), padT, chartH-padB, sx(x), chartH-padB+15, fmtTick(x))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" class="al">%s</text>`, float64(padL)+pw/2, chartH-6, html.EscapeString(xlab))
	fmt.Fprintf(&b, `<text transform="translate(13 %.0f) rotate(-90)" class="al">%s</text>`, float64(padT)+ph/2, html.EscapeString(ylab))
	// Data.
	for _, s := range ss {
		var d strings.Builder
		pen := false
		for i, p := range s.pts {
			if math.IsNaN(p.x) || math.IsNaN(p.y) || math.IsInf(p.y, 0) {
				pen = false
				continue
			}
			// A point with no neighbour on the line would not show: draw
			// it as a dot.
			lone := !s.dots && !s.cross && !pen && (i+1 == len(s.pts) || math.IsNaN(s.pts[i+1].y))
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
			style += ` stroke-width="5" stroke-linecap="round" opacity="0.7"`
		case s.cross:
			style += ` stroke-width="1.5"`
		case s.dashed:
			style += ` stroke-width="1.5" stroke-dasharray="5 3"`
		default:
			style += ` stroke-width="1.8" stroke-linecap="round"`
		}
		fmt.Fprintf(&b, `<path class="series" fill="none" %s d="%s"><title>%s</title></path>`, style, d.String(), html.EscapeString(s.name))
	}
	// Legend, top right, over a translucent box.
	longest, shown := 0, 0
	for _, s := range ss {
		if len(s.pts) > 0 {
			longest, shown = max(longest, len(s.name)), shown+1
		}
	}
	boxW := 26 + 6*longest
	lx := float64(chartW - padR - boxW)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="%d" height="%d" fill="#fff" opacity="0.8"/>`, lx-4, padT+1, boxW+2, 14*shown+4)
	i := 0
	for _, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		y := padT + 12 + 14*i
		i++
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%d" class="lg">%s</text>`,
			lx, lx+16, y-4, y-4, s.color, dash, lx+20, y, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
