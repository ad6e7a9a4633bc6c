package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportHostileFile: a log line with a time no run has is bad input
// (exit 2) named by file:line and field, before anything is written.
func TestReportHostileFile(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "bad.log")
	os.WriteFile(log, []byte(`{"run_seconds": 1}`+"\n"+`{"run_seconds": 1e308, "rpm": 4}`+"\n"), 0o644)
	out := filepath.Join(dir, "r.html")
	code, _, stderr := runCLI(t, nil, "report", log, "-o", out)
	if code != ExitUsage || !strings.Contains(stderr, "bad.log:2: run_seconds is 1e+308") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a report was written")
	}
}

// TestReportKinds: a sweep or search directory and a run directory
// together are refused, saying which kind each is; a search's steps are a
// Markdown table.
func TestReportKinds(t *testing.T) {
	search, run := filepath.Join("..", "report", "testdata", "search"), filepath.Join("..", "report", "testdata", "r120")
	code, _, stderr := runCLI(t, nil, "report", search, run, "-o", filepath.Join(t.TempDir(), "r.html"))
	if code != ExitUsage || !strings.Contains(stderr, search+" is a search directory") || !strings.Contains(stderr, run+" is a run directory") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, stdout, stderr := runCLI(t, nil, "report", "--format", "md", search)
	if code != 0 || !strings.Contains(stdout, "| step | offered RPM |") || !strings.Contains(stdout, "Highest rate meeting") {
		t.Errorf("md of a search: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
