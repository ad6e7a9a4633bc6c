package sink

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// TestDirFlushes: requests.jsonl is written through a buffer, out at each
// tick (once a second) and whole at the end: no record is lost, and no
// record costs a system call of its own.
func TestDirFlushes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Dir(dir, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if err := s.Start(Start{T0: t0, Plan: &plan.Plan{}}); err != nil {
		t.Fatal(err)
	}
	lines := func() int {
		b, err := os.ReadFile(filepath.Join(dir, "requests.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n"))
	}
	sum := metrics.NewSummary(metrics.SLO{})
	for i := range 3 {
		r := metrics.NewRecord(int64(i), t0)
		sum.Add(r)
		s.Record(r)
	}
	if n := lines(); n != 0 {
		t.Errorf("%d lines before the tick: each record was written on its own", n)
	}
	s.Tick(Tick{})
	if n := lines(); n != 3 {
		t.Errorf("%d lines after the tick, want 3", n)
	}
	r := metrics.NewRecord(3, t0)
	sum.Add(r)
	s.Record(r)
	if err := s.End(End{Results: sum.Results(metrics.Info{}), Summary: sum}); err != nil {
		t.Fatal(err)
	}
	if n := lines(); n != 4 {
		t.Errorf("%d lines at the end, want 4", n)
	}
}
