package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/plan"
)

// ParseThresholds reads a comma-separated list of objectives (--slo),
// e.g. "ttft_p95<=2s,e2e_p99<=30s,throttled<=1%,failed<=0.5%": a figure
// of the summary (FigureUnit), a comparison and a value. A latency takes
// a unit (2s, 300ms) or seconds; a share a percent or a fraction. flag
// names the flag in errors, which are *plan.Error.
func ParseThresholds(flag, s string) ([]plan.Threshold, error) {
	var out []plan.Threshold
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		th, err := parseThreshold(tok)
		if err != nil {
			return nil, plan.Errorf("%s: %q: %v", flag, tok, err)
		}
		out = append(out, th)
	}
	if len(out) == 0 {
		return nil, plan.Errorf("%s: no objective in %q (want e.g. ttft_p95<=2s,throttled<=1%%)", flag, s)
	}
	return out, nil
}

func parseThreshold(tok string) (plan.Threshold, error) {
	var th plan.Threshold
	i, op := -1, ""
	for _, o := range []string{"<=", ">=", "<", ">"} {
		if j := strings.Index(tok, o); j > 0 && (i < 0 || j < i || j == i && len(o) > len(op)) {
			i, op = j, o
		}
	}
	if i < 0 {
		return th, fmt.Errorf("want FIGURE<=VALUE (or <, >=, >)")
	}
	name, val := strings.TrimSpace(tok[:i]), strings.TrimSpace(tok[i+len(op):])
	unit, ok := FigureUnit(name)
	if !ok {
		return th, fmt.Errorf("unknown figure %q (want e.g. ttft_p95, e2e_p99, tpot_p50, itl_p99.9, throttled, failed, rpm, tpm, achieved_ratio)", name)
	}
	var v float64
	var err error
	switch unit {
	case Seconds:
		var d plan.Duration
		d, err = plan.ParseDuration(val)
		v = d.Seconds()
	case Share:
		if p, isPct := strings.CutSuffix(val, "%"); isPct {
			v, err = strconv.ParseFloat(strings.TrimSpace(p), 64)
			v /= 100
		} else {
			v, err = strconv.ParseFloat(val, 64)
		}
		if err == nil && (v < 0 || v > 1) && name != "achieved_ratio" {
			err = fmt.Errorf("%s is not a share of requests (want 0 to 100%%, e.g. 1%% or 0.01)", val)
		}
	default:
		v, err = strconv.ParseFloat(val, 64)
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		if err == nil {
			err = fmt.Errorf("%s is not a finite number", val)
		}
		return th, err
	}
	return plan.Threshold{Figure: name, Op: op, Value: v, Text: tok}, nil
}

// Check holds the run's results to an objective: a figure the run does
// not have fails it.
func (r *Results) Check(t plan.Threshold) Check {
	v := r.Figure(t.Figure)
	pass := false
	switch t.Op {
	case "<=":
		pass = v <= t.Value
	case "<":
		pass = v < t.Value
	case ">=":
		pass = v >= t.Value
	case ">":
		pass = v > t.Value
	}
	return Check{Objective: t.Text, Figure: t.Figure, Value: Num(v), Passed: pass && !math.IsNaN(v)}
}
