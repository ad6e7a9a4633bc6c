package console

import (
	"fmt"
	"io"
	"strconv"

	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// Start writes what a run is about to do: its target (described), its
// load, and, when it has no end, how to stop it.
func Start(w io.Writer, target string, p *plan.Plan) {
	Wrapped(w, "target    ", target)
	Wrapped(w, "load      ", Load(p))
	if p.Load.Length() == 0 && p.Load.Requests == 0 && p.Load.Trace == nil {
		fmt.Fprintln(w, "          no --duration or --requests: it runs until Ctrl-C, which stops\n          dispatch and drains (a second cuts requests off)")
	}
}

// SimulatorBanner writes that a run tests the built-in simulator, which
// deployment it is, and how to test a real one instead.
func SimulatorBanner(w io.Writer, url, deployment string) {
	fmt.Fprintf(w, "no endpoint given: testing the built-in simulator at %s\n", url)
	Wrapped(w, "  deployment ", deployment)
	fmt.Fprintln(w, "  (a real deployment: aoaibench load -e DEPLOYMENT\n   https://RESOURCE.openai.azure.com, the API key in $OPENAI_API_KEY)")
}

// Load says what a plan sends, in one sentence: the schedule, the
// clients, what each request asks, and its shard.
func Load(p *plan.Plan) string {
	out := fmt.Sprintf("%s, %s; %s", schedule(p), clients(p), workload(&p.Workload, p.Load.Trace != nil))
	if sh := p.Load.Shard; sh != nil && sh.Count > 1 {
		out = fmt.Sprintf("shard %d of %d (requests %d, %d+%d, ... of the plan's; %d of its %d clients): %s", sh.Index, sh.Count,
			sh.Index, sh.Index, sh.Count, pace.Split(int64(p.Load.Clients), sh.Index, sh.Count), p.Load.Clients, out)
	}
	if p.Load.StartAt != "" {
		out += "; starting at " + p.Load.StartAt
	}
	return out
}

// schedule says when requests (or conversations) start.
func schedule(p *plan.Plan) string {
	l := &p.Load
	switch {
	case l.Rate != nil && p.Workload.Turns > 1:
		// The schedule starts conversations: their rate, not requests'.
		return strconv.FormatFloat(*l.Rate, 'f', -1, 64) + " conversations a minute, " + string(l.Arrival)
	case l.Rate != nil:
		return strconv.FormatFloat(*l.Rate, 'f', -1, 64) + " RPM " + string(l.Arrival)
	case l.Trace != nil:
		out := "trace " + l.Trace.Path
		if s := l.Trace.Speed; s != 0 && s != 1 {
			out += fmt.Sprintf(" at %gx", s)
		}
		return out
	case len(l.Stages) > 0:
		return fmt.Sprintf("%d stages", len(l.Stages))
	}
	return "closed loop"
}

// clients says how many requests may be in flight.
func clients(p *plan.Plan) string {
	if p.Load.AutoClients {
		return fmt.Sprintf("requests in flight as the rate needs (up to %d: --clients caps them)", p.Load.Clients)
	}
	return fmt.Sprintf("%d clients", p.Load.Clients)
}

// workload says what each request asks.
func workload(w *plan.Workload, trace bool) string {
	most := fmt.Sprintf("%d max tokens", w.MaxTokens)
	if w.MaxTokens == 0 {
		most = "no max_tokens sent"
	}
	what := fmt.Sprintf("shape %s (%d context, %s)", w.Shape, w.ContextTokens, most)
	switch {
	case w.Endpoint == plan.Embeddings && w.Dataset == nil && w.Synthetic == "":
		// An embedding has no output: max_tokens is not sent.
		what = fmt.Sprintf("embeddings: %d input%s a request, about %d tokens each", max(w.EmbeddingBatch, 1), plural(max(w.EmbeddingBatch, 1)), w.ContextTokens)
	case trace:
		what = "the trace's lengths"
	case w.Dataset != nil:
		what = "dataset " + w.Dataset.Path
		if w.Dataset.MaxTokens > 0 {
			what += fmt.Sprintf(" (max_tokens %d)", w.Dataset.MaxTokens)
		}
	case w.Synthetic != "":
		what = "synthetic " + w.Synthetic
	}
	if w.PrefixTokens > 0 {
		what += fmt.Sprintf(", a shared %d-token prefix", w.PrefixTokens)
		if w.Prefixes > 1 {
			what += fmt.Sprintf(" (%d of them)", w.Prefixes)
		}
	}
	if w.Turns > 1 {
		what += fmt.Sprintf(", conversations of up to %d turns", w.Turns)
		if w.ThinkTime != "" {
			what += ", think time " + w.ThinkTime
		}
	}
	return what
}

// plural is "s" for a count other than one.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
