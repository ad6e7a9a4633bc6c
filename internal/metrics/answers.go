package metrics

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aoaibench/aoaibench/internal/schema"
)

// Answers splits a run's successful requests by answer kind and says
// what their tool calls, structured answers and images were. Results
// carry it only when the run had a tool call, a structured answer or an
// image: a plain run's summary.json is as it was.
type Answers struct {
	// Requests by kind (text, tool_call, structured).
	Text       int64 `json:"text"`
	ToolCall   int64 `json:"tool_call"`
	Structured int64 `json:"structured"`
	// ToolShare is the tool-call answers' share of the successful
	// requests (NaN when none succeeded).
	ToolShare Num `json:"tool_call_share"`
	// ToolCalls is the calls made; ToolArgs the verdicts on their
	// arguments.
	ToolCalls int64    `json:"tool_calls"`
	ToolArgs  Verdicts `json:"tool_args"`
	// StructuredVerdicts are the verdicts on the structured answers:
	// one that does not parse is a success counted here, never a
	// failure.
	StructuredVerdicts Verdicts `json:"structured_answers"`
	// ImageRequests carried images: Images of them in all, of
	// ImageBytes upload bytes and ImageTokens prompt tokens (the
	// client's count; ImageTokensUnknown requests' images were not
	// counted, given by address).
	ImageRequests      int64 `json:"image_requests"`
	Images             int64 `json:"images"`
	ImageBytes         int64 `json:"image_bytes"`
	ImageTokens        int64 `json:"image_tokens"`
	ImageTokensUnknown int64 `json:"image_tokens_unknown"`
	// Kinds are each kind's figures.
	Kinds map[AnswerKind]*KindResults `json:"kinds,omitempty"`
}

// Verdicts count the verdicts on JSON answers or arguments.
type Verdicts struct {
	Valid     int64 `json:"valid"`
	NotJSON   int64 `json:"not_json"`
	Mismatch  int64 `json:"mismatch"`
	Unchecked int64 `json:"unchecked"` // cut to the kept length, not judged
}

// Bad is the verdicts that are not valid: not JSON, or not of the schema.
func (v Verdicts) Bad() int64 { return v.NotJSON + v.Mismatch }

// add counts one verdict.
func (v *Verdicts) add(x schema.Verdict) {
	switch x {
	case schema.Valid:
		v.Valid++
	case schema.NotJSON:
		v.NotJSON++
	case schema.Mismatch:
		v.Mismatch++
	default:
		v.Unchecked++
	}
}

// plus adds o's counts.
func (v *Verdicts) plus(o Verdicts) {
	v.Valid += o.Valid
	v.NotJSON += o.NotJSON
	v.Mismatch += o.Mismatch
	v.Unchecked += o.Unchecked
}

// KindResults are the figures of the successful requests of one answer
// kind: TTFT of a tool call is at its first delta, TPOT over its
// argument tokens.
type KindResults struct {
	Requests     int64 `json:"requests"`
	OutputTokens int64 `json:"output_tokens"`
	TTFT         Dist  `json:"ttft"`
	TPOT         Dist  `json:"tpot"`
	E2E          Dist  `json:"e2e"`
}

// kindNames are the distributions kept per answer kind, by their names in
// histograms.json.
var kindNames = []string{"ttft", "tpot", "e2e"}

// answers accumulates Answers: the counts, and each kind's distributions.
type answers struct {
	a     Answers
	kinds map[AnswerKind]*kindSum
}

// kindSum is one kind's running figures.
type kindSum struct {
	requests, output int64
	hists            map[string]*Hist // by kindNames
}

// kind returns k's running figures, made on first use.
func (s *answers) kind(k AnswerKind) *kindSum {
	ks := s.kinds[k]
	if ks == nil {
		if s.kinds == nil {
			s.kinds = map[AnswerKind]*kindSum{}
		}
		ks = &kindSum{hists: map[string]*Hist{}}
		for _, n := range kindNames {
			ks.hists[n] = NewDurations()
		}
		s.kinds[k] = ks
	}
	return ks
}

// add folds a successful record's answer in.
func (s *answers) add(r *Record) {
	a := &s.a
	switch r.Answer {
	case TextAnswer:
		a.Text++
	case ToolCallAnswer:
		a.ToolCall++
	case StructuredAnswer:
		a.Structured++
		a.StructuredVerdicts.add(r.Structured)
	}
	a.ToolCalls += int64(len(r.ToolArgs))
	for _, v := range r.ToolArgs {
		a.ToolArgs.add(v)
	}
	if r.Images > 0 {
		a.ImageRequests++
		a.Images += int64(r.Images)
		a.ImageBytes += int64(r.ImageBytes)
		if r.ImageTokens >= 0 {
			a.ImageTokens += int64(r.ImageTokens)
		} else {
			a.ImageTokensUnknown++
		}
	}
	if r.Answer == "" {
		return
	}
	ks := s.kind(r.Answer)
	ks.requests++
	ks.output += int64(r.OutputTokens())
	ks.hists["ttft"].addOK(r.TTFT())
	ks.hists["e2e"].addOK(r.E2E())
	r.ChoiceTPOTs(func(d time.Duration) { ks.hists["tpot"].Add(d) })
}

