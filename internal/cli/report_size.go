package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/report"
)

// sizing writes the sizing page of size directories (aoaibench size
// --output-dir), when the runs are those: sized says it did. Size
// directories go with size directories only.
func (c *ReportCmd) sizing(env *Env) (sized bool, err error) {
	n := 0
	for _, p := range c.Runs {
		if report.IsSizing(p) {
			n++
		}
	}
	if n == 0 {
		return false, nil
	}
	if n < len(c.Runs) {
		var kinds []string
		for _, p := range c.Runs {
			kinds = append(kinds, fmt.Sprintf("%s is %s", p, report.Kind(p)))
		}
		return true, usagef("report takes size directories together, apart from runs, sweeps and searches: %s; report them apart", strings.Join(kinds, ", "))
	}
	if c.Compare {
		return true, usagef("--compare takes two runs; size answers are shown side by side in one page")
	}
	var sizes []*report.Sizing
	for _, p := range c.Runs {
		s, err := report.ReadSizing(p)
		if err != nil {
			return true, usageError{err.Error()}
		}
		sizes = append(sizes, s)
	}
	switch c.Format {
	case "html":
	case "json":
		var all []any
		for _, s := range sizes {
			all = append(all, s.Result)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return true, enc.Encode(all)
	default:
		return true, usagef("--format %s: a size answer's report is html, or json (size.json's figures)", c.Format)
	}
	path := c.Output
	if path == "" {
		path = "report.html"
	}
	f, err := os.Create(path)
	if err != nil {
		return true, usagef("-o: %v", err)
	}
	if err := report.SizingHTML(f, sizes, Version(), time.Now()); err != nil {
		f.Close()
		return true, fmt.Errorf("writing the report: %w", err)
	}
	if err := f.Close(); err != nil {
		return true, fmt.Errorf("-o: %w", err)
	}
	fmt.Fprintf(env.Stderr, "report: %s (sizing of %d)\n", path, len(sizes))
	return true, nil
}
