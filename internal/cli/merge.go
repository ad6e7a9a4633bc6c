package cli

import (
	"fmt"

	"github.com/aoaibench/aoaibench/internal/console"
	"github.com/aoaibench/aoaibench/internal/merge"
)

// MergeCmd is `aoaibench merge`.
type MergeCmd struct {
	Dirs   []string `arg:"" name:"dir" help:"The --output-dir of every shard of one plan (--shard i/N)."`
	Output string   `short:"o" required:"" placeholder:"DIR" help:"The merged output directory to write."`
}

// Help is the command's example.
func (c *MergeCmd) Help() string {
	return `The shards' records are put on one clock, their histograms merged
exactly and their counts added; the rates are over the union of their
dispatch windows. Every shard must be there once, from the same plan.

Examples:
  aoaibench merge shard-0 shard-1 shard-2 shard-3 -o run
  aoaibench report run -o report.html`
}

// Run merges.
func (c *MergeCmd) Run(env *Env) error {
	out, err := merge.Dirs(c.Dirs, c.Output)
	if err != nil {
		return err // a *plan.Error exits 2
	}
	fmt.Fprintf(env.Stderr, "merged %d shards, %d records, into %s\n", out.Shards, out.Records, c.Output)
	console.Summary(env.Stderr, out.Results)
	if !out.Results.Valid {
		return exitError{code: ExitInvalid, msg: "the merged figures are not valid for the offered rate"}
	}
	for _, ch := range out.Results.SLO {
		if !ch.Passed {
			return exitError{code: ExitSLO, msg: fmt.Sprintf("objective %s missed", ch.Objective)}
		}
	}
	return nil
}
