package nap

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTimer: a Timer sleeps at least as long as asked, again and again
// (it is rearmed each time), and a stale expiration never cuts a later
// sleep short.
func TestTimer(t *testing.T) {
	tm, err := NewTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	// A stale expiration: armed and fired, never read.
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(time.Microsecond))}
	if err := unix.TimerfdSettime(tm.fd, 0, &spec, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	for range 3 {
		for _, d := range []time.Duration{-1, 0, 100 * time.Microsecond, 2 * time.Millisecond, 20 * time.Millisecond} {
			start := time.Now()
			tm.Sleep(d)
			if got := time.Since(start); got < d {
				t.Fatalf("Sleep(%v) returned after %v", d, got)
			}
		}
	}
}

func BenchmarkTimerLateness(b *testing.B) {
	tm, err := NewTimer()
	if err != nil {
		b.Fatal(err)
	}
	defer tm.Close()
	var sum time.Duration
	for range b.N {
		start := time.Now()
		tm.Sleep(time.Millisecond)
		sum += time.Since(start) - time.Millisecond
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(b.N), "µs-late/op")
}
