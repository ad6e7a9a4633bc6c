// Package merge combines the output directories of a plan's shards into
// the output directory of the whole run: the records of every shard on
// one clock, the distributions merged exactly from the shards' HDR
// histograms, the counts added up, the rates over the union of the
// shards' dispatch windows. A report then reads it as any run.
package merge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// runFile is run.json: a plan and what the run resolved.
type runFile struct {
	plan.Plan
	sink.RunInfo
}

// shard is one shard's output directory, read.
type shard struct {
	dir     string
	run     runFile
	start   time.Time
	results *metrics.Results
	hists   *metrics.HistFile
}

// Outcome is what a merge made.
type Outcome struct {
	Results *metrics.Results
	Shards  int
	Records int64
}

// Dirs merges the shards' output directories dirs into out. Every shard
// of the plan must be there once, and the plans must be the same but for
// the shard; errors are *plan.Error (bad input) naming the directory and
// what is wrong.
func Dirs(dirs []string, out string) (*Outcome, error) {
	if len(dirs) == 0 {
		return nil, plan.Errorf("merge: give the shards' output directories")
	}
	var shards []*shard
	for _, d := range dirs {
		s, err := read(d)
		if err != nil {
			return nil, err
		}
		shards = append(shards, s)
	}
	if err := check(shards); err != nil {
		return nil, err
	}
	// The merged run goes to a directory of its own: never over a shard
	// (it would be read while written) or an earlier run.
	for _, f := range []string{"run.json", "summary.json", "requests.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			return nil, plan.Errorf("merge -o %s holds a run already (%s): give a new directory", out, f)
		}
	}
	for _, s := range shards {
		if h, ok := s.hists.Latency["ttft"]; !ok || h == "" && s.results.Latency["ttft"].Count > 0 {
			return nil, plan.Errorf("merge: %s/histograms.json has no TTFT histogram for its %d TTFTs", s.dir, s.results.Latency["ttft"].Count)
		}
	}
	slices.SortFunc(shards, func(a, b *shard) int { return a.run.Load.Shard.Index - b.run.Load.Shard.Index })

	parts := make([]metrics.Part, len(shards))
	for i, s := range shards {
		parts[i] = metrics.Part{Results: s.results, Hists: s.hists}
	}
	p := shards[0].run.Plan
	res, sum, err := metrics.Merge(parts, metrics.SLO{TTFT: p.SLO.TTFT.D(), TPOT: p.SLO.TPOT.D(), E2E: p.SLO.E2E.D()})
	if err != nil {
		return nil, plan.Errorf("merge: %v", err)
	}
	n := len(shards)
	res.Shard = &metrics.ShardResults{Count: n, StartAt: p.Load.StartAt, Skew: metrics.Num(math.NaN())}
	skew := 0.0
	for _, s := range shards {
		res.Shard.Merged = append(res.Shard.Merged, s.run.Load.Shard.Index)
		if r := s.results.Shard; r != nil {
			skew = math.Max(skew, r.Skew.F())
		}
	}
	res.Shard.Skew = metrics.Num(skew) // the latest shard's
	// Shards that did not run together, or not to the end, do not add up
	// to the plan's load: say so, as a single run says it fell behind.
	first, last := shards[0].start, shards[0].start
	for _, s := range shards {
		if s.start.Before(first) {
			first = s.start
		}
		if s.start.After(last) {
			last = s.start
		}
		if r := s.results.Shard; r != nil && r.Skew.F() > 1 {
			res.Invalid = append(res.Invalid, fmt.Sprintf("shard %d started %.1f s after --start-at", s.run.Load.Shard.Index, r.Skew.F()))
		}
		if strings.Contains(s.results.Stopped, "signal") {
			res.Invalid = append(res.Invalid, fmt.Sprintf("shard %d was interrupted", s.run.Load.Shard.Index))
		}
	}
	if d := last.Sub(first); d > time.Second {
		res.Invalid = append(res.Invalid, fmt.Sprintf("the shards started up to %.1f s apart (--start-at starts them together)", d.Seconds()))
	}
	res.Valid = len(res.Invalid) == 0
	for _, th := range p.SLO.Thresholds {
		res.SLO = append(res.SLO, th.Check(res))
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, plan.Errorf("merge -o: %v", err)
	}
	start := shards[0].start
	for _, s := range shards {
		if s.start.Before(start) {
			start = s.start
		}
	}
	records, err := writeRecords(filepath.Join(out, "requests.jsonl"), shards, start)
	if err != nil {
		return nil, err
	}
	rf := shards[0].run
	rf.Load.Shard = nil
	rf.Command = append([]string{"aoaibench", "merge", "-o", out}, dirs...)
	rf.Start = start.UTC().Format(time.RFC3339Nano)
	rf.Output.Dir = out
	if err := writeJSON(filepath.Join(out, "run.json"), rf); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(out, "summary.json"), res); err != nil {
		return nil, err
	}
	hf, err := sum.HistFile()
	if err != nil {
		return nil, fmt.Errorf("histograms.json: %w", err)
	}
	if err := writeJSON(filepath.Join(out, "histograms.json"), hf); err != nil {
		return nil, err
	}
	return &Outcome{Results: res, Shards: n, Records: records}, nil
}

