package report

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// page renders the report of test runs.
func page(t *testing.T, paths ...string) string {
	t.Helper()
	runs, _ := readRuns(t, paths...)
	var b bytes.Buffer
	if err := HTML(&b, runs, "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRatesMeetOffered: a 20-s run at 120 RPM against the simulator
// (5-s answers, testdata/r120, a real run of the built binary) draws
// every achieved-rate point within 5% of 120, as its summary says, from
// the first bucket: each request counts at its send time with the
// outcome it had. The old trailing minute by completion time climbed to
// 96 and never met the offered line. The lab's 4 RPM run likewise draws
// 4, not a spike to 8.6 RPM and 43k TPM against its 20k quota.
func TestRatesMeetOffered(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path      string
		rpm, tpm  float64
		minPoints int
	}{{"testdata/r120", 120, 120000, 4}, {"testdata/lowrate", 4, 20000, 4}} {
		runs, rows := readRuns(t, c.path)
		if rows[0].RPM != c.rpm || rows[0].TPMTotal != c.tpm {
			t.Fatalf("%s: the summary says %v RPM, %v TPM", c.path, rows[0].RPM, rows[0].TPMTotal)
		}
		ts := runs[0].series()
		// The last point of a step series closes it at the dispatch
		// window's end.
		rpm, tpm := ts.rpm[:len(ts.rpm)-1], ts.tpm[:len(ts.tpm)-1]
		if len(rpm) < c.minPoints || rpm[0].x != 0 {
			t.Errorf("%s: %d rate points from %v", c.path, len(rpm), rpm)
		}
		for i, p := range rpm {
			if math.Abs(p.y-c.rpm) > 0.05*c.rpm || math.Abs(tpm[i].y-c.tpm) > 0.05*c.tpm {
				t.Errorf("%s: at %v s, %.1f RPM and %.0f TPM, want within 5%% of %v and %v", c.path, p.x, p.y, tpm[i].y, c.rpm, c.tpm)
			}
		}
		t.Logf("%s: %d buckets of %v s: RPM %v", c.path, len(rpm), ts.width, rpm)
	}
}

// TestRateBucketsNeverOutrunTime: the last bucket of a window that does
// not end on a bucket's edge is a rate over the part of it dispatch
// covered, not over a whole bucket (nor a minute that has not happened).
func TestRateBucketsNeverOutrunTime(t *testing.T) {
	t.Parallel()
	var recs []Record
	// 60 RPM for 25 s: a request a second, each answered in 5 s.
	for i := range 25 {
		s := float64(i)
		recs = append(recs, Record{Class: "ok", Send: Num(s), End: Num(s + 5), PromptTokens: 10, OutputTokens: 10, TTFT: Num(0.1), TPOT: Num(0.01), E2E: Num(5),
			Util: Num(nan), QuotaTokens: Num(nan), RemainingTokens: Num(nan), LimitTokens: Num(nan), MaxTokens: Num(nan), Turn: Num(nan), Cached: Num(nan)})
	}
	ts := recordSeries(recs, 0, 25)
	for _, p := range ts.rpm[:len(ts.rpm)-1] {
		if math.Abs(p.y-60) > 1e-9 {
			t.Errorf("bucket at %v s: %v RPM, want 60 (buckets of %v s)", p.x, p.y, ts.width)
		}
	}
	if last := ts.rpm[len(ts.rpm)-1]; last.x != 25 {
		t.Errorf("the rate ends at %v s, not at the window's end", last.x)
	}
}

// figs returns the headline's figures of a page: data-fig key to text,
// a map per run card in order.
func figs(page string) []map[string]string {
	var out []map[string]string
	for _, card := range strings.Split(page, `<div class="card">`)[1:] {
		m := map[string]string{}
		for _, f := range regexp.MustCompile(`data-fig="([a-z0-9_]+)">([^<]*)<`).FindAllStringSubmatch(card, -1) {
			m[f[1]] = f[2]
		}
		out = append(out, m)
	}
	return out
}

// num reads a headline figure: 120,000 or 0.0%.
func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(s, ",", ""), "%"), 64)
	if err != nil {
		t.Fatalf("headline figure %q: %v", s, err)
	}
	return v
}

