package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/scrape"

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
	t.Parallel()
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
	Compare(&cmp, rows[0], rows[1], "md")
	golden(t, "compare.md", cmp.Bytes())
}

func TestOriginalLog(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// TestCurrentSchema reads run directories of this release (schema 1):
// settings from the plan in run.json, figures from summary.json.
func TestCurrentSchema(t *testing.T) {
	t.Parallel()
	runs, rows := readRuns(t, "testdata/lowrate", "testdata/throttled")
	low, thr := rows[0], rows[1]
	if runs[0].Summary.Schema != 1 || low.OfferedRPM != 4 || low.Context != 4500 || low.MaxTokens != 500 || low.Sent != 4 || low.RPM != 4 {
		t.Errorf("low-rate row %+v", low)
	}
	// An unthrottled open-loop run reads its offered rate; the quota count
	// is prompt + max_tokens.
	if low.TPMQuota != 4*5000 {
		t.Errorf("quota TPM %v", low.TPMQuota)
	}
	if thr.Throttled != 10 || thr.RPM != 20 || runs[1].Target == "" {
		t.Errorf("throttled row %+v target %q", thr, runs[1].Target)
	}
}

// TestChartsReadAsPeopleSee: a run too slow for buckets draws each
// request as a marker; percent axes run to 100 whatever the values (0.8%
// must not look like 80%); legends sit below the plot, where they hide no
// data; the quota and the offered rate are drawn as reference lines.
func TestChartsReadAsPeopleSee(t *testing.T) {
	t.Parallel()
	runs, _ := readRuns(t, "testdata/lowrate", "testdata/throttled")
	ts := runs[0].series()
	if !ts.sparse || len(ts.ttftDots) != 4 {
		t.Errorf("4 requests in a minute: sparse %v, %d markers", ts.sparse, len(ts.ttftDots))
	}
	// 30 requests in a minute, 20 of them answered: too few for five
	// latency buckets of five, enough for four throttled shares.
	if ts := runs[1].series(); !ts.sparse || len(ts.ttftDots) != 20 || len(ts.throttledPct) < 4 || math.IsNaN(ts.limitTokens) {
		t.Errorf("30 requests in a minute: sparse %v, %d markers, %d share points, limit %v", ts.sparse, len(ts.ttftDots), len(ts.throttledPct), ts.limitTokens)
	}
	svg := draw(spec{title: "u", ylab: "percent", yMax: 100, ss: []series{{name: "run", color: "#000", pts: []pt{{1, 0.5}, {2, 0.8}}}}})
	if !strings.Contains(svg, `class="yl">100</text>`) {
		t.Errorf("a percent axis with values under 1%% does not run to 100: %s", svg)
	}
	svg = draw(spec{title: "r", ss: []series{{name: "achieved", color: "#000", pts: []pt{{0, 10}, {60, 30}}}},
		refs: []ref{{name: "offered", color: "#000", y: 60}}})
	if !strings.Contains(svg, `class="ref"`) || !strings.Contains(svg, `class="yl">60</text>`) {
		t.Errorf("reference line missing or off the axis: %s", svg)
	}
	// The legend's text lies below the plot area (padT + plotH).
	i := strings.Index(svg, `class="lg"`)
	var y int
	fmt.Sscanf(svg[strings.LastIndex(svg[:i], `y="`)+3:], "%d", &y)
	if y <= padT+plotH {
		t.Errorf("legend at y=%d, inside the plot (bottom %d)", y, padT+plotH)
	}
	var b bytes.Buffer
	if err := HTML(&b, runs, "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Throttled (429) share", "quota (x-ratelimit-limit-tokens)", "x-ratelimit-remaining-tokens", "each request", "throttled offered"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestCompareFormats: --compare writes the format asked for, under
// stable snake_case keys.
func TestCompareFormats(t *testing.T) {
	t.Parallel()
	_, rows := readRuns(t, "testdata/paygo", "testdata/ptu")
	var c, j bytes.Buffer
	if err := Compare(&c, rows[0], rows[1], "csv"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.String(), "figure,paygo,ptu,change,change_pct\n") || !strings.Contains(c.String(), "\nttft_p50_s,0.124671,0.141439,") || strings.Contains(c.String(), "|") {
		t.Errorf("csv:\n%s", c.String())
	}
	if err := Compare(&j, rows[0], rows[1], "json"); err != nil {
		t.Fatal(err)
	}
	var v struct {
		A, B    string
		Figures []map[string]any
	}
	if err := json.Unmarshal(j.Bytes(), &v); err != nil || v.A != "paygo" || v.Figures[0]["figure"] != "offered_rpm" {
		t.Errorf("json: %v %s", err, j.String())
	}
}

// TestTicks: tick labels carry the decimals their step needs, so that no
// two read the same, and no more.
func TestTicks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v, step float64
		want    string
	}{
		{2344.2, 0.2, "2344.2"}, {2344, 0.2, "2344"}, {0.15, 0.05, "0.15"}, {0.1 + 0.05 + 0.05, 0.05, "0.2"},
		{0.75, 0.25, "0.75"}, {15000, 5000, "15k"}, {1.5e6, 5e5, "1.5M"}, {10002, 2, "10002"}, {3e-17, 0.1, "0"}, {600, 200, "600"}, {7.5, 2.5, "7.5"}, {10, 2.5, "10"},
	} {
		if got := fmtTick(c.v, c.step); got != c.want {
			t.Errorf("fmtTick(%v, %v) = %q, want %q", c.v, c.step, got, c.want)
		}
	}
}

// TestServerCharts: a run with the server's own metrics gets their
// charts, the server's TTFT as its histogram's mean between scrapes.
func TestServerCharts(t *testing.T) {
	t.Parallel()
	r := &Run{Name: "r", Server: []scrape.Sample{
		{T: 0, Series: map[string]float64{`vllm:num_requests_running{model_name="m"}`: 0, `vllm:time_to_first_token_seconds_sum{model_name="m"}`: 1, `vllm:time_to_first_token_seconds_count{model_name="m"}`: 10}},
		{T: 1, Series: map[string]float64{`vllm:num_requests_running{model_name="m"}`: 4, `vllm:time_to_first_token_seconds_sum{model_name="m"}`: 2.5, `vllm:time_to_first_token_seconds_count{model_name="m"}`: 20}},
	}}
	charts := serverCharts([]*Run{r, {Name: "none"}}, []timeSeries{{}, {}}, func(int) string { return "#000" })
	if len(charts) != 3 || !strings.Contains(charts[0], "requests running") || !strings.Contains(charts[2], "server (its histogram") {
		t.Fatalf("%d charts", len(charts))
	}
	if serverCharts([]*Run{{Name: "none"}}, []timeSeries{{}}, func(int) string { return "#000" }) != nil {
		t.Error("charts for a run with no server metrics")
	}
}

// TestAnswersByKind: the report has a section "Answers by kind" only
// when a run had tool calls, structured answers or images, with a column
// for each such run: its kinds, the tool-call share, the verdicts, the
// images, each kind's latencies.
func TestAnswersByKind(t *testing.T) {
	runs, _ := readRuns(t, "testdata/lowrate", "testdata/agents")
	var b bytes.Buffer
	if err := HTML(&b, runs[:1], "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Answers by kind") {
		t.Errorf("a plain run has an answers section")
	}
	b.Reset()
	if err := HTML(&b, runs, "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	i := strings.Index(page, "<h2>Answers by kind</h2>")
	if i < 0 {
		t.Fatal("no answers section")
	}
	section := page[i : i+strings.Index(page[i:], "</table>")]
	for _, want := range []string{"<th>agents</th></tr>", "<tr><td>tool-call answers</td><td>2</td></tr>", "<tr><td>tool-call share %</td><td>50.0</td></tr>",
		"<tr><td>arguments not JSON</td><td>1</td></tr>", "<tr><td>structured not parsing</td><td>1</td></tr>",
		"<tr><td>image tokens a request</td><td>1530</td></tr>", "<tr><td>image KB a request</td><td>300.0</td></tr>",
		"<tr><td>TTFT p50, tool call</td><td>250.0</td></tr>"} {
		if !strings.Contains(section, want) {
			t.Errorf("no %q in\n%s", want, section)
		}
	}
	if strings.Contains(section, "<th>lowrate</th>") {
		t.Errorf("a plain run has a column")
	}
}
