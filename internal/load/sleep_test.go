package load

import (
	"context"
	"testing"
	"time"
)

func TestPreciseSleep(t *testing.T) {
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 2 * time.Millisecond, 12 * time.Millisecond} {
		due := time.Now().Add(d)
		if !PreciseSleep(context.Background(), nil, due) {
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
	if PreciseSleep(context.Background(), stop, start.Add(time.Hour)) {
		t.Fatal("slept through a stop")
	}
	if time.Since(start) > time.Minute {
		t.Fatal("stop not noticed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if TimerSleep(ctx, nil, time.Now().Add(time.Hour)) || TimerSleep(ctx, nil, time.Now()) {
		t.Fatal("TimerSleep ignored a cancelled context")
	}
}

func BenchmarkPreciseSleepLateness(b *testing.B) {
	var worst, sum time.Duration
	for range b.N {
		due := time.Now().Add(time.Millisecond)
		PreciseSleep(context.Background(), nil, due)
		late := time.Since(due)
		sum += late
		worst = max(worst, late)
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(b.N), "µs-late/op")
	b.ReportMetric(float64(worst.Microseconds()), "µs-worst")
}
