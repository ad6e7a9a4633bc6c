package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/capacity"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// Capacity is a sweep or a search: its steps' figures against the rate
// offered.
type Capacity struct {
	Name, Path string
	Kind       string // sweep or search
	Clients    bool   // the steps are client counts, not rates
	Objectives string
	MaxRate    float64 // a search's answer, NaN for a sweep or none
	// Bound says what bounds a search's answer (search.json's "bound").
	Bound  string
	Probes []capacity.Probe
	// Steps are what the report adds to each probe, in the probes' order.
	Steps []Step
	// Quota is the limit the steps were held to, when known (from the
	// steps' own directories).
	Quota Quota
}

// Step is what a report knows of a probe beyond capacity.Probe: whether
// it was judged against objectives (a step that was not is "not judged",
// never "pass"), why it failed, and its summary's caveats.
type Step struct {
	Judged  bool
	Why     []string
	Caveats []string
}

// Verdict is a step's result for people: "pass", "fail: why", or "not
// judged" (no objectives), with why its figures are not valid.
func (c *Capacity) Verdict(i int) string {
	p, s := c.Probes[i], c.step(i)
	var v string
	switch {
	case !s.Judged:
		v = "not judged"
		if r := p.Results; r != nil && !r.Valid && len(r.Invalid) > 0 {
			v += "; NOT VALID: " + strings.Join(r.Invalid, "; ")
		}
	case p.Passed:
		v = "pass"
	case len(s.Why) > 0:
		v = "fail: " + strings.Join(s.Why, "; ")
	default:
		v = "fail"
	}
	return v
}

// short is a step's result in a word or two: pass, fail, not judged, and
// NOT VALID when its figures do not describe its rate.
func (c *Capacity) short(i int) string {
	p, s := c.Probes[i], c.step(i)
	v := "not judged"
	switch {
	case s.Judged && p.Passed:
		v = "pass"
	case s.Judged:
		v = "fail"
	}
	if r := p.Results; r != nil && !r.Valid && len(r.Invalid) > 0 {
		v += "; NOT VALID"
	}
	return v
}

// step is what the report knows of probe i (judged, when a Capacity was
// made by hand without Steps).
func (c *Capacity) step(i int) Step {
	if i < len(c.Steps) {
		return c.Steps[i]
	}
	return Step{Judged: true, Why: c.Probes[i].Reasons}
}

// IsCapacity reports whether path is a sweep's or a search's directory.
func IsCapacity(path string) bool {
	for _, f := range []string{"sweep.json", "search.json"} {
		if fileExists(filepath.Join(path, f)) {
			return true
		}
	}
	return false
}

// Kind says what a path is, for a message: "a sweep directory", "a
// search directory", "a run directory", "a JSONL log", or what it is not.
func Kind(path string) string {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "not found"
	case IsSizing(path):
		return "a size answer"
	case !fi.IsDir():
		return "a JSONL log"
	case fileExists(filepath.Join(path, "search.json")):
		return "a search directory"
	case fileExists(filepath.Join(path, "sweep.json")):
		return "a sweep directory"
	case fileExists(filepath.Join(path, "summary.json")):
		return "a run directory"
	}
	return "a directory with no run in it"
}

// capacityFile is what the report reads of sweep.json or search.json:
// the search's file, with a sweep's clients.
type capacityFile struct {
	capacity.SearchFile
	Clients bool
}

// readCapacityFile decodes sweep.json or search.json (named f) into its
// type.
func readCapacityFile(f string, b []byte) (capacityFile, error) {
	v := capacityFile{SearchFile: capacity.SearchFile{MaxRate: Num(math.NaN())}}
	if f == "sweep.json" {
		var sw capacity.SweepFile
		if err := json.Unmarshal(b, &sw); err != nil {
			return v, err
		}
		v.Kind, v.Objectives, v.Probes, v.Clients = sw.Kind, sw.Objectives, sw.Probes, sw.Clients
		return v, nil
	}
	return v, json.Unmarshal(b, &v.SearchFile)
}

