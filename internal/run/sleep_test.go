package run

import (
	"testing"
	"time"
)

func TestPrecise(t *testing.T) {
	p := newPrecise()
	defer p.close()
	if p.timer == nil {
		t.Error("no kernel timer")
	}
	// Waits far apart and close together (which take the kernel timer
	// and the nap): never early, whichever.
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 2 * time.Millisecond, 12 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 0} {
		due := time.Now().Add(d)
		if !p.sleep(nil, due) {
			t.Fatal("stopped without a stop")
		}
		if now := time.Now(); now.Before(due) {
			t.Fatalf("woke %v early", due.Sub(now))
		}
	}
	// A stop ends a long sleep within one nap.
	stop := make(chan struct{})
	close(stop)
	start := time.Now()
	if p.sleep(stop, start.Add(time.Hour)) {
		t.Fatal("slept through a stop")
	}
	if time.Since(start) > time.Minute {
		t.Fatal("stop not noticed")
	}
	// A halt during a wait the kernel timer does alone: the wait says
	// so when it ends.
	late := make(chan struct{})
	time.AfterFunc(time.Millisecond, func() { close(late) })
	p.last = time.Time{} // far apart
	if p.sleep(late, time.Now().Add(parkMax/2)) {
		t.Fatal("a parked wait missed a stop")
	}
	if TimerSleep(stop, time.Now().Add(time.Hour)) || TimerSleep(stop, time.Now()) {
		t.Fatal("TimerSleep ignored a stop")
	}
}

func BenchmarkPreciseLateness(b *testing.B) {
	p := newPrecise()
	defer p.close()
	var worst, sum time.Duration
	for range b.N {
		due := time.Now().Add(time.Millisecond)
		p.sleep(nil, due)
		late := time.Since(due)
		sum += late
		worst = max(worst, late)
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(b.N), "µs-late/op")
	b.ReportMetric(float64(worst.Microseconds()), "µs-worst")
}
