package schedule

import (
	"math"
	"testing"
	"time"
)

func TestConstant(t *testing.T) {
	c, err := NewConstant(6000)
	if err != nil {
		t.Fatal(err)
	}
	// 100/s: 0, 10ms, 20ms... no burst, first at once.
	for i, want := range []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond} {
		if got := c.Next(); got != want {
			t.Fatalf("request %d due %v, want %v", i, got, want)
		}
	}
	// Exactly 6000 requests fall in the first minute.
	if got := c.Due(6000); got != time.Minute {
		t.Fatalf("request 6000 due %v", got)
	}
	// No drift after a long run at an awkward rate (7 per minute).
	c7, _ := NewConstant(7)
	if got, want := c7.Due(7_000_000), 1_000_000*time.Minute; got != want {
		t.Fatalf("due %v, want %v", got, want)
	}
}

func TestFractional(t *testing.T) {
	c, _ := NewConstant(0.5) // one every 2 minutes
	if c.Next() != 0 || c.Next() != 2*time.Minute || c.Next() != 4*time.Minute {
		t.Fatal("0.5 RPM is not one request every 2 minutes")
	}
	c, _ = NewConstant(4) // the lab's first run: 12 in 180 s
	n := 0
	for c.Next() < 180*time.Second {
		n++
	}
	if n != 12 {
		t.Fatalf("4 RPM over 180 s sent %d, want 12", n)
	}
}

func TestPoisson(t *testing.T) {
	p, _ := NewPoisson(600, 1)
	if p.Next() != 0 {
		t.Fatal("first Poisson request not due at once")
	}
	const n = 200000
	var last time.Duration
	var gaps []float64
	for range n {
		d := p.Next()
		if d < last {
			t.Fatal("offsets decrease")
		}
		gaps = append(gaps, (d - last).Seconds())
		last = d
	}
	mean, sq := 0.0, 0.0
	for _, g := range gaps {
		mean += g
	}
	mean /= n
	for _, g := range gaps {
		sq += (g - mean) * (g - mean)
	}
	sd := math.Sqrt(sq / n)
	// Exponential gaps: mean 0.1 s and standard deviation equal to the mean.
	if math.Abs(mean-0.1) > 0.002 || math.Abs(sd-0.1) > 0.003 {
		t.Fatalf("gap mean %.4f sd %.4f, want 0.1 and 0.1", mean, sd)
	}
	// Same seed, same sequence; other seed, other sequence.
	a, _ := NewPoisson(600, 7)
	b, _ := NewPoisson(600, 7)
	c, _ := NewPoisson(600, 8)
	a.Next()
	b.Next()
	c.Next()
	x, y, z := a.Next(), b.Next(), c.Next()
	if x != y || x == z {
		t.Fatalf("seeding: %v %v %v", x, y, z)
	}
}

func TestBadRate(t *testing.T) {
	for _, r := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := NewConstant(r); err == nil {
			t.Errorf("NewConstant(%v): want error", r)
		}
		if _, err := NewPoisson(r, 1); err == nil {
			t.Errorf("NewPoisson(%v): want error", r)
		}
	}
}
