package metrics

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

var nan = math.NaN()

// Hist is an HDR histogram of non-negative values with 3 significant digits.
// Durations are kept in microseconds and reported in seconds.
type Hist struct {
	h     *hdrhistogram.Histogram
	scale float64 // units per reported unit
}

// maxMicros is one hour: longer values are recorded as one hour.
const maxMicros = int64(time.Hour / time.Microsecond)

// NewDurations returns a histogram of durations from 1 µs to 1 h.
func NewDurations() *Hist { return &Hist{hdrhistogram.New(1, maxMicros, 3), 1e6} }

// NewRates returns a histogram of rates (e.g. tokens/s) from 0.001 to 10^9.
func NewRates() *Hist { return &Hist{hdrhistogram.New(1, 1e12, 3), 1e3} }

// Add records a duration (negative durations count as zero).
func (h *Hist) Add(d time.Duration) { h.AddN(d, 1) }

// AddN records a duration n times.
func (h *Hist) AddN(d time.Duration, n int64) {
	us := max(int64(d/time.Microsecond), 0)
	_ = h.h.RecordValues(min(us, maxMicros), n) // clamped, so never out of range
}

// AddValue records a value in reported units (for rate histograms).
func (h *Hist) AddValue(v float64) {
	if v < 0 || math.IsNaN(v) {
		return
	}
	_ = h.h.RecordValue(min(int64(v*h.scale), h.h.HighestTrackableValue()))
}

// addOK records d when ok, the form the Record's metrics come in.
func (h *Hist) addOK(d time.Duration, ok bool) {
	if ok {
		h.Add(d)
	}
}

// Count returns how many values were recorded.
func (h *Hist) Count() int64 { return h.h.TotalCount() }

// Quantile returns the value at quantile q (0..100 percent) in reported
// units, NaN when empty.
func (h *Hist) Quantile(p float64) float64 {
	if h.h.TotalCount() == 0 {
		return nan
	}
	return float64(h.h.ValueAtPercentile(p)) / h.scale
}

// Stats returns the summary figures, in reported units (seconds for
// durations); NaN when there is no data.
func (h *Hist) Stats() Dist { return h.Dist(0) }

// Dist returns the summary figures and a CDF of at most cdf points.
func (h *Hist) Dist(cdf int) Dist {
	n := h.h.TotalCount()
	if n == 0 {
		x := Num(nan)
		return Dist{Mean: x, Min: x, P50: x, P90: x, P95: x, P99: x, P999: x, Max: x}
	}
	v := h.h.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9})
	s := h.scale
	d := Dist{
		Count: n, Mean: Num(h.h.Mean() / s),
		Min: Num(float64(h.h.Min()) / s), Max: Num(float64(h.h.Max()) / s),
		P50: Num(float64(v[0]) / s), P90: Num(float64(v[1]) / s), P95: Num(float64(v[2]) / s),
		P99: Num(float64(v[3]) / s), P999: Num(float64(v[4]) / s),
	}
	if cdf > 0 {
		d.CDF = h.CDF(cdf)
	}
	return d
}

// CDF returns the cumulative distribution at the histogram's distinct
// bucket boundaries, thinned to at most n points.
func (h *Hist) CDF(n int) []Point {
	total := h.h.TotalCount()
	if total == 0 {
		return nil
	}
	var pts []Point
	var cum int64
	for _, b := range h.h.Distribution() {
		if b.Count == 0 {
			continue
		}
		cum += b.Count
		pts = append(pts, Point{V: float64(b.To) / h.scale, P: float64(cum) / float64(total)})
	}
	if len(pts) <= n {
		return pts
	}
	out := make([]Point, 0, n)
	step := float64(len(pts)-1) / float64(n-1)
	for i := range n {
		out = append(out, pts[int(math.Round(float64(i)*step))])
	}
	return out
}
