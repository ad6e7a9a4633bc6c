package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxDuration is the longest duration any setting takes: a year. Longer
// values are refused rather than left to overflow (10^300 seconds became a
// negative timeout).
const MaxDuration = 365 * 24 * time.Hour

// Duration is a length of time given as a Go duration with its unit
// ("20s", "3m", "1h30m", "250ms") or as a bare number of seconds ("20",
// "0.5"), as the original tool's flags took. It is written as a Go
// duration in run.json.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Seconds returns the duration in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// String writes the duration as Go does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration reads a duration: a Go duration, or a bare number of
// seconds. It refuses negative, non-finite and too large values.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a finite number of seconds", s)
		}
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		if f > MaxDuration.Seconds() {
			return 0, fmt.Errorf("%q is more than a year", s)
		}
		return Duration(math.Round(f * float64(time.Second))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if tooLong(s) {
			return 0, fmt.Errorf("%q is more than a year", s)
		}
		if strings.Contains(err.Error(), "invalid duration") {
			return 0, fmt.Errorf("%q is not a duration (want e.g. 20s, 3m, 1h, or seconds)", s)
		}
		return 0, fmt.Errorf("%q: %v", s, strings.TrimPrefix(err.Error(), "time: "))
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	if d > MaxDuration {
		return 0, fmt.Errorf("%q is more than a year", s)
	}
	return Duration(d), nil
}

// UnmarshalText reads a flag's value.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes the duration as a Go duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON reads a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	return d.UnmarshalText([]byte(s))
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// tooLong reports whether s is a number and a unit that Go could not
// hold: a duration, only too long.
func tooLong(s string) bool {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"µs", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			if f, err := strconv.ParseFloat(n, 64); err == nil && f*float64(u.unit) > float64(MaxDuration) {
				return true
			}
		}
	}
	return false
}