// read reads one shard's directory.
func read(dir string) (*shard, error) {
	s := &shard{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, plan.Errorf("merge: %s: %v (not an output directory?)", dir, errors.Unwrap(err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.run); err != nil {
		return nil, plan.Errorf("merge: %s/run.json: %v", dir, err)
	}
	if s.start, err = time.Parse(time.RFC3339Nano, s.run.Start); err != nil {
		return nil, plan.Errorf("merge: %s/run.json: start %q: %v", dir, s.run.Start, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, plan.Errorf("merge: %s: no summary.json: the run did not finish", dir)
	}
	if s.results, err = metrics.ReadResults(b); err != nil {
		return nil, plan.Errorf("merge: %s/summary.json: %v", dir, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "histograms.json"))
	if err != nil {
		return nil, plan.Errorf("merge: %s: no histograms.json: the run did not finish", dir)
	}
	s.hists = &metrics.HistFile{}
	if err := json.Unmarshal(b, s.hists); err != nil {
		return nil, plan.Errorf("merge: %s/histograms.json: %v", dir, err)
	}
	if s.run.Load.Shard == nil {
		return nil, plan.Errorf("merge: %s is not a shard (its run has no --shard)", dir)
	}
	return s, nil
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
		return plan.Errorf("merge: %d of %d shards given; missing shard %s", len(seen), n, strings.Join(missing, ", "))
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

// writeRecords writes every shard's records to path, their times moved
// to the merged run's clock (seconds from start).
func writeRecords(path string, shards []*shard, start time.Time) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, plan.Errorf("merge -o: %v", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	var n int64
	for _, s := range shards {
		in, err := os.Open(filepath.Join(s.dir, "requests.jsonl"))
		if err != nil {
			f.Close()
			return 0, plan.Errorf("merge: %s: %v", s.dir, errors.Unwrap(err))
		}
		shift := s.start.Sub(start).Seconds()
		r := bufio.NewReaderSize(in, 1<<16)
		for line := 1; ; line++ {
			b, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(b)) > 0 {
				out, ok := shiftTimes(b, shift)
				if !ok {
					in.Close()
					f.Close()
					return 0, plan.Errorf("merge: %s/requests.jsonl:%d: not a record", s.dir, line)
				}
				w.Write(out)
				if out[len(out)-1] != '\n' {
					w.WriteByte('\n')
				}
				n++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				in.Close()
				f.Close()
				return 0, fmt.Errorf("merge: %s/requests.jsonl: %w", s.dir, err)
			}
		}
		in.Close()
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("merge: writing requests.jsonl: %w", err)
	}
	return n, f.Close()
}

// shiftTimes adds shift seconds to a record's moments (sched, send, end:
// seconds from its run's start); durations stay as they are. It reports
// false for a line that is not a record object.
func shiftTimes(b []byte, shift float64) ([]byte, bool) {
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	if shift == 0 {
		return b, true
	}
	out := make([]byte, 0, len(b)+16)
	rest := b
	for _, key := range []string{`"sched":`, `"send":`, `"end":`} {
		i := bytes.Index(rest, []byte(key))
		if i < 0 || (rest[i-1] != ',' && rest[i-1] != '{') {
			continue
		}
		j := i + len(key)
		k := j
		for k < len(rest) && strings.IndexByte("0123456789.-+eE", rest[k]) >= 0 {
			k++
		}
		out = append(out, rest[:j]...)
		if v, err := strconv.ParseFloat(string(rest[j:k]), 64); err == nil {
			out = strconv.AppendFloat(out, v+shift, 'f', 6, 64)
		} else {
			out = append(out, rest[j:k]...) // null: absent
		}
		rest = rest[k:]
	}
	return append(out, rest...), true
}

func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := sink.WriteFileAtomic(path, js); err != nil {
		return plan.Errorf("merge -o: %v", err)
	}
	return nil
}
