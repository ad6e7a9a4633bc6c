package console

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// answerNames are the answer kinds as the summary names them.
var answerNames = map[metrics.AnswerKind]string{
	metrics.TextAnswer: "text", metrics.ToolCallAnswer: "tool call", metrics.StructuredAnswer: "structured",
}

// answers writes what the successful requests answered, when the run had
// tool calls, structured answers or images: the split by kind and the
// tool-call share, the calls' argument verdicts, the structured answers
// that did not parse (successes counted apart, not failures), the
// images; then each kind's latencies.
func answers(w io.Writer, r *metrics.Results) {
	a := r.Answers
	if a == nil {
		return
	}
	fmt.Fprintf(w, "answers   %d tool call (%s of %d ok), %d structured, %d text\n",
		a.ToolCall, percent(a.ToolShare), r.Requests.OK, a.Structured, a.Text)
	if a.ToolCalls > 0 {
		v := a.ToolArgs
		fmt.Fprintf(w, "tools     %d calls: %d valid, %d not JSON, %d not of the schema%s\n",
			a.ToolCalls, v.Valid, v.NotJSON, v.Mismatch, unchecked(v))
	}
	if v := a.StructuredVerdicts; a.Structured > 0 {
		fmt.Fprintf(w, "          structured answers not parsing: %d of %d, %d not of the schema%s\n",
			v.NotJSON, a.Structured, v.Mismatch, unchecked(v))
		if v.Bad() > 0 {
			fmt.Fprintf(w, "          (successes with their verdict, not failures)\n")
		}
	}
	if a.ImageRequests > 0 {
		per := float64(a.Images) / float64(a.ImageRequests)
		tokens := fmt.Sprintf("%.0f prompt tokens", float64(a.ImageTokens)/float64(a.ImageRequests-a.ImageTokensUnknown))
		if a.ImageTokensUnknown == a.ImageRequests {
			tokens = "prompt tokens not known"
		}
		images := "images"
		if per == 1 {
			images = "image"
		}
		Wrapped(w, "images    ", fmt.Sprintf("%s %s a request, in %d requests: %s and %s uploaded a request",
			strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", per), "0"), "."), images, a.ImageRequests, tokens,
			size(float64(a.ImageBytes)/float64(a.ImageRequests))))
		if n := a.ImageTokensUnknown; n > 0 && n < a.ImageRequests {
			fmt.Fprintf(w, "          %d requests' image tokens not known (images by address)\n", n)
		}
	}
	if len(a.Kinds) < 2 {
		return // one kind: the latency table says it all
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "by answer, ms\tcount\tTTFT p50\tTTFT p99\tTPOT p50\tE2E p50\ttokens each\t")
	for _, k := range metrics.AnswerKinds {
		kr := a.Kinds[k]
		if kr == nil || kr.Requests == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.1f\t\n", answerNames[k], kr.Requests, cell(kr.TTFT.P50), cell(kr.TTFT.P99),
			cell(kr.TPOT.P50), cell(kr.E2E.P50), float64(kr.OutputTokens)/float64(kr.Requests))
	}
	tw.Flush()
}

// percent writes a share as a percent, n/a when absent.
func percent(v metrics.Num) string {
	return fixed(metrics.Num(100*v.F()), 1) + "%"
}

// unchecked says how many answers were too long to judge, if any.
func unchecked(v metrics.Verdicts) string {
	if v.Unchecked == 0 {
		return ""
	}
	return fmt.Sprintf(", %d cut", v.Unchecked)
}

// size writes bytes in KB or MB.
func size(b float64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.1f MB", b/(1<<20))
	}
	return fmt.Sprintf("%.1f KB", b/1024)
}
