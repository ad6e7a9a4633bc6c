package plan

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseStages reads --stages: DURATION:TARGET,..., e.g. 30s:60,2m:600,1m:600
// (requests per minute), or with a "c" after every target, client counts
// of a closed loop (30s:10c,2m:100c). It returns the stages and whether
// they are of clients.
func ParseStages(flag, s string) ([]Stage, bool, error) {
	var out []Stage
	clients, rates := false, false
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		d, t, ok := strings.Cut(tok, ":")
		if !ok {
			return nil, false, Errorf("%s: %q is not DURATION:TARGET (e.g. 2m:600)", flag, tok)
		}
		dur, err := ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, false, Errorf("%s: %q: the duration %q is not a positive duration", flag, tok, d)
		}
		if c, isC := strings.CutSuffix(t, "c"); isC {
			t, clients = c, true
		} else {
			rates = true
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return nil, false, Errorf("%s: %q: the target %q is not a rate (or client count) of 0 or more", flag, tok, t)
		}
		if clients && v != math.Trunc(v) {
			return nil, false, Errorf("%s: %q: a client count is a whole number", flag, tok)
		}
		out = append(out, Stage{Duration: dur, Target: v})
	}
	if len(out) == 0 {
		return nil, false, Errorf("%s: no stage in %q (want e.g. 30s:60,2m:600)", flag, s)
	}
	if clients && rates {
		return nil, false, Errorf("%s: %q mixes rates and client counts (c): give one kind", flag, s)
	}
	return out, clients, nil
}

// validTime reports whether s is an RFC 3339 time.
func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
