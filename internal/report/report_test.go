package report

import (
	"bytes"
	"flag"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/golden/" + name
	if *update {
		os.MkdirAll("testdata/golden", 0o755)
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s", name, got)
	}
}

func readRuns(t *testing.T, paths ...string) ([]*Run, []Row) {
	t.Helper()
	var runs []*Run
	var rows []Row
	for _, p := range paths {
		r, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
		rows = append(rows, r.Row())
	}
	return runs, rows
}

func TestFormatsGolden(t *testing.T) {
	_, rows := readRuns(t, "testdata/paygo", "testdata/ptu", "testdata/original.log")
	var md, csv, js, cmp bytes.Buffer
	Markdown(&md, rows)
	golden(t, "summary.md", md.Bytes())
	if err := CSV(&csv, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.csv", csv.Bytes())
	if err := JSON(&js, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.json", js.Bytes())
	Compare(&cmp, rows[0], rows[1])
	golden(t, "compare.md", cmp.Bytes())
}

func TestOriginalLog(t *testing.T) {
	runs, rows := readRuns(t, "testdata/original.log")
	r := runs[0]
	if len(r.Lines) != 3 {
		t.Fatalf("%d lines read, want 3 (non-JSON lines skipped)", len(r.Lines))
	}
	// "n/a" is no value; "89.3%" is 89.3.
	if !math.IsNaN(r.Lines[0].E2E.Avg.F()) || r.Lines[1].Util.P95.F() != 89.3 {
		t.Fatalf("lenient numbers: %v %v", r.Lines[0].E2E.Avg, r.Lines[1].Util.P95)
	}
	// Keys the original does not write are absent, not zero.
	if !math.IsNaN(r.Lines[1].TTFTP50.F()) || !math.IsNaN(rows[0].TTFT50) {
		t.Fatal("absent p50 read as a number")
	}
	row := rows[0]
	if row.Sent != 101 || row.OK != 85 || row.Throttled != 12 || row.Failed != 1 || row.UtilP95 != 99.1 || row.TTFT95 != 1.6 || row.Duration != 120 {
		t.Fatalf("row from the last line: %+v", row)
	}
}

func TestRowFromOutputDir(t *testing.T) {
	runs, rows := readRuns(t, "testdata/paygo", "testdata/ptu")
	p := rows[0]
	if p.Context != 1000 || p.MaxTokens != 60 || p.OfferedRPM != 120 || p.Throttled == 0 || p.Sent != p.OK+p.Throttled+p.Failed {
		t.Fatalf("paygo row %+v", p)
	}
	if len(runs[0].Lines) == 0 {
		t.Error("the log beside the directory was not read")
	}
	if u := rows[1].UtilAvg; math.IsNaN(u) || u <= 0 {
		t.Errorf("PTU run without utilization: %v", u)
	}
}

func TestWarnings(t *testing.T) {
	r := &Run{Name: "x", Summary: &metrics.Results{Requests: metrics.Requests{Sent: 100, OK: 90, Incomplete: 10}}}
	r.Summary.Latency = map[string]metrics.Dist{"lag": {P99: 0.02}}
	r.Summary.Tokens.Compared, r.Summary.Tokens.MismatchShare = 90, 0.05
	w := strings.Join(r.Row().Warnings, "\n")
	for _, want := range []string{"schedule lag p99 is 20.0 ms", "10 of 100 requests were cut off", "disagree on 5.0%"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q: %s", want, w)
		}
	}
}

func TestHTMLSelfContained(t *testing.T) {
	runs, _ := readRuns(t, "testdata/paygo", "testdata/ptu", "testdata/original.log")
	var b bytes.Buffer
	if err := HTML(&b, runs, "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("report references %q: it must open offline", bad)
		}
	}
	if n := strings.Count(page, `<svg class="chart"`); n < 15 {
		t.Errorf("%d charts", n)
	}
	if strings.Contains(page, `data-points="0"`) {
		t.Error("an empty chart was drawn")
	}
	for _, want := range []string{"Deployment utilization", "429s as red crosses", "cumulative distribution", "paygo", "original.log"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{dir + "/missing", dir} {
		if _, err := Read(p); err == nil {
			t.Errorf("Read(%s): want error", p)
		}
	}
	os.WriteFile(dir+"/x.log", []byte("not json\n"), 0o644)
	if _, err := Read(dir + "/x.log"); err == nil || !strings.Contains(err.Error(), "no JSONL live lines") {
		t.Errorf("log without lines: %v", err)
	}
}

func BenchmarkHTML(b *testing.B) {
	runs := []*Run{{Name: "long"}}
	// A 10-minute run at 600 RPM: 6,000 requests.
	for i := range 6000 {
		s := float64(i) / 10
		class := "ok"
		if i%7 == 0 {
			class = "throttled"
		}
		runs[0].Records = append(runs[0].Records, Record{ID: int64(i), Class: class, Send: Num(s), End: Num(s + 5),
			TTFT: Num(0.2 + float64(i%13)/100), TPOT: Num(0.01), E2E: Num(5), PromptTokens: 500, OutputTokens: 500, Util: Num(math.NaN())})
	}
	var size int
	for range b.N {
		var w bytes.Buffer
		HTML(&w, runs, "bench", time.Unix(0, 0))
		size = w.Len()
	}
	b.ReportMetric(float64(size)/1024, "KB")
}
