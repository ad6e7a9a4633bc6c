package metrics

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// weather is a tool's argument schema.
func weather(t *testing.T) *schema.Expect {
	t.Helper()
	s, err := schema.Parse([]byte(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`))
	if err != nil {
		t.Fatal(err)
	}
	return &schema.Expect{Tools: map[string]*schema.Schema{"get_weather": s, "free": nil}}
}

// TestJudge: a successful answer's kind and verdicts: each call's
// arguments against its tool's schema (JSON only for a tool without
// one, or no Expect at all), a structured answer's text, text; cut
// arguments or text are not judged; a failure is not judged at all.
func TestJudge(t *testing.T) {
	tc := weather(t)
	w := &Wire{Text: [][]byte{[]byte(`{"city":"Oslo"}`)}, Calls: []tools.Call{
		{ID: "c1", Name: "get_weather", Args: []byte(`{"city":"Oslo"}`)},
		{ID: "c2", Name: "get_weather", Args: []byte(`{"town":"Oslo"}`)},
		{ID: "c3", Name: "get_weather", Args: []byte(`{"city":`)},
		{ID: "c4", Name: "free", Args: []byte(`[1]`)},
	}}
	r := &Record{Class: OK}
	r.Judge(w, tc)
	want := []schema.Verdict{schema.Valid, schema.Mismatch, schema.NotJSON, schema.Valid}
	if r.Answer != ToolCallAnswer || !slices.Equal(r.ToolArgs, want) || !slices.Equal(r.ToolNames, []string{"get_weather", "get_weather", "get_weather", "free"}) {
		t.Errorf("tool calls: %s %v %v", r.Answer, r.ToolNames, r.ToolArgs)
	}
	r.Judge(w, nil)
	if !slices.Equal(r.ToolArgs, []schema.Verdict{schema.Valid, schema.Valid, schema.NotJSON, schema.Valid}) {
		t.Errorf("no expectation: %v, want JSON checked only", r.ToolArgs)
	}
	w.ArgsCut = true
	if r.Judge(w, tc); !slices.Equal(r.ToolArgs, []schema.Verdict{"", "", "", ""}) {
		t.Errorf("cut arguments judged: %v", r.ToolArgs)
	}
	w.Calls, w.ArgsCut = nil, false
	for _, c := range []struct {
		text string
		e    *schema.Expect
		kind AnswerKind
		v    schema.Verdict
	}{
		{`{"city":"Oslo"}`, &schema.Expect{JSON: true}, StructuredAnswer, schema.Valid},
		{`{"city":"Os`, &schema.Expect{JSON: true}, StructuredAnswer, schema.NotJSON}, // cut by max_tokens
		{`{"town":"Oslo"}`, &schema.Expect{JSON: true, Answer: tc.Tools["get_weather"]}, StructuredAnswer, schema.Mismatch},
		{`Hello`, nil, TextAnswer, ""},
		{`Hello`, tc, TextAnswer, ""}, // tools offered, text answered
		{string(make([]byte, MaxText)), &schema.Expect{JSON: true}, StructuredAnswer, ""},
	} {
		w.Text[0] = []byte(c.text)
		r.Judge(w, c.e)
		if r.Answer != c.kind || r.Structured != c.v || len(r.ToolNames) != 0 {
			t.Errorf("%.20q: %s %q, want %s %q", c.text, r.Answer, r.Structured, c.kind, c.v)
		}
	}
	r.Class = Stream
	if r.Judge(w, &schema.Expect{JSON: true}); r.Answer != "" || r.Structured != "" {
		t.Errorf("a failure judged: %s %q", r.Answer, r.Structured)
	}
}

// answered is a successful record of the given kind.
func answered(i int, kind AnswerKind) *Record {
	first := time.Duration(100+i%37) * time.Millisecond
	if kind == ToolCallAnswer {
		first += 300 * time.Millisecond
	}
	r := okRecord(0, first, first+time.Second, first+2*time.Second, 40)
	r.Answer = kind
	switch kind {
	case ToolCallAnswer:
		r.ToolNames = []string{"get_weather"}
		r.ToolArgs = []schema.Verdict{[]schema.Verdict{schema.Valid, schema.NotJSON, schema.Mismatch}[i%3]}
	case StructuredAnswer:
		r.Structured = []schema.Verdict{schema.Valid, schema.NotJSON}[i%2]
	}
	if i%4 == 0 {
		r.Images, r.ImageBytes, r.ImageTokens = 2, 2*150_000, 2*765
	}
	return r
}

// TestAnswersSummary: the summary counts answers by kind, the tool-call
// share, argument and structured verdicts (a structured answer that does
// not parse is a success), images; each kind has its own TTFT; a run of
// text answers without images has no answers section.
func TestAnswersSummary(t *testing.T) {
	plain := NewSummary(SLO{})
	plain.Add(answered(1, TextAnswer))
	if r := plain.Results(Info{Window: time.Minute}); r.Answers != nil {
		t.Errorf("a plain run has answers: %+v", r.Answers)
	}
	s := NewSummary(SLO{})
	kinds := []AnswerKind{TextAnswer, ToolCallAnswer, ToolCallAnswer, StructuredAnswer}
	for i := range 12 {
		s.Add(answered(i, kinds[i%4]))
	}
	failed := NewRecord(0, t0)
	failed.Class, failed.Images = Throttled, 3
	s.Add(failed)
	a := s.Results(Info{Window: time.Minute}).Answers
	if a == nil || a.Text != 3 || a.ToolCall != 6 || a.Structured != 3 || a.ToolShare != 0.5 || a.ToolCalls != 6 {
		t.Fatalf("answers %+v", a)
	}
	if a.ToolArgs != (Verdicts{Valid: 2, NotJSON: 2, Mismatch: 2}) || a.StructuredVerdicts != (Verdicts{Valid: 0, NotJSON: 3}) {
		t.Errorf("verdicts: args %+v, structured %+v", a.ToolArgs, a.StructuredVerdicts)
	}
	if a.ImageRequests != 3 || a.Images != 6 || a.ImageBytes != 900_000 || a.ImageTokens != 4590 {
		t.Errorf("images %d requests, %d images, %d bytes, %d tokens", a.ImageRequests, a.Images, a.ImageBytes, a.ImageTokens)
	}
	if s.Counts[OK] != 12 {
		t.Errorf("%d ok: structured answers that do not parse must succeed", s.Counts[OK])
	}
	tool, text := a.Kinds[ToolCallAnswer], a.Kinds[TextAnswer]
	if tool.Requests != 6 || text.Requests != 3 || tool.TTFT.Min.F() < 0.4 || text.TTFT.Max.F() > 0.2 || tool.OutputTokens != 240 {
		t.Errorf("kinds: tool %+v, text %+v", tool, text)
	}
}

// TestAnswersMerge: shards' answers merge to the figures of one run:
// counts added, each kind's distributions merged from histograms.json,
// through the files' JSON.
func TestAnswersMerge(t *testing.T) {
	kinds := []AnswerKind{TextAnswer, ToolCallAnswer, StructuredAnswer}
	a, b, all := NewSummary(SLO{}), NewSummary(SLO{}), NewSummary(SLO{})
	for i := range 300 {
		r := answered(i, kinds[i%3])
		r.Send = t0.Add(time.Duration(i) * time.Millisecond)
		[]*Summary{a, b}[i%2].Add(r)
		all.Add(r)
	}
	info := Info{Start: t0, Window: time.Minute, Offered: 300}
	var parts []Part
	for _, s := range []*Summary{a, b} {
		res, hf := roundTrip(t, s, info)
		parts = append(parts, Part{Results: res, Hists: hf})
	}
	merged, _, err := Merge(parts, SLO{})
	if err != nil {
		t.Fatal(err)
	}
	want := all.Results(info).Answers
	got := merged.Answers
	if got == nil || !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("merged answers\n%s\nwant\n%s", g, w)
	}
	// A shard of a version before answers (no key, no histograms) merges
	// as a plain run.
	plain := NewSummary(SLO{})
	plain.Add(answered(1, TextAnswer))
	res, hf := roundTrip(t, plain, info)
	if m, _, err := Merge([]Part{{res, hf}}, SLO{}); err != nil || m.Answers != nil {
		t.Errorf("plain shard: %v, answers %+v", err, m.Answers)
	}
}

// roundTrip writes a summary's results and histograms as JSON and reads
// them back, as a shard's files are.
func roundTrip(t *testing.T, s *Summary, in Info) (*Results, *HistFile) {
	t.Helper()
	js, err := json.Marshal(s.Results(in))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ReadResults(js)
	if err != nil {
		t.Fatal(err)
	}
	hf, err := s.HistFile()
	if err != nil {
		t.Fatal(err)
	}
	hjs, _ := json.Marshal(hf)
	var h HistFile
	if err := json.Unmarshal(hjs, &h); err != nil {
		t.Fatal(err)
	}
	return res, &h
}

// TestAnswersMergeTextShard: a shard that had only text answers without
// images carries no answers section; merged with one that had tool calls,
// its text answers still count, with their TTFT, TPOT and E2E.
func TestAnswersMergeTextShard(t *testing.T) {
	t.Parallel()
	text, calls, all := NewSummary(SLO{}), NewSummary(SLO{}), NewSummary(SLO{})
	for i := range 200 {
		var r *Record
		if i%2 == 0 {
			r = answered(i, TextAnswer)
			r.Images, r.ImageBytes, r.ImageTokens = 0, 0, 0
			text.Add(r)
		} else {
			r = answered(i, ToolCallAnswer)
			calls.Add(r)
		}
		all.Add(r)
	}
	info := Info{Start: t0, Window: time.Minute, Offered: 200}
	var parts []Part
	for _, s := range []*Summary{text, calls} {
		res, hf := roundTrip(t, s, info)
		parts = append(parts, Part{Results: res, Hists: hf})
	}
	if parts[0].Results.Answers != nil {
		t.Fatal("the text shard has an answers section: the test needs one without")
	}
	merged, _, err := Merge(parts, SLO{})
	if err != nil {
		t.Fatal(err)
	}
	want := all.Results(info).Answers
	if got := merged.Answers; got == nil || !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("merged answers\n%s\nwant\n%s", g, w)
	}
}
