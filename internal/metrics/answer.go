package metrics

import (
	"github.com/aoaibench/aoaibench/internal/schema"
)

// AnswerKind is what a successful request's answer was, in records and
// summaries as it is spelled here.
type AnswerKind string

// Answer kinds.
const (
	TextAnswer       AnswerKind = "text"
	ToolCallAnswer   AnswerKind = "tool_call"
	StructuredAnswer AnswerKind = "structured" // JSON asked by response_format
)

// AnswerKinds lists the kinds in report order.
var AnswerKinds = []AnswerKind{TextAnswer, ToolCallAnswer, StructuredAnswer}

// Judge files what choice 0 of a successful request answered: its kind,
// its tool calls' names and the verdict on each call's arguments (by e's
// schemas, JSON only without one), or the verdict on a structured
// answer's text. e is what the request asked (nil: nothing). Text or
// arguments cut to MaxText are not judged (Unchecked): their end is
// missing, not wrong. A failed request is not judged.
func (r *Record) Judge(w *Wire, e *schema.Expect) {
	r.Answer, r.ToolNames, r.ToolArgs, r.Structured = "", r.ToolNames[:0], r.ToolArgs[:0], schema.Unchecked
	if r.Class != OK {
		return
	}
	switch {
	case len(w.Calls) > 0:
		r.Answer = ToolCallAnswer
		for _, c := range w.Calls {
			v := schema.Unchecked
			if !w.ArgsCut {
				v = e.Call(c.Name, c.Args)
			}
			r.ToolNames = append(r.ToolNames, c.Name)
			r.ToolArgs = append(r.ToolArgs, v)
		}
	case e != nil && (e.JSON || e.Answer != nil):
		r.Answer = StructuredAnswer
		var text []byte
		if len(w.Text) > 0 {
			text = w.Text[0]
		}
		if len(text) < MaxText {
			r.Structured = e.Text(text)
		}
	default:
		r.Answer = TextAnswer
	}
}
