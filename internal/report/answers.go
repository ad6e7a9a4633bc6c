package report

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// answerRow is one row of the answers table: its name and its figure of a
// run's answers (NaN when the run has none), written with prec decimals
// (ms: milliseconds).
type answerRow struct {
	name string
	prec int
	get  func(a *metrics.Answers) float64
}

// perRequest is n over the image requests (NaN when none).
func perRequest(n, requests int64) float64 {
	if requests == 0 {
		return math.NaN()
	}
	return float64(n) / float64(requests)
}

// kindFigure is a figure of one answer kind's results (NaN when the run
// had none of that kind).
func kindFigure(k metrics.AnswerKind, get func(*metrics.KindResults) float64) func(*metrics.Answers) float64 {
	return func(a *metrics.Answers) float64 {
		if kr := a.Kinds[k]; kr != nil && kr.Requests > 0 {
			return get(kr)
		}
		return math.NaN()
	}
}

// answerRows are the answers table's rows, in order.
func answerRows() []answerRow {
	rows := []answerRow{
		{"text answers", 0, func(a *metrics.Answers) float64 { return float64(a.Text) }},
		{"tool-call answers", 0, func(a *metrics.Answers) float64 { return float64(a.ToolCall) }},
		{"structured answers", 0, func(a *metrics.Answers) float64 { return float64(a.Structured) }},
		{"tool-call share %", 1, func(a *metrics.Answers) float64 { return 100 * a.ToolShare.F() }},
		{"tool calls", 0, func(a *metrics.Answers) float64 { return float64(a.ToolCalls) }},
		{"arguments valid", 0, func(a *metrics.Answers) float64 { return float64(a.ToolArgs.Valid) }},
		{"arguments not JSON", 0, func(a *metrics.Answers) float64 { return float64(a.ToolArgs.NotJSON) }},
		{"arguments not of the schema", 0, func(a *metrics.Answers) float64 { return float64(a.ToolArgs.Mismatch) }},
		{"structured not parsing", 0, func(a *metrics.Answers) float64 { return float64(a.StructuredVerdicts.NotJSON) }},
		{"structured not of the schema", 0, func(a *metrics.Answers) float64 { return float64(a.StructuredVerdicts.Mismatch) }},
		{"requests with images", 0, func(a *metrics.Answers) float64 { return float64(a.ImageRequests) }},
		{"images a request", 2, func(a *metrics.Answers) float64 { return perRequest(a.Images, a.ImageRequests) }},
		{"image tokens a request", 0, func(a *metrics.Answers) float64 {
			return perRequest(a.ImageTokens, a.ImageRequests-a.ImageTokensUnknown)
		}},
		{"image KB a request", 1, func(a *metrics.Answers) float64 { return perRequest(a.ImageBytes, a.ImageRequests) / 1024 }},
	}
	names := map[metrics.AnswerKind]string{metrics.TextAnswer: "text", metrics.ToolCallAnswer: "tool call", metrics.StructuredAnswer: "structured"}
	for _, k := range metrics.AnswerKinds {
		rows = append(rows,
			answerRow{"TTFT p50, " + names[k], ms, kindFigure(k, func(kr *metrics.KindResults) float64 { return kr.TTFT.P50.F() })},
			answerRow{"TTFT p99, " + names[k], ms, kindFigure(k, func(kr *metrics.KindResults) float64 { return kr.TTFT.P99.F() })},
			answerRow{"TPOT p50, " + names[k], ms, kindFigure(k, func(kr *metrics.KindResults) float64 { return kr.TPOT.P50.F() })},
			answerRow{"E2E p50, " + names[k], ms, kindFigure(k, func(kr *metrics.KindResults) float64 { return kr.E2E.P50.F() })},
			answerRow{"output tokens an answer, " + names[k], 1, kindFigure(k, func(kr *metrics.KindResults) float64 {
				return float64(kr.OutputTokens) / float64(kr.Requests)
			})})
	}
	return rows
}

// answersByKind writes the section "Answers by kind": a column per run,
// a row per figure some run has; nothing when no run had a tool call, a
// structured answer or an image.
func answersByKind(b *strings.Builder, runs []*Run) {
	var with []*Run
	for _, r := range runs {
		if r.Summary != nil && r.Summary.Answers != nil {
			with = append(with, r)
		}
	}
	if len(with) == 0 {
		return
	}
	b.WriteString("<h2>Answers by kind</h2><table class=\"sum\"><tr><th>figure</th>")
	for _, r := range with {
		fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(r.Name))
	}
	b.WriteString("</tr>\n")
	for _, row := range answerRows() {
		cells, any := make([]string, len(with)), false
		for i, r := range with {
			v := row.get(r.Summary.Answers)
			any = any || !math.IsNaN(v)
			cells[i] = Cell(v, row.prec)
		}
		if !any {
			continue
		}
		fmt.Fprintf(b, "<tr><td>%s</td>", html.EscapeString(row.name))
		for _, c := range cells {
			fmt.Fprintf(b, "<td>%s</td>", c)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n<p class=\"muted\">Successful requests by what they answered. A tool call's TTFT is at its first delta (its id and name), its TPOT over its arguments' tokens; a structured answer that does not parse is a success counted apart, not a failure. Latencies in milliseconds.</p>\n")
}
