// Package report reads what runs left behind (aoaibench output directories,
// and JSONL logs of aoaibench or of the original Python tool) and renders
// them: a self-contained HTML page with inline SVG charts, or the summary
// table as Markdown, CSV or JSON.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/scrape"
)

// Num is a number read leniently: JSON numbers, null, and the original
// tool's strings ("n/a", "89.3%", "12.5"). NaN means no value.
type Num = metrics.Num

// pair is the original's {"avg":..,"95th":..} object.
type pair struct {
	Avg Num `json:"avg"`
	P95 Num `json:"95th"`
}

// Line is one live line of a JSONL log.
type Line struct {
	RunSeconds Num    `json:"run_seconds"`
	Timestamp  string `json:"timestamp"`
	RPM        Num    `json:"rpm"`
	Processing Num    `json:"processing"`
	Completed  Num    `json:"completed"`
	Failures   Num    `json:"failures"`
	Throttled  Num    `json:"throttled"`
	Requests   Num    `json:"requests"`
	TPM        struct {
		Context Num `json:"context"`
		Gen     Num `json:"gen"`
		Total   Num `json:"total"`
	} `json:"tpm"`
	E2E  pair `json:"e2e"`
	TTFT pair `json:"ttft"`
	TBT  pair `json:"tbt"`
	Util pair `json:"util"`
	// aoaibench's extra keys.
	OfferedRPM Num `json:"offered_rpm"`
	SendRPM    Num `json:"send_rpm"`
	TTFTP50    Num `json:"ttft_p50"`
	TTFTP99    Num `json:"ttft_p99"`
	TBTP50     Num `json:"tbt_p50"`
	TBTP99     Num `json:"tbt_p99"`
	E2EP50     Num `json:"e2e_p50"`
	E2EP99     Num `json:"e2e_p99"`
	Lag        struct {
		P99 Num `json:"p99"`
	} `json:"lag"`
}

const extrasNull = `{"offered_rpm":null,"send_rpm":null,"ttft_p50":null,"ttft_p99":null,"tbt_p50":null,"tbt_p99":null,"e2e_p50":null,"e2e_p99":null,"lag":{"p99":null}}`

// Record is one request of requests.jsonl.
type Record struct {
	ID           int64  `json:"id"`
	Class        string `json:"class"`
	Status       int    `json:"status"`
	Send         Num    `json:"send"`
	End          Num    `json:"end"`
	Lag          Num    `json:"lag"`
	TTFT         Num    `json:"ttft"`
	TPOT         Num    `json:"tpot"`
	E2E          Num    `json:"e2e"`
	PromptTokens int    `json:"prompt_tokens"`
	OutputTokens int    `json:"output_tokens"`
	Util         Num    `json:"util"`
	// Absent from the first release's records: NaN then.
	QuotaTokens     Num `json:"quota_tokens"`
	RemainingTokens Num `json:"remaining_tokens"`
	LimitTokens     Num `json:"limit_tokens"`
	MaxTokens       Num `json:"max_tokens"`
	ClientPrompt    Num `json:"client_prompt_tokens"`
	ServerPrompt    Num `json:"server_prompt_tokens"`
	Cached          Num `json:"cached_tokens"`
	Turn            Num `json:"turn"`
	LimitRequests   Num `json:"limit_requests"`
	// Warmup marks a request of the warmup: drawn over time, left out of
	// the figures, as the summary leaves it out.
	Warmup bool `json:"warmup"`
}

// Settings are the parts of run.json a report shows.
type Settings struct {
	StageEnds     []float64 // seconds from the start, of a ramp's stages
	Ramp          []pt      // a ramp of rates: (seconds, RPM) at its start and each stage's end
	Rate          Num       `json:"rate"`
	Clients       int       `json:"clients"`
	ContextTokens int       `json:"context_tokens"`
	MaxTokens     int       `json:"max_tokens"`
	Duration      Num       `json:"duration"`
	ShapeProfile  string    `json:"shape_profile"`
	Retry         string    `json:"retry"`
	// Warmup is the seconds at the start left out of the figures.
	Warmup float64
	// Endpoint is the API's kind (chat, responses, completions,
	// embeddings; "" for chat), Batch the inputs of an embeddings request.
	Endpoint string
	Batch    int
	// Turns is the most requests of a conversation (0 or 1: none).
	Turns int
	// SimQuota is the built-in simulator's quota, when it tested one.
	SimQuota Quota
}

