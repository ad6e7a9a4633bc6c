package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// runProcess starts aoaibench as a process (testscript puts it on the
// PATH) with its stdout piped to the test, and returns the command and
// a reader of its stdout.
func runProcess(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *os.File, *strings.Builder) {
	t.Helper()
	cmd := exec.Command("aoaibench", args...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); r.Close() })
	return cmd, bufio.NewReader(r), r, &stderr
}

// checkResults checks that a run's output directory holds its results
// whole: summary.json, histograms.json, and a record per request sent.
func checkResults(t *testing.T, dir string) *metrics.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := metrics.ReadResults(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "histograms.json")); err != nil {
		t.Error(err)
	}
	recs, _ := os.ReadFile(filepath.Join(dir, "requests.jsonl"))
	if n := int64(strings.Count(string(recs), "\n")); n != res.Requests.Sent || n == 0 {
		t.Errorf("%d records for %d requests sent", n, res.Requests.Sent)
	}
	return res
}

// TestClosedStdout: `aoaibench load -f jsonl ... | head -1`: the closed
// pipe ends the live lines, not the run; it ends as it would have, with
// every result written and its usual status (before, SIGPIPE killed it
// with exit 141 and an empty requests.jsonl).
func TestClosedStdout(t *testing.T) {
	dir := t.TempDir()
	cmd, out, r, stderr := runProcess(t, "load", "-f", "jsonl", "-r", "600", "-d", "3s", "--sim", "ttft=10ms,itl=5ms", "-p", "30", "-m", "10", "--output-dir", dir)
	if _, err := out.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	r.Close() // head -1 exits
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); !worked(code, stderr.String()) {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	if res := checkResults(t, dir); res.Stopped != "duration" || res.Requests.Sent != 30 {
		t.Errorf("stopped by %s after %d requests", res.Stopped, res.Requests.Sent)
	}
}

// TestHangup: a closed terminal's SIGHUP stops the run as SIGINT does:
// dispatch stops, requests in flight finish, the results are written.
func TestHangup(t *testing.T) {
	dir := t.TempDir()
	cmd, out, _, stderr := runProcess(t, "load", "-f", "jsonl", "-r", "600", "-d", "1m", "--sim", "ttft=10ms,itl=5ms", "-p", "30", "-m", "10", "--output-dir", dir)
	if _, err := out.ReadString('\n'); err != nil { // the run is going
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); !worked(code, stderr.String()) {
			t.Fatalf("exit %d; stderr %s", code, stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("still running a minute after SIGHUP: %s", stderr)
	}
	if res := checkResults(t, dir); res.Stopped != "signal" || res.Requests.Incomplete != 0 {
		t.Errorf("stopped by %s, %d incomplete", res.Stopped, res.Requests.Incomplete)
	}
	if !strings.Contains(stderr.String(), "interrupted: stopped dispatching") {
		t.Errorf("stderr: %s", stderr)
	}
}