// any reports whether the run had anything but text answers without
// images: only then do its results carry Answers.
func (s *answers) any() bool {
	return s.a.ToolCall > 0 || s.a.Structured > 0 || s.a.ImageRequests > 0
}

// results are the Answers of the run so far; nil when it had nothing but
// text without images. ok is the successful requests.
func (s *answers) results(ok int64) *Answers {
	if !s.any() {
		return nil
	}
	a := s.a
	a.ToolShare = Num(math.NaN())
	if ok > 0 {
		a.ToolShare = Num(float64(a.ToolCall) / float64(ok))
	}
	a.Kinds = map[AnswerKind]*KindResults{}
	for k, ks := range s.kinds {
		a.Kinds[k] = &KindResults{Requests: ks.requests, OutputTokens: ks.output,
			TTFT: ks.hists["ttft"].Dist(0), TPOT: ks.hists["tpot"].Dist(0), E2E: ks.hists["e2e"].Dist(0)}
	}
	return &a
}

// merge adds a part's Answers (its counts; the distributions come from
// its histograms).
func (s *answers) merge(o *Answers) {
	if o == nil {
		return
	}
	a := &s.a
	a.Text += o.Text
	a.ToolCall += o.ToolCall
	a.Structured += o.Structured
	a.ToolCalls += o.ToolCalls
	a.ToolArgs.plus(o.ToolArgs)
	a.StructuredVerdicts.plus(o.StructuredVerdicts)
	a.ImageRequests += o.ImageRequests
	a.Images += o.Images
	a.ImageBytes += o.ImageBytes
	a.ImageTokens += o.ImageTokens
	a.ImageTokensUnknown += o.ImageTokensUnknown
	for k, kr := range o.Kinds {
		if !slices.Contains(AnswerKinds, k) || kr == nil {
			continue // a kind this version does not know
		}
		ks := s.kind(k)
		ks.requests += kr.Requests
		ks.output += kr.OutputTokens
	}
}

// textPart adds a part whose results carry no Answers: all its
// successful requests were text answers without images (else it would
// carry them), so the text kind's figures are its whole: its ok count,
// its output tokens and its latency histograms (the same requests' TTFT,
// TPOT and E2E). Without it, merging such a shard with one that had tool
// calls lost its text answers.
func (s *answers) textPart(ok, output int64, latency map[string]string) error {
	if ok <= 0 {
		return nil
	}
	s.a.Text += ok
	ks := s.kind(TextAnswer)
	ks.requests += ok
	ks.output += output
	for _, n := range kindNames {
		if enc, found := latency[n]; found {
			if err := decodeInto(ks.hists[n], enc); err != nil {
				return fmt.Errorf("histogram %s: %w", n, err)
			}
		}
	}
	return nil
}

// histFile returns each kind's histograms, encoded, for histograms.json.
func (s *answers) histFile() (map[AnswerKind]map[string]string, error) {
	if !s.any() {
		return nil, nil
	}
	out := map[AnswerKind]map[string]string{}
	for k, ks := range s.kinds {
		m := map[string]string{}
		for _, n := range kindNames {
			enc, err := ks.hists[n].encode()
			if err != nil {
				return nil, fmt.Errorf("histogram %s of %s answers: %w", n, k, err)
			}
			m[n] = enc
		}
		out[k] = m
	}
	return out, nil
}

// addHistFile merges a part's per-kind histograms.
func (s *answers) addHistFile(kinds map[AnswerKind]map[string]string) error {
	for k, m := range kinds {
		if !slices.Contains(AnswerKinds, k) {
			continue // a kind this version does not know
		}
		ks := s.kind(k)
		for n, enc := range m {
			h, ok := ks.hists[n]
			if !ok {
				continue // a distribution this version does not know
			}
			if err := decodeInto(h, enc); err != nil {
				return fmt.Errorf("histogram %s of %s answers: %w", n, k, err)
			}
		}
	}
	return nil
}

// KindCount is how many values answer kind k's named distribution (ttft,
// tpot, e2e) holds.
func (s *Summary) KindCount(k AnswerKind, name string) int64 {
	if ks := s.answers.kinds[k]; ks != nil && ks.hists[name] != nil {
		return ks.hists[name].Count()
	}
	return 0
}