// Quota is the limit a run was held to, a minute, and where it was
// learned: summary.json's quota, the endpoint's x-ratelimit-limit-*
// headers, or the simulator's settings. NaN: not known.
type Quota struct {
	TPM    float64
	RPM    float64
	Source string
}

// Run is one run's data: an output directory has a summary and records,
// a log has lines.
type Run struct {
	Name     string
	Path     string
	Target   string
	Settings Settings
	Summary  *metrics.Results
	Records  []Record
	Lines    []Line
	// Server is the inference server's own metrics (--server-metrics).
	Server []scrape.Sample
	// Caveats are summary.json's notes on its figures (a rate scaled to
	// a minute from a shorter window...), shown beside the headline.
	Caveats []string
	// Quota is summary.json's quota, when it has one.
	Quota Quota
}

// Read reads a run from an aoaibench output directory or a JSONL log.
func Read(path string) (*Run, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	name := filepath.Base(filepath.Clean(path))
	r := &Run{Name: name, Path: path, Settings: Settings{Rate: Num(math.NaN()), Duration: Num(math.NaN()), SimQuota: noQuota},
		Quota: noQuota}
	if !fi.IsDir() {
		if err := r.readLog(path); err != nil {
			return nil, err
		}
		return r, nil
	}
	if b, err := os.ReadFile(filepath.Join(path, "run.json")); err == nil {
		if err := r.readRunJSON(b, filepath.Join(path, "run.json")); err != nil {
			var pe *plan.Error
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, fmt.Errorf("run %s: run.json: %w", path, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(path, "summary.json"))
	if err != nil {
		return nil, fmt.Errorf("run %s: not an aoaibench output directory (no summary.json): %w", path, err)
	}
	if r.Summary, err = metrics.ReadResults(b); err != nil {
		return nil, fmt.Errorf("run %s: summary.json: %w", path, err)
	}
	// Keys of this release's summaries that metrics.Results may not
	// hold: read apart.
	var extra struct {
		Caveats []string        `json:"caveats"`
		Quota   json.RawMessage `json:"quota"`
	}
	json.Unmarshal(b, &extra)
	r.Caveats = extra.Caveats
	var c checker
	c.results("", r.Summary)
	if len(extra.Quota) > 0 {
		q := struct {
			TPM    Num    `json:"tpm"`
			RPM    Num    `json:"rpm"`
			Source string `json:"source"`
		}{TPM: Num(math.NaN()), RPM: Num(math.NaN())}
		if json.Unmarshal(extra.Quota, &q) == nil {
			c.num("quota.tpm", q.TPM.F(), kRate)
			c.num("quota.rpm", q.RPM.F(), kRate)
			r.Quota = Quota{TPM: q.TPM.F(), RPM: q.RPM.F(), Source: q.Source}
			if r.Quota.Source == "" {
				r.Quota.Source = "summary.json"
			}
		}
	}
	if err := c.errIn(filepath.Join(path, "summary.json"), b); err != nil {
		return nil, err
	}
	if err := r.readRecords(filepath.Join(path, "requests.jsonl")); err != nil {
		return nil, err
	}
	if err := r.readServer(filepath.Join(path, "server-metrics.jsonl")); err != nil {
		return nil, err
	}
	// A log written beside the directory (the lab's TEST_NAME.log) adds
	// the live lines; one with values no run has is refused as any file.
	if log := filepath.Clean(path) + ".log"; fileExists(log) {
		if err := r.readLog(log); err != nil {
			var pe *plan.Error
			if errors.As(err, &pe) {
				return nil, err
			}
		}
	}
	return r, nil
}

// runJSON is run.json: the plan (schema 1), or the first release's
// settings (schema-less).
type runJSON struct {
	Schema   int `json:"schema"`
	Target   any `json:"target"`
	Settings struct {
		Rate         Num    `json:"rate"`
		Clients      int    `json:"clients"`
		Duration     Num    `json:"duration"`
		ShapeProfile string `json:"shape_profile"`
		Retry        string `json:"retry"`
	} `json:"settings"`
	ContextTokens int `json:"context_tokens"`
	MaxTokens     int `json:"max_tokens"`
	plan.Plan
}

// readRunJSON reads the settings a report shows from run.json: the plan
// (schema 1) or the first release's settings (schema-less).
func (r *Run) readRunJSON(b []byte, file string) error {
	var rj runJSON
	rj.Settings.Rate, rj.Settings.Duration = Num(math.NaN()), Num(math.NaN())
	if err := json.Unmarshal(b, &rj); err != nil {
		return err
	}
	if err := checkRunJSON(&rj.Plan, rj.Schema, rj.Settings.Rate.F(), rj.Settings.Duration.F(), rj.Settings.Clients, rj.ContextTokens, rj.MaxTokens, file, b); err != nil {
		return err
	}
	if rj.Schema == 0 {
		if s, ok := rj.Target.(string); ok {
			r.Target = s
		}
		st := rj.Settings
		r.Settings = Settings{Rate: st.Rate, Clients: st.Clients, Duration: st.Duration, ShapeProfile: st.ShapeProfile,
			Retry: st.Retry, ContextTokens: rj.ContextTokens, MaxTokens: rj.MaxTokens}
		return nil
	}
	// run.json of a plan: rj's own Target (of the first release) hides
	// the plan's, which plan.RunFile reads.
	var rf plan.RunFile
	if err := json.Unmarshal(b, &rf); err != nil {
		return err
	}
	p := rf.Plan
	r.Target = targetOf(rf.Described, p.Target)
	r.Settings = settingsOf(p)
	return nil
}

// targetOf says what a run was sent to: run.json's description, else
// the plan's URL, else the simulator and its first deployment.
func targetOf(desc string, t plan.Target) string {
	if desc != "" {
		return desc
	}
	if t.URL != "" {
		return t.URL
	}
	target := "the built-in simulator"
	if len(t.Sim) > 0 {
		target += ", " + t.Sim[0].Describe()
	}
	return target
}

// settingsOf are the settings a report shows of a plan: its load, its
// lengths (none where they vary by request), its stages and the
// simulator's quota.
func settingsOf(p plan.Plan) Settings {
	s := Settings{Rate: Num(math.NaN()), Clients: p.Load.Clients, Duration: Num(p.Load.Duration.Seconds()),
		ShapeProfile: p.Workload.Shape, Retry: string(p.Load.Retry), ContextTokens: p.Workload.ContextTokens, MaxTokens: p.Workload.MaxTokens,
		Warmup: p.Load.Warmup.Seconds(), Endpoint: string(p.Workload.Endpoint), Batch: p.Workload.EmbeddingBatch, Turns: p.Workload.Turns, SimQuota: simQuota(p.Target)}
	if s.Endpoint == "embeddings" {
		// An embeddings request asks for no output.
		s.MaxTokens = 0
		s.Batch = max(s.Batch, 1)
	}
	if p.Load.Rate != nil {
		s.Rate = Num(*p.Load.Rate)
	}
	if w := p.Workload; w.Synthetic != "" || w.Dataset != nil || p.Load.Trace != nil {
		// Lengths vary by request: the traffic charts show them.
		s.ContextTokens, s.MaxTokens = 0, 0
	}
	if p.Load.Duration == 0 {
		s.Duration = Num(math.NaN())
	}
	s.Ramp, s.StageEnds = stagesOf(p.Load)
	return s
}

// simQuota is the simulator's quota, as it enforces it (a standard
// deployment's TPM and its RPM per 1,000 TPM); not known for an
// endpoint, or a provisioned deployment.
func simQuota(t plan.Target) Quota {
	if t.URL == "" && len(t.Sim) > 0 {
		if d := t.Sim[0]; d.Type != "provisioned" && d.TPM > 0 {
			q := Quota{TPM: float64(d.TPM), RPM: nan, Source: "simulator"}
			if d.RPMPer1K > 0 {
				q.RPM = float64(d.TPM) / 1000 * d.RPMPer1K
			}
			return q
		}
	}
	return noQuota
}

// stagesOf are a staged load's rate over time (none when its stages are
// client counts) and its stages' ends, in seconds.
func stagesOf(l plan.Load) (ramp []pt, ends []float64) {
	t := 0.0
	if len(l.Stages) > 0 && !l.StageClients {
		ramp = []pt{{0, l.StartRate}}
	}
	for _, st := range l.Stages {
		t += st.Duration.Seconds()
		ends = append(ends, t)
		if !l.StageClients {
			ramp = append(ramp, pt{t, st.Target})
		}
	}
	return ramp, ends
}

// noQuota is a quota not known.
var noQuota = Quota{TPM: math.NaN(), RPM: math.NaN()}

// fileExists reports whether p is a file.
func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func (r *Run) readRecords(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", r.Path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	// A line with --log-request-content holds a prompt and an answer.
	sc.Buffer(nil, 64<<20)
	// A crash can leave the last line half-written: a line that does not
	// parse is skipped when it is the last, refused when one follows it.
	var bad error
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if bad != nil {
			return bad
		}
		rec := Record{Send: Num(math.NaN()), End: Num(math.NaN()), Lag: Num(math.NaN()), TTFT: Num(math.NaN()), TPOT: Num(math.NaN()), E2E: Num(math.NaN()),
			Util: Num(math.NaN()), QuotaTokens: Num(math.NaN()), RemainingTokens: Num(math.NaN()), LimitTokens: Num(math.NaN()),
			MaxTokens: Num(math.NaN()), ClientPrompt: Num(math.NaN()), ServerPrompt: Num(math.NaN()), Cached: Num(math.NaN()), Turn: Num(math.NaN()),
			LimitRequests: Num(math.NaN())}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			bad = plan.Errorf("%s:%d: not a record: %v", path, n, err)
			continue
		}
		var c checker
		c.record(&rec)
		if err := c.err(path, n); err != nil {
			return err
		}
		r.Records = append(r.Records, rec)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("run %s: requests.jsonl: %w", r.Path, err)
	}
	return nil
}

