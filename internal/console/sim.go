package console

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/aoaibench/aoaibench/internal/sim"
)

// Simulator writes the simulator's own count of what it served, by
// deployment: its ground truth beside the client's figures.
func Simulator(w io.Writer, st sim.Stats) {
	for _, name := range slices.Sorted(maps.Keys(st.Deployments)) {
		d := st.Deployments[name]
		var th []string
		for _, k := range slices.Sorted(maps.Keys(d.Throttled)) {
			th = append(th, fmt.Sprintf("%s %d", k, d.Throttled[k]))
		}
		reasons := ""
		if len(th) > 0 {
			reasons = " (" + strings.Join(th, ", ") + ")"
		}
		if d.Spilled > 0 {
			reasons += fmt.Sprintf(", spilled over %d", d.Spilled)
		}
		fmt.Fprintf(w, "simulator %s: accepted %d, completed %d\n", name, d.Accepted, d.Completed)
		Wrapped(w, "          ", fmt.Sprintf("throttled %d%s, failed %d, invalid %d; %d prompt + %d completion tokens",
			d.ThrottledTotal(), reasons, d.Failed, d.Invalid, d.PromptTokens, d.CompletionTokens))
	}
}
