package pace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Think is a distribution of pauses: a user's think time between the
// turns of a conversation.
type Think struct {
	// Kind is "fixed" (A), "uniform" (from A to B) or "exp" (exponential
	// of mean A).
	Kind string
	A, B time.Duration
}

// MaxThink is the longest think time a run takes.
const MaxThink = 24 * time.Hour

// ParseThink reads a think time: "2s" (fixed), "1s-5s" (uniform) or
// "exp:2s" (exponential, mean 2s). "" is no pause. parse reads one
// duration (plan.ParseDuration, so that bare numbers are seconds).
func ParseThink(s string, parse func(string) (time.Duration, error)) (Think, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Think{Kind: "fixed"}, nil
	}
	check := func(d time.Duration, err error, what string) (time.Duration, error) {
		if err != nil {
			return 0, fmt.Errorf("%q: %v", what, err)
		}
		if d < 0 || d > MaxThink {
			return 0, fmt.Errorf("%q: want a duration from 0 to %v", what, MaxThink)
		}
		return d, nil
	}
	if m, ok := strings.CutPrefix(s, "exp:"); ok {
		d, err := parse(m)
		d, err = check(d, err, m)
		return Think{Kind: "exp", A: d}, err
	}
	if a, b, ok := strings.Cut(s, "-"); ok && a != "" {
		lo, err := parse(a)
		if lo, err = check(lo, err, a); err != nil {
			return Think{}, err
		}
		hi, err := parse(b)
		if hi, err = check(hi, err, b); err != nil {
			return Think{}, err
		}
		if hi < lo {
			return Think{}, fmt.Errorf("%q: the range ends before it starts", s)
		}
		return Think{Kind: "uniform", A: lo, B: hi}, nil
	}
	d, err := parse(s)
	d, err = check(d, err, s)
	return Think{Kind: "fixed", A: d}, err
}

// Sample draws one pause.
func (t Think) Sample(r *rand.Rand) time.Duration {
	switch t.Kind {
	case "uniform":
		return t.A + time.Duration(r.Int64N(int64(t.B-t.A)+1))
	case "exp":
		// Capped: the exponential's tail is unbounded.
		return time.Duration(math.Min(r.ExpFloat64()*float64(t.A), float64(MaxThink)))
	}
	return t.A
}
