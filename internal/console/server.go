package console

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/scrape"
)

// Server writes each inference server's own figures over a run beside
// the client's (r): its TTFT mean against the client's, then its ITL,
// queue, running and waiting requests and KV cache.
func Server(w io.Writer, figures []scrape.Figures, r *metrics.Results) {
	client := r.Latency["ttft"].Mean.F()
	for _, fg := range figures {
		target := api.WithoutPassword(fg.Target)
		if fg.Err != "" && math.IsNaN(fg.TTFT) && math.IsNaN(fg.Running) {
			fmt.Fprintf(w, "server    %s: no metrics (%s)\n", target, fg.Err)
			continue
		}
		fmt.Fprintf(w, "server    %s:\n", target)
		if !math.IsNaN(fg.TTFT) {
			fmt.Fprintf(w, "          its TTFT mean %.1f ms over %.0f requests%s;\n", fg.TTFT*1e3, fg.Requests, fg.Of)
			if n := r.Requests.OK; fg.Requests > float64(n) || client < fg.TTFT {
				// Other clients' requests (other shards, other users) are
				// in its count: the difference is not the way's.
				fmt.Fprintf(w, "          the client's %.1f ms over its %d (the server served others too)\n", client*1e3, n)
			} else {
				fmt.Fprintf(w, "          the client's %.1f ms (%+.1f ms on the way)\n", client*1e3, (client-fg.TTFT)*1e3)
			}
		}
		more := serverFigures(fg)
		// Two figures a line keep the table within Width.
		for i := 0; i < len(more); i += 2 {
			fmt.Fprintf(w, "          %s\n", strings.Join(more[i:min(i+2, len(more))], ", "))
		}
	}
}

// serverFigures are a server's figures other than TTFT, each as words.
func serverFigures(fg scrape.Figures) []string {
	var more []string
	for _, m := range []struct {
		name string
		v    float64
		pct  bool
	}{{"ITL mean", fg.ITL * 1e3, false}, {"queue mean", fg.Queue * 1e3, false}, {"running at most", fg.Running, false},
		{"waiting at most", fg.Waiting, false}, {"KV cache at most", fg.KVCache * 100, true}} {
		switch {
		case math.IsNaN(m.v):
		case m.pct:
			more = append(more, fmt.Sprintf("%s %.0f%%", m.name, m.v))
		case strings.HasSuffix(m.name, "mean"):
			more = append(more, fmt.Sprintf("%s %.2f ms", m.name, m.v))
		default:
			more = append(more, fmt.Sprintf("%s %.0f", m.name, m.v))
		}
	}
	return more
}
