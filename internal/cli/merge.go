package cli

import (
	"fmt"
	"strings"

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
	// The same verdict as load's, on the merged figures: nothing
	// succeeded is 1, figures not valid for the rate 3, a missed
	// objective 99.
	if code, why := judge(out.Results); code != ExitOK {
		return exitError{code: code, msg: "merged: " + strings.TrimPrefix(why, "error: ")}
	}
	return nil
}