// readLog reads live lines; each line's JSON object may follow a logging
// prefix, and lines that are not live lines are skipped.
func (r *Run) readLog(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var lines []Line
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		i := bytes.IndexByte(b, '{')
		if i < 0 || !bytes.Contains(b, []byte(`"run_seconds"`)) {
			continue
		}
		var l Line
		// aoaibench's extra keys are absent from the original's lines:
		// absent is no value, not zero.
		json.Unmarshal([]byte(extrasNull), &l)
		l.RunSeconds = Num(math.NaN())
		if err := json.Unmarshal(b[i:], &l); err != nil {
			// A log holds other text, some of it may look like a line.
			continue
		}
		var c checker
		c.line(&l)
		if err := c.err(path, n); err != nil {
			return err
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	if len(lines) == 0 && r.Summary == nil {
		return fmt.Errorf("run %s: no JSONL live lines in it (want an aoaibench --output-dir or a log of -f jsonl output)", path)
	}
	r.Lines = append(r.Lines, lines...)
	return nil
}

// checkRunJSON checks the numbers of run.json a report shows or draws:
// the rate, the duration, the ramp's stages, the lengths asked for.
func checkRunJSON(p *plan.Plan, schema int, rate, duration float64, clients, context, maxTok int, file string, b []byte) error {
	var c checker
	if schema == 0 {
		c.num("settings.rate", rate, kRate)
		c.num("settings.duration", duration, kSeconds)
		c.must("settings.clients", float64(clients), kCount)
		c.must("context_tokens", float64(context), kTokens)
		c.must("max_tokens", float64(maxTok), kTokens)
		return c.errIn(file, b)
	}
	if p.Load.Rate != nil {
		c.must("load.rate", *p.Load.Rate, kRate)
	}
	c.must("load.clients", float64(p.Load.Clients), kCount)
	c.must("load.start_rate", p.Load.StartRate, kRate)
	c.must("workload.context_tokens", float64(p.Workload.ContextTokens), kTokens)
	c.must("workload.max_tokens", float64(p.Workload.MaxTokens), kTokens)
	t := 0.0
	for i, st := range p.Load.Stages {
		c.must(fmt.Sprintf("load.stages[%d].target", i), st.Target, kRate)
		t += st.Duration.Seconds()
		c.must(fmt.Sprintf("load.stages[%d].duration", i), t, kSeconds)
	}
	return c.errIn(file, b)
}
