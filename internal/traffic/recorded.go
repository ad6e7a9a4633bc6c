package traffic

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Recorded is one request of an aoaibench run's requests.jsonl, as a
// replay reads it: when it was sent and its tokens.
type Recorded struct {
	Line int
	// At is its send time from the run's start (its schedule's when it
	// was never sent).
	At     time.Duration
	Class  string // ok, throttled, http...
	Prompt int
	Output int
	// Cached is its prompt tokens served from the cache (0 when the
	// server did not say).
	Cached int
	// MaxTokens is what it asked for at most over all its choices, 0
	// when it sent no limit.
	MaxTokens int
	Warmup    bool
}

// RunFile is the file of a run directory that ReadRecorded reads.
const RunFile = "requests.jsonl"

// ReadRecorded streams the requests of a run directory (its
// requests.jsonl) to fn, in the file's order. A line that cannot be read
// is a *BadRow naming file:line, a directory without the file an error
// naming it; an error of fn is returned as it is.
func ReadRecorded(dir string, fn func(Recorded) error) error {
	path := filepath.Join(dir, RunFile)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not a run directory (no %s): %w", dir, RunFile, errors.Unwrap(err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var v struct {
			Class     string   `json:"class"`
			Send      *float64 `json:"send"`
			Sched     *float64 `json:"sched"`
			Prompt    int      `json:"prompt_tokens"`
			Output    int      `json:"output_tokens"`
			Cached    *int     `json:"cached_tokens"`
			MaxTokens int      `json:"max_tokens"`
			Warmup    bool     `json:"warmup"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return &BadRow{File: path, Line: line, Err: fmt.Errorf("malformed JSON: %v", err)}
		}
		at := v.Send
		if at == nil {
			at = v.Sched
		}
		r := Recorded{Line: line, Class: v.Class, Prompt: v.Prompt, Output: v.Output, MaxTokens: v.MaxTokens, Warmup: v.Warmup}
		if v.Cached != nil {
			r.Cached = *v.Cached
		}
		switch {
		case at == nil || !(*at >= 0) || *at > maxSeconds:
			return &BadRow{File: path, Line: line, Err: fmt.Errorf("send is not a time from 0 to %g s", maxSeconds)}
		case r.Prompt < 0 || r.Prompt > maxTokens || r.Output < 0 || r.Output > maxTokens || r.MaxTokens < 0 || r.MaxTokens > maxTokens || r.Cached < 0 || r.Cached > max(r.Prompt, 0):
			return &BadRow{File: path, Line: line, Err: fmt.Errorf("token counts out of range (prompt %d, cached %d, output %d, max_tokens %d)", r.Prompt, r.Cached, r.Output, r.MaxTokens)}
		}
		r.At = time.Duration(math.Round(*at * 1e9))
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &BadRow{File: path, Line: line + 1, Err: err}
	}
	return nil
}

// Replayed says whether a recorded request is replayed (and sized): not
// the warmup, which the run's figures leave out, nor a request that
// failed before its prompt was counted.
func (r Recorded) Replayed() bool { return !r.Warmup && r.Prompt > 0 }

// Asked is the output a recorded request asks for when replayed: its
// max_tokens, or its output when it sent none.
func (r Recorded) Asked() int {
	if r.MaxTokens > 0 {
		return r.MaxTokens
	}
	return r.Output
}

// readRecordedTrace loads a run directory as a trace: each replayed
// request sent at its send time from the first, with a prompt of its
// prompt tokens and max_tokens as it asked; its cached tokens become a
// shared prefix of whole blocks, as a usage CSV's do.
func readRecordedTrace(dir string, speed float64, block int, seed uint64) (*Trace, error) {
	t := &Trace{Block: block, seed: seed, words: tokenizer.NewWords()}
	var at []time.Duration
	var shared []uint32
	err := ReadRecorded(dir, func(r Recorded) error {
		if !r.Replayed() {
			return nil
		}
		if len(t.Rows) >= MaxTraceRows {
			return &BadRow{File: filepath.Join(dir, RunFile), Line: r.Line, Err: fmt.Errorf("more than %d rows", MaxTraceRows)}
		}
		t.add(r.Prompt, r.Asked(), r.Cached, block, &shared)
		at = append(at, r.At)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, &BadRow{File: filepath.Join(dir, RunFile), Line: 1, Err: fmt.Errorf("no request to replay (every one was warmup or had no prompt count)")}
	}
	base := slices.Min(at)
	for i := range t.Rows {
		off := float64(at[i]-base) / speed
		if off > float64(maxOffset) {
			return nil, &BadRow{File: filepath.Join(dir, RunFile), Line: 1, Err: fmt.Errorf("at --trace-speed %g, the run lasts more than a century", speed)}
		}
		t.Rows[i].At = time.Duration(off)
	}
	sort.SliceStable(t.Rows, func(i, j int) bool { return t.Rows[i].At < t.Rows[j].At })
	return t, nil
}
