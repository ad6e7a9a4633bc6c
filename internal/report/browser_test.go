package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium. CI installs it (see .ci/run); without
// it the test is skipped locally and fails in CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: .ci/run should have installed Debian's chromium package")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium)")
	return ""
}

// TestReportInBrowser opens a report in headless Chromium: the page loads
// with no console errors and no network requests, every chart has drawn
// data, and a screenshot is written.
func TestReportInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	runs, _ := readRuns(t, "testdata/paygo", "testdata/ptu", "testdata/original.log", "testdata/lowrate", "testdata/throttled", "testdata/r120", "testdata/turns", "testdata/embeddings", "testdata/agents")
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := HTML(f, runs, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1280, 1024))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var problems, requests []string
	url := "file://" + page
	err = chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, e.ExceptionDetails.Text)
		case *network.EventRequestWillBeSent:
			if e.Request.URL != url {
				requests = append(requests, e.Request.URL)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	type chartInfo struct {
		Label  string `json:"label"`
		Points int    `json:"points"`
		Paths  int    `json:"paths"`
		Width  int    `json:"width"`
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartInfo](`Array.from(document.querySelectorAll("svg.chart")).map(s => ({
		label: s.getAttribute("aria-label"),
		points: +s.dataset.points,
		paths: Array.from(s.querySelectorAll("path.series")).filter(p => p.getAttribute("d").length > 0).length,
		width: Math.round(s.getBoundingClientRect().width)}))`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console errors: %q", problems)
	}
	if len(requests) > 0 {
		t.Errorf("the page made network requests: %q", requests)
	}
	if len(charts) < 15 {
		t.Errorf("%d charts rendered", len(charts))
	}
	for _, c := range charts {
		if c.Points == 0 || c.Paths == 0 || c.Width < 100 {
			t.Errorf("chart %q has no drawn data (%d points, %d paths, %d px)", c.Label, c.Points, c.Paths, c.Width)
		}
	}
	out := os.Getenv("AOAIBENCH_ARTIFACTS")
	if out == "" {
		out = dir
	}
	os.MkdirAll(out, 0o755)
	path := filepath.Join(out, "report-screenshot.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(shot) < 10_000 || !strings.HasPrefix(string(shot[:3]), "\xff\xd8\xff") {
		t.Errorf("screenshot is %d bytes", len(shot))
	}
	t.Logf("screenshot: %s (%d KB), %d charts", path, len(shot)/1024, len(charts))

	// The listeners do see requests and errors: a page that loads an image
	// and throws is caught.
	bad := filepath.Join(dir, "bad.html")
	os.WriteFile(bad, []byte(`<html><body><img src="http://127.0.0.1:9/x.png"><script>throw new Error("boom")</script></body></html>`), 0o644)
	problems, requests = nil, nil
	mu.Unlock()
	err = chromedp.Do(ctx, chromedp.Navigate("file://"+bad), chromedp.WaitReady("body"))
	if err != nil {
		mu.Lock()
		t.Fatal(err)
	}
	// Events arrive asynchronously: wait for them, bounded.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		seen := len(requests) > 0 && len(problems) > 0
		mu.Unlock()
		if seen {
			break
		}
	}
	mu.Lock()
	if len(requests) == 0 || len(problems) == 0 {
		t.Errorf("a bad page went unnoticed: requests %q, problems %q", requests, problems)
	}
}
