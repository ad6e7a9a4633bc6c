package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// usageCSV writes a small usage CSV: 2 requests a second for 2 minutes.
func usageCSV(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,prompt_tokens,completion_tokens,max_tokens\n")
	for i := range 240 {
		fmt.Fprintf(&b, "%.1f,%d,%d,%d\n", float64(i)/2, 600+i%5*100, 100+i%3*50, 400)
	}
	path := filepath.Join(t.TempDir(), "usage.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	return path
}

// TestSizeBadInput: bad input to size (and a PTU count a simulated
// provisioned deployment cannot deploy) is one line and exit 2, with
// nothing written.
func TestSizeBadInput(t *testing.T) {
	dir := t.TempDir()
	good := usageCSV(t)
	noCols := filepath.Join(dir, "nocols.csv")
	os.WriteFile(noCols, []byte("time,prompt,completion\n1,2,3\n"), 0o644)
	table := filepath.Join(dir, "t.tsv")
	os.WriteFile(table, []byte("model\tinput_tpm_per_ptu\n"), 0o644)
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"size", noCols, "--model", "gpt-4o", "--output-dir", out}, noCols + ":1: a usage CSV needs the columns timestamp"},
		{[]string{"size", good, "--model", "gpt-9", "--output-dir", out}, `--model: no provisioned figures for "gpt-9" in azure-ptu-models.tsv`},
		{[]string{"size", good, "--model", "gpt-4o", "--price-input", "-1", "--price-output", "1", "--output-dir", out}, "--price-input must be a price from 0 to 1000000, got -1"},
		{[]string{"size", good, "--model", "gpt-4o", "--ptu-hourly", "NaN", "--output-dir", out}, "--ptu-hourly must be a price"},
		{[]string{"size", good, "--model", "gpt-4o", "--deployment-type", "zonal", "--output-dir", out}, `--deployment-type: deployment type must be global, datazone or regional, got "zonal"`},
		{[]string{"size", good, "--model", "gpt-4o", "--ptu-table", table, "--output-dir", out}, "--ptu-table: " + table + `:1: the header has no column "output_ratio"`},
		{[]string{"size", good, "--model", "gpt-4o", "--max-throttled", "-0.1", "--output-dir", out}, "--max-throttled must be a share from 0 to 1"},
		{[]string{"load", "-n", "1", "--sim", "type=provisioned,ptu=12"}, "--sim: deployment gpt-4o-mini: ptu: 12 PTUs cannot be deployed as Global provisioned gpt-4o-mini: it takes at least 15, in steps of 5"},
		{[]string{"load", "-n", "1", "--sim", "type=provisioned,ptu=30,deployment_type=regional"}, "--sim: deployment gpt-4o-mini: ptu: 30 PTUs cannot be deployed as Regional provisioned gpt-4o-mini: it takes at least 25, in steps of 25"},
	} {
		code, stdout, stderr := runCLI(t, nil, c.args...)
		if code != ExitUsage || !strings.HasPrefix(stderr, "aoaibench: error: "+c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %s", c.args, code, stdout, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("bad input wrote its output directory")
	}
}

// TestSizeAndReport: size answers on stdout and in size.json, and the
// report renders it.
func TestSizeAndReport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "s")
	code, stdout, stderr := runCLI(t, nil, "size", usageCSV(t), "--model", "gpt-4o-2024-08-06", "--output-dir", out, "--spillover",
		"--ptu-hourly", "1", "--price-input", "2.5", "--price-output", "10")
	if code != 0 || !strings.Contains(stdout, "ANSWER    ") || !strings.Contains(stderr, "size: "+filepath.Join(out, "size.json")) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, l := range strings.Split(stdout, "\n") {
		if len(l) > 80 {
			t.Errorf("%d columns: %q", len(l), l)
		}
	}
	page := filepath.Join(dir, "r.html")
	if code, _, stderr := runCLI(t, nil, "report", out, "-o", page); code != 0 || !strings.Contains(stderr, "sizing of 1") {
		t.Fatalf("report: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), "Throttled (429) share against PTUs") {
		t.Error("no chart in the sizing page")
	}
	if code, stdout, _ := runCLI(t, nil, "report", "--format", "json", out); code != 0 || !strings.Contains(stdout, `"kind": "size"`) {
		t.Errorf("report json: %d", code)
	}
	if code, _, stderr := runCLI(t, nil, "report", out, dir); code != ExitUsage || !strings.Contains(stderr, "report takes size directories together") {
		t.Errorf("size and other: %d %s", code, stderr)
	}
}