// TestHeadlineEqualsSummary: the headline quotes summary.json's figures,
// as the summary rounds them: the verdict, achieved and offered RPM (of
// conversations for a --turns run), TPM, the 429 share, TTFT, TPOT and
// E2E p95 in ms, the quota the endpoint announced. It opens the page,
// before every chart; the full table is last.
func TestHeadlineEqualsSummary(t *testing.T) {
	t.Parallel()
	paths := []string{"testdata/r120", "testdata/throttled", "testdata/lowrate", "testdata/paygo", "testdata/turns", "testdata/embeddings"}
	runs, rows := readRuns(t, paths...)
	p := page(t, paths...)
	cards := figs(p)
	if len(cards) != len(paths) {
		t.Fatalf("%d headline cards for %d runs", len(cards), len(paths))
	}
	close := func(what string, got, want float64, tol float64) {
		t.Helper()
		if math.IsNaN(want) || math.Abs(got-want) > tol {
			t.Errorf("%s: headline %v, summary.json %v", what, got, want)
		}
	}
	for i, f := range cards {
		s, name := runs[i].Summary, paths[i]
		if v := map[bool]string{true: "valid", false: "NOT VALID"}[s.Valid]; f["verdict"] != v {
			t.Errorf("%s: verdict %q, summary valid %v", name, f["verdict"], s.Valid)
		}
		close(name+" RPM achieved", num(t, f["rpm_achieved"]), s.RPM.Achieved.F(), 0.05)
		if s.Sessions > 0 {
			close(name+" conversations offered", num(t, f["offered_conversations_pm"]), s.RPM.Offered.F(), 0.05)
			close(name+" conversations started", num(t, f["conversations_pm"]), float64(s.Sessions)/s.Window.F()*60, 0.05)
			if _, ok := f["rpm_offered"]; ok {
				t.Errorf("%s: a conversation run's offered rate is called requests", name)
			}
		} else {
			close(name+" RPM offered", num(t, f["rpm_offered"]), s.RPM.Offered.F(), 0.05)
		}
		close(name+" TPM", num(t, f["tpm_total"]), s.TPM.Total.F(), 0.5)
		close(name+" 429 share", num(t, f["throttled_pct"]), 100*s.Share(s.Requests.Throttled), 0.05)
		close(name+" E2E p95", num(t, f["e2e_p95_ms"]), 1e3*s.Latency["e2e"].P95.F(), 0.5)
		if ttft := s.Latency["ttft"].P95.F(); !math.IsNaN(ttft) {
			close(name+" TTFT p95", num(t, f["ttft_p95_ms"]), 1e3*ttft, 0.05)
			close(name+" TPOT p95", num(t, f["tpot_p95_ms"]), 1e3*s.Latency["tpot"].P95.F(), 0.005)
		} else if _, ok := f["ttft_p95_ms"]; ok {
			t.Errorf("%s: a TTFT for answers not streamed", name)
		}
		if q := rows[i].Quota; !math.IsNaN(q.TPM) {
			close(name+" quota", num(t, f["quota_tokens"]), q.TPM, 0.5)
		}
	}
	// The headline comes first, the charts next, the full table last.
	h, c, tb := strings.Index(p, `class="card"`), strings.Index(p, `<svg class="chart"`), strings.Index(p, "<h2>Every figure")
	if !(h >= 0 && h < c && c < tb) {
		t.Errorf("headline at %d, first chart at %d, table at %d", h, c, tb)
	}
}

