package nap

import (
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	for _, d := range []time.Duration{-1, 0, 100 * time.Microsecond, 2 * time.Millisecond} {
		start := time.Now()
		Sleep(d)
		if got := time.Since(start); got < d {
			t.Fatalf("Sleep(%v) returned after %v", d, got)
		}
	}
}

func BenchmarkLateness(b *testing.B) {
	var sum time.Duration
	for range b.N {
		start := time.Now()
		Sleep(time.Millisecond)
		sum += time.Since(start) - time.Millisecond
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(b.N), "µs-late/op")
}
