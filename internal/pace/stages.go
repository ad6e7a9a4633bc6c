package pace

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Stage is one step of a ramp: over Duration, the rate (or the number of
// clients) moves linearly from the previous stage's target to Target; a
// stage whose target equals the previous one holds it.
type Stage struct {
	Duration time.Duration
	Target   float64
}

// Stages is a schedule of linear ramps, k6's ramping-arrival-rate: the
// number of requests due by t is the integral of the rate up to t, and
// request n is due at the moment that integral reaches n, so a ramp
// dispatches exactly its integral.
type Stages struct {
	start  float64 // requests per minute before the first stage
	stages []Stage
	ends   []float64 // each stage's end, seconds
	counts []float64 // requests due by each stage's end (the integral)
}

// NewStages returns the schedule of stages starting from start requests
// per minute. Rates must be finite and not negative; durations positive.
func NewStages(start float64, stages []Stage) (*Stages, error) {
	if len(stages) == 0 {
		return nil, fmt.Errorf("no stages")
	}
	if !(start >= 0) || math.IsInf(start, 0) {
		return nil, fmt.Errorf("start rate must be a finite rate of 0 or more, got %v", start)
	}
	s := &Stages{start: start, stages: stages}
	t, n, a := 0.0, 0.0, start
	for i, st := range stages {
		if st.Duration <= 0 || st.Duration > MaxOffset {
			return nil, fmt.Errorf("stage %d: duration must be positive, got %v", i+1, st.Duration)
		}
		if !(st.Target >= 0) || math.IsInf(st.Target, 0) {
			return nil, fmt.Errorf("stage %d: target must be a finite rate of 0 or more, got %v", i+1, st.Target)
		}
		d := st.Duration.Seconds()
		t += d
		n += (a + st.Target) / 2 * d / 60 // the trapezoid: the rate is linear
		if t > MaxOffset.Seconds() {
			return nil, fmt.Errorf("stages last more than %v", MaxOffset)
		}
		s.ends, s.counts = append(s.ends, t), append(s.counts, n)
		a = st.Target
	}
	return s, nil
}

// Total returns how long the stages last.
func (s *Stages) Total() time.Duration {
	return time.Duration(math.Round(s.ends[len(s.ends)-1] * 1e9))
}

// Len returns the number of stages.
func (s *Stages) Len() int { return len(s.stages) }

// At returns the stage running at offset t (the last after the end) and
// when it started.
func (s *Stages) At(t time.Duration) (int, time.Duration) {
	sec := t.Seconds()
	i := sort.SearchFloat64s(s.ends, sec)
	if i < len(s.ends) && s.ends[i] == sec {
		i++ // a stage ends where the next begins
	}
	i = min(i, len(s.ends)-1)
	return i, s.begin(i)
}

func (s *Stages) begin(i int) time.Duration {
	if i == 0 {
		return 0
	}
	return time.Duration(math.Round(s.ends[i-1] * 1e9))
}

// from returns stage i's start time, seconds, and its starting rate.
func (s *Stages) from(i int) (t0, a float64) {
	if i == 0 {
		return 0, s.start
	}
	return s.ends[i-1], s.stages[i-1].Target
}

// Rate returns the offered rate at offset t, requests per minute (0 after
// the last stage).
func (s *Stages) Rate(t time.Duration) float64 {
	sec := t.Seconds()
	if sec < 0 || sec >= s.ends[len(s.ends)-1] {
		return 0
	}
	i, _ := s.At(t)
	t0, a := s.from(i)
	b, d := s.stages[i].Target, s.stages[i].Duration.Seconds()
	return a + (b-a)*(sec-t0)/d
}

// Integral returns the requests due by offset t: the integral of the rate.
func (s *Stages) Integral(t time.Duration) float64 {
	sec := t.Seconds()
	if sec <= 0 {
		return 0
	}
	if sec >= s.ends[len(s.ends)-1] {
		return s.counts[len(s.counts)-1]
	}
	i, _ := s.At(t)
	t0, a := s.from(i)
	n0 := 0.0
	if i > 0 {
		n0 = s.counts[i-1]
	}
	b, d := s.stages[i].Target, s.stages[i].Duration.Seconds()
	tau := sec - t0
	return n0 + (a*tau+(b-a)*tau*tau/(2*d))/60
}

// Due implements Pacer: request n is due when the integral reaches n.
func (s *Stages) Due(n int64) (time.Duration, bool) {
	if n < 0 {
		return 0, false
	}
	m := float64(n)
	// The stage in which the integral reaches m.
	i := sort.SearchFloat64s(s.counts, m)
	if i < len(s.counts) && s.counts[i] == m {
		// Reached exactly at a stage's end: due then, unless the next
		// stage starts at a rate of 0, when it is the same instant.
		return offset(s.ends[i] * 1e9)
	}
	if i >= len(s.counts) {
		return 0, false
	}
	t0, a := s.from(i)
	n0 := 0.0
	if i > 0 {
		n0 = s.counts[i-1]
	}
	b, d := s.stages[i].Target, s.stages[i].Duration.Seconds()
	// Solve a*tau + k*tau^2 = r for tau, in the form that stays exact
	// when k is 0 and never subtracts near-equal numbers.
	r := 60 * (m - n0)
	k := (b - a) / (2 * d)
	disc := a*a + 4*k*r
	if disc < 0 {
		disc = 0 // rounding at the very end of a ramp down
	}
	den := a + math.Sqrt(disc)
	if den <= 0 {
		return offset(t0 * 1e9) // r is 0: due at the stage's start
	}
	tau := 2 * r / den
	return offset((t0 + min(tau, d)) * 1e9)
}

// Count implements Pacer: the requests due strictly before t.
func (s *Stages) Count(t time.Duration) int64 {
	if t <= 0 {
		return 0
	}
	n := int64(math.Ceil(s.Integral(t)))
	// Correct for the rounding of Due.
	for n > 0 {
		if d, ok := s.Due(n - 1); ok && d < t {
			break
		}
		n--
	}
	for {
		if d, ok := s.Due(n); !ok || d >= t {
			return n
		}
		n++
	}
}

// Clone implements Pacer.
func (s *Stages) Clone() Pacer { return s }
