package size

import (
	"fmt"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// Bound says what bounds the answer, in one sentence, and its kind:
// "minimum" (the type's least count), "peak minute", "burst", "long
// outputs" or "max_tokens" (admission counts what requests ask, far more
// than they generate).
type Bound struct {
	Kind     string `json:"kind"`
	Sentence string `json:"sentence"`
}

func bound(s *search, res *Result) Bound {
	k := s.index(res.Replay.PTU)
	f := res.Formula
	if k == 0 {
		return Bound{"minimum", fmt.Sprintf("The least deployable count bounds it: %d PTUs are the %s minimum for %s, and the formula asks %.2f.",
			res.Model.Min, ptu.Type(res.DeploymentType).Name(), res.Model.Name, f.PTUExact)}
	}
	under := s.probe(k - 1)
	var est, actual, out, in float64
	for _, r := range s.reqs {
		e, a := s.units(r)
		est, actual = est+e, actual+a
		o := s.m.OutputRatio * float64(r.Output)
		out, in = out+o, in+a-o
	}
	when := "at " + at(under.first)
	if at(under.first) != at(under.last) {
		when = fmt.Sprintf("from %s to %s", at(under.first), at(under.last))
	}
	refused := fmt.Sprintf("at %d PTUs %d requests are refused %s", under.PTU, under.Throttled, when)
	// The busiest 10 s from a minute before the refusals to their end,
	// against the pace of the half hour around it (within the input).
	c, start := busiest(s.reqs[s.at(under.first-int64(time.Minute)):s.at(under.last+1)], 10*time.Second)
	w0 := max(start-int64(15*time.Minute), 0)
	w1 := min(start+int64(15*time.Minute), int64(res.SpanSeconds*float64(time.Second)))
	around := float64(s.at(w1)-s.at(w0)) / time.Duration(max(w1-w0, int64(time.Minute))).Minutes()
	pace := float64(6*c) / max(around, 1)
	// What the pace is of: the half hour around the burst, or as much of
	// it as the input has.
	of := "the half hour around it"
	switch span := int64(res.SpanSeconds * float64(time.Second)); {
	case w0 == 0 && w1 >= span:
		of = "the whole input"
	case w1-w0 < int64(30*time.Minute):
		of = fmt.Sprintf("the %s around it", time.Duration(w1-w0).Round(time.Second))
	}
	burst := ""
	if pace >= 3 {
		burst = fmt.Sprintf(", in a burst of %d requests in the 10 s from %s (%.0f times the pace of %s)", c, at(start), pace, of)
	}
	switch {
	case actual > 0 && est/actual >= 1.5:
		return Bound{"max_tokens", fmt.Sprintf("max_tokens bounds it: admission counts each request at its max_tokens, %.1f times the output it generates, and %s%s.", est/actual, refused, burst)}
	case pace >= 3:
		return Bound{"burst", fmt.Sprintf("A burst bounds it: %d requests arrive in the 10 s from %s, %.0f times the pace of %s, and %s.", c, at(start), pace, of, refused)}
	case out+in > 0 && out/(out+in) >= 0.6:
		return Bound{"long outputs", fmt.Sprintf("Long outputs bound it: output tokens are %.0f%% of the utilization at %g input tokens each, and %s.", 100*out/(out+in), s.m.OutputRatio, refused)}
	}
	return Bound{"peak minute", fmt.Sprintf("The peak minute bounds it: %d requests arrive in the minute from %s, and %s.",
		f.PeakRPM, at(int64(f.PeakAt*float64(time.Second))), refused)}
}
