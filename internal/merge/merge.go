// Package merge combines the output directories of a plan's shards into
// the output directory of the whole run: the records of every shard on
// one clock, the distributions merged exactly from the shards' HDR
// histograms, the counts added up, the rates over the union of the
// shards' dispatch windows. A report then reads it as any run.
//
// A shard is not taken at its word: its records are read and held to its
// summary (every request of the shard once, the counts by class, the
// tokens, the histograms' counts), its histograms to its summary, its
// start to the plan's --start-at, and every figure the merge adds or
// turns into a time is range-checked. What does not add up is refused,
// naming the shard's file and the field, before anything is written.
package merge

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aoaibench/aoaibench/internal/atomicfile"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// Outcome is what a merge made.
type Outcome struct {
	Results *metrics.Results
	Shards  int
	Records int64
}

// Dirs merges the shards' output directories dirs into out. Every shard
// of the plan must be there once, and the plans must be the same but for
// the shard; each shard's records, summary and histograms must add up,
// and its start must be the plan's. Errors are *plan.Error (bad input)
// naming the directory, the file and what is wrong; nothing is written
// then.
func Dirs(dirs []string, out string) (*Outcome, error) {
	return mergeAt(dirs, out, time.Now())
}

// mergeAt is Dirs on a machine whose clock says now.
func mergeAt(dirs []string, out string, now time.Time) (*Outcome, error) {
	if len(dirs) == 0 {
		return nil, plan.Errorf("merge: give the shards' output directories")
	}
	shards, err := readShards(dirs, now)
	if err != nil {
		return nil, err
	}
	if err := check(shards); err != nil {
		return nil, err
	}
	if err := refuseRun(out); err != nil {
		return nil, err
	}
	if err := checkRecords(shards); err != nil {
		return nil, err
	}
	slices.SortFunc(shards, func(a, b *shard) int { return a.run.Load.Shard.Index - b.run.Load.Shard.Index })
	res, sum, err := mergeFigures(shards)
	if err != nil {
		return nil, err
	}
	records, err := writeRun(out, dirs, shards, res, sum)
	if err != nil {
		return nil, err
	}
	return &Outcome{Results: res, Shards: len(shards), Records: records}, nil
}

// readShards reads every shard's directory, in the order given.
func readShards(dirs []string, now time.Time) ([]*shard, error) {
	var shards []*shard
	for _, d := range dirs {
		s, err := read(d, now)
		if err != nil {
			return nil, err
		}
		shards = append(shards, s)
	}
	return shards, nil
}

// refuseRun refuses an output directory that holds a run: the merged run
// goes to a directory of its own, never over a shard (it would be read
// while written) or an earlier run.
func refuseRun(out string) error {
	for _, f := range []string{"run.json", "summary.json", "requests.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			return plan.Errorf("merge -o %s holds a run already (%s): give a new directory", out, f)
		}
	}
	return nil
}

// mergeFigures merges the shards' figures, in the order of their index,
// into the whole run's results and summary: the shards' part, the
// verdict and the SLO's objectives.
func mergeFigures(shards []*shard) (*metrics.Results, *metrics.Summary, error) {
	parts := make([]metrics.Part, len(shards))
	for i, s := range shards {
		parts[i] = metrics.Part{Results: s.results, Hists: s.hists}
	}
	p := shards[0].run.Plan
	res, sum, err := metrics.Merge(parts, metrics.SLO{TTFT: p.SLO.TTFT.D(), TPOT: p.SLO.TPOT.D(), E2E: p.SLO.E2E.D()})
	if err != nil {
		return nil, nil, plan.Errorf("merge: %v", err)
	}
	res.Shard = &metrics.ShardResults{Count: len(shards), StartAt: p.Load.StartAt, Skew: metrics.Num(math.NaN())}
	skew := 0.0
	for _, s := range shards {
		res.Shard.Merged = append(res.Shard.Merged, s.run.Load.Shard.Index)
		if r := s.results.Shard; r != nil {
			skew = math.Max(skew, r.Skew.F())
		}
	}
	res.Shard.Skew = metrics.Num(skew) // the latest shard's
	res.Invalid = append(res.Invalid, invalid(shards)...)
	res.Valid = len(res.Invalid) == 0
	for _, th := range p.SLO.Thresholds {
		res.SLO = append(res.SLO, res.Check(th))
	}
	return res, sum, nil
}

// invalid says why shards that did not run together, or not to the end,
// do not add up to the plan's load, as a single run says it fell behind.
func invalid(shards []*shard) []string {
	var why []string
	first, last := shards[0].start, shards[0].start
	for _, s := range shards {
		if s.start.Before(first) {
			first = s.start
		}
		if s.start.After(last) {
			last = s.start
		}
		if r := s.results.Shard; r != nil && r.Skew.F() > 1 {
			why = append(why, fmt.Sprintf("shard %d started %.1f s after --start-at", s.run.Load.Shard.Index, r.Skew.F()))
		}
		if s.results.Stopped == metrics.StopSignal {
			why = append(why, fmt.Sprintf("shard %d was interrupted", s.run.Load.Shard.Index))
		}
	}
	if d := last.Sub(first); d > time.Second {
		why = append(why, fmt.Sprintf("the shards started up to %.1f s apart (--start-at starts them together)", d.Seconds()))
	}
	return why
}