// TestHeadlineVerdict: a run not valid says so first, with its reasons;
// summary.json's caveats and quota (of this release) are shown beside
// the figures.
func TestHeadlineVerdict(t *testing.T) {
	t.Parallel()
	runs, _ := readRuns(t, "testdata/r120")
	r := runs[0]
	r.Summary.Valid, r.Summary.Invalid = false, []string{"schedule lag p99 1066.0 ms"}
	r.Caveats = []string{"the rate was scaled to a minute from a 10-s window", "120000 quota-counted TPM is over the 100000 TPM quota (simulator): no whole minute allows it"}
	r.Quota = Quota{TPM: 100000, RPM: 600, Source: "simulator"}
	var b bytes.Buffer
	HTML(&b, runs, "test", time.Unix(0, 0))
	p := b.String()
	f := figs(p)[0]
	for _, want := range []string{`data-fig="verdict">NOT VALID`, "not valid for the offered rate: schedule lag p99 1066.0 ms",
		`<div class="caveat">the rate was scaled to a minute from a 10-s window`, "120,000 TPM counted against a quota of 100,000"} {
		if !strings.Contains(p, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if f["quota_tokens"] != "100,000" || f["quota_requests"] != "600" || !strings.Contains(p, "(simulator)") {
		t.Errorf("quota figures %v", f)
	}
	if strings.Contains(p, "no whole minute allows it") {
		t.Error("the quota's excess said twice: the red line and summary.json's caveat")
	}
}

// TestChartsThatSayNothing: a length that never varied is a sentence, not
// a histogram of one bar; TTFT by prompt tokens is left out when every
// prompt had one length; a table row that is "-" for every run is left
// out; latencies are in ms; conversations and requests are labelled
// apart; an embeddings run says its batch and no max tokens.
func TestChartsThatSayNothing(t *testing.T) {
	t.Parallel()
	p := page(t, "testdata/r120")
	for _, bad := range []string{"Prompt tokens per request", "TTFT by prompt tokens", "util avg %", "spilled over", "TPOT p50 s", ">seconds<"} {
		if strings.Contains(p, bad) {
			t.Errorf("report of a fixed-length run has %q", bad)
		}
	}
	for _, want := range []string{"Every prompt was 500 tokens, as sent and as served.", "Every answer was 500 tokens", "TPOT p50 ms</td><td>10.07<"} {
		if !strings.Contains(p, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	p = page(t, "testdata/turns")
	for _, want := range []string{"conversations/min offered", "requests/min achieved (every turn)", "conversations/min started", "Conversations a minute: "} {
		if !strings.Contains(p, want) {
			t.Errorf("--turns report lacks %q", want)
		}
	}
	if strings.Contains(p, "RPM offered (requests)</td>") {
		t.Error("a --turns run's offered rate is labelled as requests")
	}
	p = page(t, "testdata/embeddings")
	if strings.Contains(p, "max tokens") || !strings.Contains(p, "8 inputs a request") || !strings.Contains(p, "embedding inputs per request</td><td>8<") {
		t.Error("an embeddings run says max tokens or not its batch")
	}
}

// TestOverlaySplits: runs whose latencies differ tenfold get a chart
// each, so that one run's range does not flatten the others'; alike
// runs share one.
func TestOverlaySplits(t *testing.T) {
	t.Parallel()
	mk := func(top float64) layer {
		return layer{ss: []series{{name: "x", color: "#000", pts: []pt{{0, top / 2}, {1, top}}}}, refs: []ref{{run: "r", name: "quota", y: 200, dash: quotaDash}}}
	}
	if n := len(overlay(spec{title: "t"}, []string{"a", "b"}, []layer{mk(100), mk(1000)}, false)); n != 2 {
		t.Errorf("tenfold apart: %d charts", n)
	}
	c := overlay(spec{title: "t"}, []string{"a", "b"}, []layer{mk(100), mk(150)}, false)
	if len(c) != 1 || strings.Count(c[0], `class="ref"`) != 1 || !strings.Contains(c[0], "r, r quota") {
		t.Errorf("alike: %d charts, a shared quota drawn %d times", len(c), strings.Count(c[0], `class="ref"`))
	}
}

// TestLegendTellsDashesApart: the quota line of the TPM chart is drawn
// and listed dash-dot, the quota-counted tokens dashed, the offered rate
// dotted: three patterns a legend tells apart.
func TestLegendTellsDashesApart(t *testing.T) {
	t.Parallel()
	svg := draw(spec{title: "TPM", ss: []series{{name: "billed", color: "#000", step: true, pts: []pt{{0, 1}, {1, 0}}},
		{name: "counted", color: "#000", step: true, dashed: true, pts: []pt{{0, 2}, {1, 0}}}},
		refs: []ref{{name: "quota", color: "#000", y: 3, dash: quotaDash}, {name: "offered", color: "#000", y: 2.5}}})
	for _, d := range []string{seriesDash, quotaDash, refDash} {
		// Once in the plot, once in the legend.
		if n := strings.Count(svg, `stroke-dasharray="`+d+`"`); n != 2 {
			t.Errorf("pattern %q drawn %d times, want the line and its legend", d, n)
		}
	}
}

// TestOverTimeShareOneAxis: every chart over time runs from 0 to the
// run's end, the latencies plotted at send time.
func TestOverTimeShareOneAxis(t *testing.T) {
	t.Parallel()
	p := page(t, "testdata/throttled")
	start := strings.Index(p, "<h2>Over time")
	end := strings.Index(p, "<h2>Distributions")
	var last []string
	for _, svg := range strings.Split(p[start:end], `<svg class="chart"`)[1:] {
		// The last tick label of the x axis.
		ticks := regexp.MustCompile(`class="xl">([^<]*)<`).FindAllStringSubmatch(svg, -1)
		if len(ticks) == 0 || ticks[0][1] != "0" {
			t.Errorf("a chart over time does not start at 0: %v", ticks)
			continue
		}
		last = append(last, ticks[len(ticks)-1][1])
	}
	for _, l := range last {
		if l != last[0] {
			t.Errorf("x axes end at %v", last)
			break
		}
	}
	runs, _ := readRuns(t, "testdata/throttled")
	ts := runs[0].series()
	first := math.Inf(1)
	for _, r := range runs[0].Records {
		if r.Class == "ok" {
			first = math.Min(first, r.Send.F())
		}
	}
	if len(ts.ttftDots) == 0 || ts.ttftDots[0].x != first {
		t.Errorf("TTFT at %v, the first answered request was sent at %v", ts.ttftDots[:1], first)
	}
}
