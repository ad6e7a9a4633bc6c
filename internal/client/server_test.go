package client

import "testing"

var lines = []string{"", "0b7f8c1e-4d1c-4b5e-9a57-2f0c3d1e6a90", "Sweden Central", " lead", "trail ", "two  spaces",
	"tab\there", "new\nline", "del\x7f", "nul\x00", "c1\u0085", "é", "\xff", "esc\x1b[31m", "nbsp\u00a0x", "a b c"}

// TestTruncatePlain: a plain line is kept as it is, and whatever the
// shortcut keeps is what the whole work would have made of it.
func TestTruncatePlain(t *testing.T) {
	for _, s := range lines {
		for _, n := range []int{0, 3, 80} {
			if got, want := truncate(s, n), oneLine(s, n); got != want {
				t.Errorf("truncate(%q, %d) = %q, want %q", s, n, got, want)
			}
		}
	}
	if s := "0b7f8c1e-4d1c-4b5e-9a57-2f0c3d1e6a90"; !plainLine(s) || plainLine("two  spaces") || plainLine("\x7f") {
		t.Errorf("plainLine misjudges")
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range lines {
		f.Add(s, 80)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = max(n, 0) % 200
		if got, want := truncate(s, n), oneLine(s, n); got != want {
			t.Fatalf("truncate(%q, %d) = %q, want %q", s, n, got, want)
		}
	})
}