// writeRun writes the merged run to out: its records on the clock of the
// earliest shard's start, then run.json (the plan, unsharded, and the
// merge's command), summary.json and histograms.json. It returns the
// records written.
func writeRun(out string, dirs []string, shards []*shard, res *metrics.Results, sum *metrics.Summary) (int64, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, plan.Errorf("merge -o: %v", err)
	}
	start := shards[0].start
	for _, s := range shards {
		if s.start.Before(start) {
			start = s.start
		}
	}
	records, err := writeRecords(filepath.Join(out, "requests.jsonl"), shards, start)
	if err != nil {
		return 0, err
	}
	rf := shards[0].run
	rf.Load.Shard = nil
	rf.Command = append([]string{"aoaibench", "merge", "-o", out}, dirs...)
	rf.Start = start.UTC().Format(time.RFC3339Nano)
	rf.Output.Dir = out
	if err := writeJSON(filepath.Join(out, "run.json"), rf); err != nil {
		return 0, err
	}
	if err := writeJSON(filepath.Join(out, "summary.json"), res); err != nil {
		return 0, err
	}
	hf, err := sum.HistFile()
	if err != nil {
		return 0, fmt.Errorf("histograms.json: %w", err)
	}
	if err := writeJSON(filepath.Join(out, "histograms.json"), hf); err != nil {
		return 0, err
	}
	return records, nil
}

// check refuses a set of shards that is not one plan's, whole.
func check(shards []*shard) error {
	n := shards[0].run.Load.Shard.Count
	seen := map[int]string{}
	for _, s := range shards {
		sh := s.run.Load.Shard
		if sh.Count != n {
			return plan.Errorf("merge: %s is shard %d of %d, %s of %d", s.dir, sh.Index, sh.Count, shards[0].dir, n)
		}
		if d, dup := seen[sh.Index]; dup {
			return plan.Errorf("merge: %s and %s are both shard %d of %d", d, s.dir, sh.Index, n)
		}
		seen[sh.Index] = s.dir
		if path, a, b := differ(comparable(shards[0].run.Plan), comparable(s.run.Plan)); path != "" {
			return plan.Errorf("merge: %s and %s ran different plans: %s is %s in one and %s in the other", shards[0].dir, s.dir, path, a, b)
		}
	}
	if len(seen) != n {
		var missing []string
		for i := range n {
			if _, ok := seen[i]; !ok {
				missing = append(missing, strconv.Itoa(i))
			}
		}
		if len(missing) > 10 {
			missing = append(missing[:10], fmt.Sprintf("... (%d in all)", n-len(seen)))
		}
		return plan.Errorf("merge: %d of %d shards given; missing shard %s", len(seen), n, strings.Join(missing, ", "))
	}
	first, last := shards[0], shards[0]
	for _, s := range shards {
		if s.start.Before(first.start) {
			first = s
		}
		if s.start.After(last.start) {
			last = s
		}
	}
	if d := last.start.Sub(first.start); d > maxLate {
		return plan.Errorf("merge: %s started %.1f h after %s: not one run's shards", last.dir, d.Hours(), first.dir)
	}
	return nil
}

// checkRecords reads every shard's records and holds them to its
// summary, before anything is written; as many shards at once as there
// are CPUs, since reading them is the merge's work. The refusal is the
// first shard's in the order given.
func checkRecords(shards []*shard) error {
	errs := make([]error, len(shards))
	cpus := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, s := range shards {
		wg.Go(func() {
			cpus <- struct{}{}
			defer func() { <-cpus }()
			t, err := s.checkRecords()
			if err == nil {
				err = s.compare(t)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// comparable is a plan as JSON values, without what differs between a
// plan's shards: the shard and where its output went.
func comparable(p plan.Plan) map[string]any {
	p.Load.Shard = nil
	p.Output = plan.Output{}
	b, _ := json.Marshal(p)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// differ returns the first path at which a and b differ, with both
// values, or "" when they are the same.
func differ(a, b any) (path, va, vb string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if p, x, y := differ(am[k], bm[k]); p != "" {
				return strings.TrimSuffix(k+"."+p, "."), x, y
			}
		}
		return "", "", ""
	}
	if reflect.DeepEqual(a, b) {
		return "", "", ""
	}
	show := func(v any) string {
		if v == nil {
			return "unset"
		}
		js, _ := json.Marshal(v)
		return string(js)
	}
	return ".", show(a), show(b)
}

func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := atomicfile.Write(path, js); err != nil {
		return plan.Errorf("merge -o: %v", err)
	}
	return nil
}
