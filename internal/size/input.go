package size

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aoaibench/aoaibench/internal/traffic"
)

// Request is one request of the input, kept compactly (24 bytes), for a
// day of production traffic is millions of them.
type Request struct {
	// At is nanoseconds from the input's start.
	At int64
	// Prompt, Cached and Output are its tokens; MaxTokens what it asked
	// for at most, over all its choices, or -1 when not known (the
	// output is then its estimate).
	Prompt, Cached, Output, MaxTokens int32
}

// Input says what was read of one INPUT.
type Input struct {
	Path string `json:"path"`
	// Kind is "run" (an aoaibench output directory), "trace" (Mooncake
	// JSONL) or "csv" (a usage CSV).
	Kind     string `json:"kind"`
	Requests int    `json:"requests"`
	// Skipped are rows left out (a run's warmup, requests with no
	// prompt count), with why in the notes.
	Skipped     int     `json:"skipped"`
	SpanSeconds float64 `json:"span_seconds"`
}

// MaxRequests bounds the requests held: 20 million are 480 MB.
const MaxRequests = traffic.MaxTraceRows

// BadInput is an input that cannot be read: one line naming the file
// (and line when there is one).
type BadInput struct{ Err error }

func (e *BadInput) Error() string { return e.Err.Error() }
func (e *BadInput) Unwrap() error { return e.Err }

func bad(format string, a ...any) error { return &BadInput{fmt.Errorf(format, a...)} }

// asBad is err as bad input (a reader's error is one: a file that cannot
// be read as what it claims).
func asBad(err error) error {
	var bi *BadInput
	if errors.As(err, &bi) {
		return err
	}
	return &BadInput{err}
}

// read appends the requests of one input, at times from its own first
// request: inputs are traffic that reaches one deployment together.
func read(path string, reqs []Request, notes *[]string) ([]Request, Input, error) {
	in := Input{Path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return reqs, in, bad("%s: %v", path, errors.Unwrap(err))
	}
	from := len(reqs)
	switch {
	case fi.IsDir():
		in.Kind = "run"
		reqs, err = readRun(path, reqs, &in, notes)
	default:
		var head []byte
		if head, err = peek(path); err != nil {
			return reqs, in, bad("%s: %v", path, err)
		}
		if traffic.IsUsageCSV(head) || !startsJSON(head) {
			in.Kind = "csv"
			reqs, err = readCSV(path, reqs)
		} else {
			in.Kind = "trace"
			reqs, err = readTrace(path, reqs, notes)
		}
	}
	if err != nil {
		return reqs, in, err
	}
	part := reqs[from:]
	in.Requests = len(part)
	if len(part) == 0 {
		return reqs, in, bad("%s: no requests", path)
	}
	first, last := part[0].At, part[0].At
	for _, r := range part {
		first, last = min(first, r.At), max(last, r.At)
	}
	for i := range part {
		part[i].At -= first
	}
	in.SpanSeconds = time.Duration(last - first).Seconds()
	return reqs, in, nil
}

func peek(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, _ := f.Read(b)
	return b[:n], nil
}

// startsJSON reports whether a file's first byte, past a BOM and
// spaces, opens a JSON object.
func startsJSON(b []byte) bool {
	for len(b) > 0 {
		switch {
		case len(b) >= 3 && string(b[:3]) == "\ufeff":
			b = b[3:]
		case b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n':
			b = b[1:]
		default:
			return b[0] == '{'
		}
	}
	return false
}

func full(path string, line int) error {
	return bad("%s:%d: more than %d requests", path, line, MaxRequests)
}

// readCSV streams a usage CSV.
func readCSV(path string, reqs []Request) ([]Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return reqs, bad("%s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	err = traffic.ReadUsage(path, f, func(u traffic.UsageRow) error {
		if len(reqs) >= MaxRequests {
			return full(path, u.Line)
		}
		reqs = append(reqs, Request{At: int64(u.At), Prompt: int32(u.Prompt), Cached: int32(u.Cached), Output: int32(u.Completion), MaxTokens: int32(u.MaxTokens)})
		return nil
	})
	if err != nil {
		return reqs, asBad(err)
	}
	return reqs, nil
}

// readTrace reads a Mooncake JSONL trace: output_length is both what a
// request asks and what it generates; a trace has no cached counts.
func readTrace(path string, reqs []Request, notes *[]string) ([]Request, error) {
	tr, err := traffic.ReadTrace(path, 1, 512, 0)
	if err != nil {
		return reqs, &BadInput{err}
	}
	if len(reqs)+len(tr.Rows) > MaxRequests {
		return reqs, full(path, len(tr.Rows))
	}
	for _, r := range tr.Rows {
		reqs = append(reqs, Request{At: int64(r.At), Prompt: r.Input, Output: r.Output, MaxTokens: -1})
	}
	*notes = append(*notes, fmt.Sprintf("%s: a trace's hash_ids are not counted as cached tokens (it has no cached counts)", path))
	if tr.Raised > 0 {
		*notes = append(*notes, fmt.Sprintf("%s: %d rows with prompts under %d tokens are counted at %d, as load --trace sends them", path, tr.Raised, traffic.MinContext, traffic.MinContext))
	}
	return reqs, nil
}

// readRun reads an aoaibench output directory's requests.jsonl: each
// request at its send time, with the tokens it used, as load --trace
// replays it. A request that did not complete (throttled or failed when
// recorded) is counted as asking and generating its max_tokens, as the
// simulator would generate them; the warmup is left out, as the run's
// figures leave it.
func readRun(dir string, reqs []Request, in *Input, notes *[]string) ([]Request, error) {
	warm, noPrompt, incomplete := 0, 0, 0
	err := traffic.ReadRecorded(dir, func(r traffic.Recorded) error {
		switch {
		case r.Warmup:
			warm++
			return nil
		case !r.Replayed():
			noPrompt++
			return nil
		case len(reqs) >= MaxRequests:
			return full(filepath.Join(dir, traffic.RunFile), r.Line)
		}
		q := Request{At: int64(r.At), Prompt: int32(r.Prompt), Cached: int32(r.Cached), Output: int32(r.Output), MaxTokens: -1}
		if r.MaxTokens > 0 {
			q.MaxTokens = int32(r.MaxTokens)
		}
		if r.Class != "ok" && r.MaxTokens > 0 {
			// Never generated (or cut): its demand is what it asked.
			q.Output = int32(r.MaxTokens)
			incomplete++
		}
		reqs = append(reqs, q)
		return nil
	})
	if err != nil {
		return reqs, asBad(err)
	}
	in.Skipped = warm + noPrompt
	if warm > 0 {
		*notes = append(*notes, fmt.Sprintf("%s: %d warmup requests left out, as the run's figures leave them", dir, warm))
	}
	if noPrompt > 0 {
		*notes = append(*notes, fmt.Sprintf("%s: %d requests with no prompt count left out (failed before the prompt was counted)", dir, noPrompt))
	}
	if incomplete > 0 {
		*notes = append(*notes, fmt.Sprintf("%s: %d requests that did not complete when recorded (throttled or failed) are counted at their max_tokens", dir, incomplete))
	}
	return reqs, nil
}

// sortByTime orders the requests by arrival.
func sortByTime(reqs []Request) {
	slices.SortFunc(reqs, func(a, b Request) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
}
