package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/report"
)

// ReportCmd is `aoaibench report`.
type ReportCmd struct {
	Runs    []string `arg:"" name:"run" help:"aoaibench --output-dir directories, or JSONL logs (aoaibench's or the original tool's)."`
	Output  string   `short:"o" type:"path" placeholder:"FILE" help:"File to write (default report.html for html; stdout for md, csv and json)."`
	Format  string   `enum:"html,md,csv,json" default:"html" placeholder:"FORMAT" help:"html (self-contained page with charts), or the summary table as md, csv or json (a sweep's or a search's: its steps)."`
	Compare bool     `help:"With two runs A B: each figure of A and B and its change (md, csv or json)."`
}

// Help is the command's example.
func (c *ReportCmd) Help() string {
	return `Examples:
  aoaibench report run1 run2 run1.log -o report.html
  aoaibench report --format md run1 run2
  aoaibench report --compare --format csv run1 run2`
}

// Run writes the report.
func (c *ReportCmd) Run(env *Env) error {
	if c.Compare && len(c.Runs) != 2 {
		return usagef("--compare takes exactly two runs, got %d", len(c.Runs))
	}
	if sized, err := c.sizing(env); sized || err != nil {
		return err
	}
	caps, err := c.isCapacity()
	if err != nil {
		return err
	}
	if caps {
		return c.capacity(env)
	}
	var runs []*report.Run
	for _, p := range c.Runs {
		r, err := report.Read(p)
		if err != nil {
			return readError(err)
		}
		runs = append(runs, r)
	}
	w := env.Stdout
	path := c.Output
	if path == "" && c.Format == "html" && !c.Compare {
		path = "report.html"
	}
	var f *os.File
	if path != "" {
		if f, err = os.Create(path); err != nil {
			return usagef("-o: %v", err)
		}
		defer f.Close()
		w = f
	}
	start := time.Now()
	if err := c.write(w, runs); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
		fi, _ := os.Stat(path)
		runsWord := "runs"
		if len(runs) == 1 {
			runsWord = "run"
		}
		fmt.Fprintf(env.Stderr, "report: %s (%.0f KB, %d %s, rendered in %v)\n", path, float64(fi.Size())/1024, len(runs), runsWord, time.Since(start).Round(100*time.Microsecond))
	}
	return nil
}

// isCapacity reports whether the report is a capacity report (of sweeps
// and searches) rather than a run report (of runs and logs): one kind at
// a time, and a message that says which each is.
func (c *ReportCmd) isCapacity() (bool, error) {
	caps := 0
	for _, p := range c.Runs {
		if report.IsCapacity(p) {
			caps++
		}
	}
	if caps > 0 && caps < len(c.Runs) {
		var kinds []string
		for _, p := range c.Runs {
			kinds = append(kinds, fmt.Sprintf("%s is %s", p, report.Kind(p)))
		}
		return false, usagef("report takes sweep and search directories together, or runs and logs together, not both: %s; report them apart", strings.Join(kinds, ", "))
	}
	return caps > 0, nil
}

// write writes the run report in the asked format: the comparison of
// two runs, the summary table, or the page.
func (c *ReportCmd) write(w io.Writer, runs []*report.Run) error {
	var rows []report.Row
	for _, r := range runs {
		rows = append(rows, r.Row())
	}
	switch {
	case c.Compare:
		format := c.Format
		if format == "html" {
			format = "md"
		}
		return report.Compare(w, rows[0], rows[1], format)
	case c.Format == "md":
		report.Markdown(w, rows)
		return nil
	case c.Format == "csv":
		return report.CSV(w, rows)
	case c.Format == "json":
		return report.JSON(w, rows)
	}
	return report.HTML(w, runs, Version(), time.Now())
}

// capacity writes the capacity report of sweep and search directories.
func (c *ReportCmd) capacity(env *Env) error {
	if c.Compare {
		return usagef("--compare takes two runs; a sweep's or a search's steps are compared in its own report")
	}
	var caps []*report.Capacity
	for _, p := range c.Runs {
		cp, err := report.ReadCapacity(p)
		if err != nil {
			return readError(err)
		}
		caps = append(caps, cp)
	}
	if c.Format != "html" {
		// The steps' table, to -o or standard output.
		w := env.Stdout
		if c.Output != "" {
			f, err := os.Create(c.Output)
			if err != nil {
				return usagef("-o: %v", err)
			}
			defer f.Close()
			w = f
		}
		if err := report.CapacityTable(w, caps, c.Format); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		return nil
	}
	path := c.Output
	if path == "" {
		path = "report.html"
	}
	f, err := os.Create(path)
	if err != nil {
		return usagef("-o: %v", err)
	}
	if err := report.CapacityHTML(f, caps, Version(), time.Now()); err != nil {
		f.Close()
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	what := "a capacity curve"
	if len(caps) > 1 {
		what = fmt.Sprintf("%d capacity curves", len(caps))
	}
	fmt.Fprintf(env.Stderr, "report: %s (%s)\n", path, what)
	return nil
}

// readError is a run that could not be read: bad input (exit 2), a
// *plan.Error naming file:line as it is, any other error as a usage
// error.
func readError(err error) error {
	var pe *plan.Error
	if errors.As(err, &pe) {
		return err
	}
	return usageError{err.Error()}
}