// ReadCapacity reads a sweep's or a search's directory.
func ReadCapacity(path string) (*Capacity, error) {
	name := filepath.Base(filepath.Clean(path))
	for _, f := range []string{"search.json", "sweep.json"} {
		b, err := os.ReadFile(filepath.Join(path, f))
		if err != nil {
			continue
		}
		v, err := readCapacityFile(f, b)
		if err != nil {
			return nil, fmt.Errorf("run %s: %s: %w", path, f, err)
		}
		// This release's keys of a step, which capacity.Probe may not
		// hold.
		var extra struct {
			Probes []struct {
				Judged *bool    `json:"judged"`
				Why    []string `json:"why"`
			} `json:"probes"`
		}
		json.Unmarshal(b, &extra)
		var c checker
		c.num("max_rate", v.MaxRate.F(), kRate)
		for i, p := range v.Probes {
			if p.Results == nil {
				return nil, plan.Errorf("%s: probe %d (at %g) has no results", filepath.Join(path, f), i+1, p.Rate)
			}
			c.must(fmt.Sprintf("probes[%d].rate", i), p.Rate, kRate)
			c.results(fmt.Sprintf("probes[%d].results.", i), p.Results)
		}
		if err := c.errIn(filepath.Join(path, f), b); err != nil {
			return nil, err
		}
		if v.Kind == "" {
			v.Kind = strings.TrimSuffix(f, ".json")
		}
		cp := &Capacity{Name: name, Path: path, Kind: v.Kind, Clients: v.Clients, Objectives: v.Objectives, MaxRate: v.MaxRate.F(),
			Bound: v.Bound, Probes: v.Probes, Quota: noQuota}
		// Files before "judged": a search judges every step; a sweep
		// judged them when it had objectives, whose checks each step's
		// results keep.
		judged := v.Kind == "search"
		for _, p := range v.Probes {
			judged = judged || len(p.Results.SLO) > 0
		}
		// Each step directory is read once, and at most maxStepDirs of
		// them: the file names them, and may name one a thousand times.
		steps := map[string]*Run{}
		for i, p := range v.Probes {
			st := Step{Judged: judged, Why: p.Reasons}
			if i < len(extra.Probes) {
				if j := extra.Probes[i].Judged; j != nil {
					st.Judged = *j
				}
				if w := extra.Probes[i].Why; len(w) > 0 {
					st.Why = w
				}
			}
			// The step's own directory holds its caveats and the quota
			// the endpoint announced: where sweep.json names it, or
			// beside sweep.json when the directory moved.
			if run := readStep(path, p.Dir, steps); run != nil {
				st.Caveats = run.Caveats
				if q := run.quota(); math.IsNaN(cp.Quota.TPM) && math.IsNaN(cp.Quota.RPM) {
					cp.Quota = q
				}
			}
			cp.Steps = append(cp.Steps, st)
		}
		return cp, nil
	}
	return nil, fmt.Errorf("run %s: no sweep.json or search.json", path)
}

// maxStepDirs bounds the step directories a capacity report reads.
const maxStepDirs = 100

// readStep reads a step's directory, or nil when it is not there or not
// readable: its figures are in sweep.json; the directory adds notes.
// read holds the directories read so far (nil for one that was not
// readable).
func readStep(capDir, dir string, read map[string]*Run) *Run {
	if dir == "" {
		return nil
	}
	if r, ok := read[dir]; ok {
		return r
	}
	if len(read) >= maxStepDirs {
		return nil
	}
	read[dir] = nil
	for _, d := range []string{filepath.Join(capDir, filepath.Base(dir)), dir} {
		if r, err := Read(d); err == nil {
			read[dir] = r
			return r
		}
	}
	return nil
}

// unit names a capacity's steps: offered RPM or clients.
func (c *Capacity) unit() string {
	if c.Clients {
		return "clients"
	}
	return "offered RPM"
}

// answer says a search's answer, and what bounds it.
func (c *Capacity) answer() string {
	if c.Kind != "search" {
		return ""
	}
	if math.IsNaN(c.MaxRate) {
		return fmt.Sprintf("No rate searched met %s.", c.Objectives)
	}
	return fmt.Sprintf("Highest rate meeting %s: %s RPM.", c.Objectives, strconv.FormatFloat(c.MaxRate, 'f', -1, 64))
}

// aboveQuota says when a search's answer is above the limit the endpoint
// announced (or the simulator enforces): a rate above it is never a
// capacity answer, however the steps passed (a step shorter than the
// quota's minute ends before the quota binds).
func (c *Capacity) aboveQuota() []string {
	if math.IsNaN(c.MaxRate) {
		return nil
	}
	var out []string
	q := c.Quota
	rate := strconv.FormatFloat(c.MaxRate, 'f', -1, 64)
	if !math.IsNaN(q.RPM) && c.MaxRate > q.RPM {
		out = append(out, fmt.Sprintf("%s RPM is above the %s RPM limit (%s): not a rate this deployment sustains.", rate, grouped(q.RPM, 0), quotaSource(q, "requests")))
	}
	for _, p := range c.Probes {
		if p.Rate == c.MaxRate && !math.IsNaN(q.TPM) && p.Results.TPM.Quota.F() > q.TPM*1.001 {
			out = append(out, fmt.Sprintf("At %s RPM, %s TPM were counted against a quota of %s TPM (%s): above the limit, so not a rate this deployment sustains; steps shorter than the quota's minute end before it binds.",
				rate, grouped(p.Results.TPM.Quota.F(), 0), grouped(q.TPM, 0), quotaSource(q, "tokens")))
			break
		}
	}
	return out
}

// stepCaveats are the steps' caveats, each said once: "every step: ..."
// when all steps share it, else naming the steps; a caveat that is one of
// its step's failure reasons is said there already.
func (c *Capacity) stepCaveats() []string {
	var order []string
	steps := map[string][]string{}
	for i, st := range c.Steps {
		for _, cv := range st.Caveats {
			said := false
			if i < len(c.Probes) {
				for _, r := range c.Probes[i].Reasons {
					said = said || strings.Contains(r, cv)
				}
			}
			if said {
				continue
			}
			if _, ok := steps[cv]; !ok {
				order = append(order, cv)
			}
			steps[cv] = append(steps[cv], strconv.Itoa(i+1))
		}
	}
	var out []string
	for _, cv := range order {
		who := "steps " + strings.Join(steps[cv], ", ")
		switch {
		case len(steps[cv]) == len(c.Steps) && len(c.Steps) > 1:
			who = "every step"
		case len(steps[cv]) == 1:
			who = "step " + steps[cv][0]
		}
		out = append(out, who+": "+cv)
	}
	return out
}
