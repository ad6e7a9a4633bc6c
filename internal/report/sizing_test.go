package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/size"
)

// TestSizingPage: a size directory's page says the answer first, what
// bounds it and the cost, then charts the refused share against PTUs
// with the formula's count marked, then the steps.
func TestSizingPage(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "u.csv")
	var b strings.Builder
	b.WriteString("timestamp,prompt_tokens,completion_tokens\n")
	for i := range 300 {
		fmt.Fprintf(&b, "%.2f,%d,%d\n", float64(i)/5, 800, 200)
	}
	for i := range 100 { // a burst
		fmt.Fprintf(&b, "%.2f,%d,%d\n", 30+float64(i)/50, 2000, 400)
	}
	os.WriteFile(csv, []byte(b.String()), 0o644)
	f := func(v float64) *float64 { return &v }
	res, err := size.Size(size.Options{Inputs: []string{csv}, Model: "gpt-4.1", Type: ptu.DataZone, MaxThrottled: 0.01, Spillover: true,
		Prices: size.Prices{PTUHourly: f(1), Input: f(2), Output: f(8)}})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s1")
	if _, err := res.Write(out); err != nil {
		t.Fatal(err)
	}
	if !IsSizing(out) || !IsSizing(filepath.Join(out, size.File)) || IsSizing(dir) || Kind(out) != "a size answer" {
		t.Fatal("IsSizing")
	}
	s, err := ReadSizing(out)
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	if err := SizingHTML(&page, []*Sizing{s}, "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	answer := fmt.Sprintf(`<div class="run">%d PTUs, Data Zone provisioned</div>`, res.Replay.PTU)
	for _, want := range []string{answer, "Azure's formula: <b>", "with spillover", "Throttled (429) share against PTUs", "formula " + fmt.Sprint(res.Formula.PTU), "A month&#39;s cost against PTUs"} {
		if !strings.Contains(h, want) {
			t.Errorf("no %q in the page", want)
		}
	}
	if strings.Index(h, answer) > strings.Index(h, "<svg") || strings.Contains(h, "<script") {
		t.Error("the answer is not first, or the page has a script")
	}
	os.WriteFile(filepath.Join(dir, "bad", size.File), nil, 0o644)
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad", size.File), []byte(`{"kind":"size"}`), 0o644)
	if _, err := ReadSizing(filepath.Join(dir, "bad")); err == nil || !strings.Contains(err.Error(), "not an aoaibench size answer") {
		t.Errorf("a size.json with no steps: %v", err)
	}
}
