package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/size"
)

// sizingPage sizes a bursty usage CSV with prices and spillover, writes
// the answer under dir/s1 and returns it with its page.
func sizingPage(t *testing.T, dir string) (*size.Result, string) {
	t.Helper()
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
	return res, h
}

// TestSizingPage: a size directory's page says the answer first, what
// bounds it and the cost, then charts the refused share against PTUs
// with the formula's count marked, then the steps.
func TestSizingPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res, h := sizingPage(t, dir)
	answer := fmt.Sprintf(`<div class="run">%d PTUs, Data Zone provisioned</div>`, res.Replay.PTU)
	for _, want := range []string{answer, "Azure's formula: <b>", "with spillover", "Throttled (429) share against PTUs", "formula " + fmt.Sprint(res.Formula.PTU), "A month&#39;s cost against PTUs"} {
		if !strings.Contains(h, want) {
			t.Errorf("no %q in the page", want)
		}
	}
	if strings.Index(h, answer) > strings.Index(h, "<svg") || strings.Contains(h, "<script") {
		t.Error("the answer is not first, or the page has a script")
	}
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad", size.File), []byte(`{"kind":"size"}`), 0o644)
	if _, err := ReadSizing(filepath.Join(dir, "bad")); err == nil || !strings.Contains(err.Error(), "not an aoaibench size answer") {
		t.Errorf("a size.json with no steps: %v", err)
	}
}

// TestSizingInBrowser opens the sizing page in headless Chromium at 1400
// and 800 px: every chart draws data, nothing is wider than the window,
// and the answer is the first thing on it.
func TestSizingInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	dir := t.TempDir()
	res, h := sizingPage(t, dir)
	page := filepath.Join(dir, "sizing.html")
	os.WriteFile(page, []byte(h), 0o644)
	for _, width := range []int{1400, 800} {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, fmt.Sprint("profile", width))),
			chromedp.WindowSize(width, 1000))
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel2 := chromedp.NewContext(actx)
		ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
		type view struct {
			Charts   []int  `json:"charts"` // drawn paths per chart
			Scroll   int    `json:"scroll"`
			Inner    int    `json:"inner"`
			FirstRun string `json:"firstRun"`
		}
		err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitReady("body"))
		var v view
		if err == nil {
			v, err = chromedp.Run(ctx, chromedp.Evaluate[view](`({charts: Array.from(document.querySelectorAll("svg.chart")).map(s => Array.from(s.querySelectorAll("path.series")).filter(p => p.getAttribute("d").length > 0).length),
				scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
				firstRun: document.querySelector(".card .run").textContent})`))
		}
		cancel3()
		cancel2()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Charts) < 3 || v.Scroll > v.Inner || v.FirstRun != fmt.Sprintf("%d PTUs, Data Zone provisioned", res.Replay.PTU) {
			t.Errorf("%d px: charts %v, page %d px wide in %d, first %q", width, v.Charts, v.Scroll, v.Inner, v.FirstRun)
		}
		for i, n := range v.Charts {
			if n == 0 {
				t.Errorf("%d px: chart %d draws nothing", width, i)
			}
		}
	}
}
