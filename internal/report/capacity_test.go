package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCapacityReport: a search's report gives its answer and says when it
// is above the quota the endpoint announced (10-s steps end before a
// minute's quota binds: never a capacity answer); the achieved curve has
// the y = x line, the answer is marked, the TPM chart has the quota line,
// and every chart spans the same rates from 0. Latencies are in ms.
func TestCapacityReport(t *testing.T) {
	t.Parallel()
	c, err := ReadCapacity("testdata/search")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != "search" || c.MaxRate != 240 || c.Quota.TPM != 200000 || len(c.aboveQuota()) != 1 {
		t.Fatalf("search: kind %q, answer %v, quota %+v, above %q", c.Kind, c.MaxRate, c.Quota, c.aboveQuota())
	}
	var b bytes.Buffer
	if err := CapacityHTML(&b, []*Capacity{c}, "test", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	p := b.String()
	for _, want := range []string{"Highest rate meeting ttft_p95&lt;=2s,throttled&lt;=1%: 240 RPM.", "240,000 TPM were counted against a quota of 200,000 TPM",
		"achieved = offered", ">search answer 240<", "search quota (x-ratelimit-limit-tokens)", "TTFT p95 ms", `stroke-dasharray="` + quotaDash + `"`} {
		if !strings.Contains(p, want) {
			t.Errorf("capacity report lacks %q", want)
		}
	}
	var ends []string
	for _, svg := range strings.Split(p, `<svg class="chart"`)[1:] {
		ticks := regexp.MustCompile(`class="xl">([^<]*)<`).FindAllStringSubmatch(svg, -1)
		if len(ticks) == 0 || ticks[0][1] != "0" {
			t.Errorf("a capacity chart does not start at 0: %v", ticks)
			continue
		}
		ends = append(ends, ticks[len(ticks)-1][1])
	}
	if len(ends) != 6 || strings.Count(strings.Join(ends, ","), ends[0]) != len(ends) {
		t.Errorf("capacity charts' x axes end at %v", ends)
	}
}

// TestStepVerdicts: a step not judged says "not judged", never "pass";
// why a step failed is said; a sweep of the release before "judged" was
// judged only when it had objectives (its steps' slo checks).
func TestStepVerdicts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(`{"schema":1,"kind":"sweep","probes":[
{"rate":60,"judged":false,"passed":true,"results":{"valid":true}},
{"rate":120,"judged":true,"passed":true,"results":{"valid":true}},
{"rate":240,"judged":true,"passed":false,"why":["ttft_p95<=1s: 1.2s"],"results":{"valid":true}},
{"rate":480,"judged":false,"passed":false,"results":{"valid":false,"invalid_reasons":["sent 37 of 40 due requests"]}}]}`), 0o644)
	c, err := ReadCapacity(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"not judged", "pass", "fail: ttft_p95<=1s: 1.2s", "not judged; NOT VALID: sent 37 of 40 due requests"}
	for i, w := range want {
		if got := c.Verdict(i); got != w {
			t.Errorf("step %d: %q, want %q", i+1, got, w)
		}
	}
	os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(`{"schema":1,"kind":"sweep","probes":[{"rate":60,"passed":true,"results":{"valid":true}}]}`), 0o644)
	if c, err = ReadCapacity(dir); err != nil || c.Verdict(0) != "not judged" {
		t.Errorf("a sweep without objectives: %q, %v", c.Verdict(0), err)
	}
	os.WriteFile(filepath.Join(dir, "sweep.json"), []byte(`{"schema":1,"kind":"sweep","probes":[{"rate":60,"passed":true,"results":{"valid":true,"slo":[{"objective":"ttft_p95<=1s","passed":true}]}}]}`), 0o644)
	if c, err = ReadCapacity(dir); err != nil || c.Verdict(0) != "pass" {
		t.Errorf("a sweep with objectives: %q, %v", c.Verdict(0), err)
	}
}

// TestCapacityTable: a sweep's or a search's steps as md, csv and json.
func TestCapacityTable(t *testing.T) {
	t.Parallel()
	c, err := ReadCapacity("testdata/search")
	if err != nil {
		t.Fatal(err)
	}
	var md, cs, js bytes.Buffer
	for f, w := range map[string]*bytes.Buffer{"md": &md, "csv": &cs, "json": &js} {
		if err := CapacityTable(w, []*Capacity{c}, f); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(md.String(), "| step | offered RPM | sent |") || !strings.Contains(md.String(), "| 1 | 60 | 10 | 10 | 0.0 | 60.0 |") ||
		!strings.Contains(md.String(), "NOT A CAPACITY ANSWER") {
		t.Errorf("md:\n%s", md.String())
	}
	if !strings.HasPrefix(cs.String(), "run,kind,step,offered,sent,ok,throttled_pct,rpm,") || strings.Count(cs.String(), "\n") != 1+len(c.Probes) {
		t.Errorf("csv:\n%s", cs.String())
	}
	if !strings.Contains(js.String(), `"max_rate": 240`) || !strings.Contains(js.String(), `"judged": true`) {
		t.Errorf("json:\n%s", js.String())
	}
}

// TestStepDirsBounded: a sweep.json that names a step directory a
// thousand times has it read once, and no more than maxStepDirs
// directories are read whatever it names (a 1 MB sweep.json naming one
// 1 MB run 6,904 times took 90 s to report; now 0.2 s).
func TestStepDirsBounded(t *testing.T) {
	t.Parallel()
	read := map[string]*Run{}
	for range 1000 {
		if readStep("testdata/search", "/elsewhere/step-01-60rpm", read) == nil {
			t.Fatal("the step beside search.json was not read")
		}
	}
	if len(read) != 1 {
		t.Errorf("%d reads of one directory", len(read))
	}
	for i := range 3 * maxStepDirs {
		readStep("/nowhere", filepath.Join("/nowhere", strconv.Itoa(i)), read)
	}
	if len(read) != maxStepDirs {
		t.Errorf("%d step directories read, at most %d", len(read), maxStepDirs)
	}
}
