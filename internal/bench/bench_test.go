package bench

import (
	"os"
	"testing"
)

func TestHolds(t *testing.T) {
	cases := []struct {
		s    Step
		want bool
	}{
		{Step{Rate: 6000, SendRPM: 5999.9, LagP99: 0.001}, true},
		{Step{Rate: 6000, SendRPM: 5960, LagP99: 0.001}, false}, // 0.67% short
		{Step{Rate: 6000, SendRPM: 6000, LagP99: 0.006}, false}, // lag over 5 ms
	}
	for _, c := range cases {
		if got := c.s.Holds(); got != c.want {
			t.Errorf("%+v: Holds() = %v", c.s, got)
		}
	}
}

func TestProcFigures(t *testing.T) {
	pid := os.Getpid()
	if rss := rssMB(pid); rss <= 0 {
		t.Errorf("rssMB(self) = %v", rss)
	}
	// Burn a little CPU so that the tick counter has moved.
	x := 0
	for i := range 300_000_000 {
		x += i
	}
	_ = x
	if cpu := cpuOf(pid); cpu <= 0 {
		t.Errorf("cpuOf(self) = %v", cpu)
	}
	if rssMB(-1) != 0 || cpuOf(-1) != 0 {
		t.Error("a missing process reads as zero")
	}
}

func TestTaskset(t *testing.T) {
	if p, err := taskset(false, "0"); p != nil || err != nil {
		t.Fatalf("unpinned: %v %v", p, err)
	}
}
