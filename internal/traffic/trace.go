package traffic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// TraceRow is one request of a recorded trace: the Mooncake and AIPerf
// layout, {"timestamp": ms, "input_length": n, "output_length": n,
// "hash_ids": [...]}.
type TraceRow struct {
	At     time.Duration // from the trace's first request, scaled by the speed
	Input  int32         // prompt tokens
	Output int32         // output tokens asked
	Hashes []uint32      // blocks of the prompt that other requests share
}

// Trace is a loaded trace: the schedule and the requests of a replay. Its
// prompts are built to the recorded lengths; each hash id is one block of
// Block tokens, the same words wherever it appears, so that requests
// sharing blocks share a prefix a prompt cache can serve, as they did when
// recorded.
type Trace struct {
	Rows   []TraceRow
	Block  int
	Raised int // rows whose input was below MinContext and was raised to it
	seed   uint64
	words  tokenizer.Words
}

// add appends a row of a usage CSV or a recorded run: its prompt and
// output tokens, its cached tokens as a prefix of whole blocks shared by
// every row (hash ids 0..k-1 of shared, grown as needed), and its input
// raised to MinContext when below.
func (t *Trace) add(prompt, output, cached, block int, shared *[]uint32) {
	row := TraceRow{Input: int32(prompt), Output: int32(output)}
	if k := cached / block; k > 0 {
		for len(*shared) < k {
			*shared = append(*shared, uint32(len(*shared)))
		}
		row.Hashes = (*shared)[:k:k]
	}
	if int(row.Input) < MinContext {
		row.Input = MinContext
		t.Raised++
	}
	t.Rows = append(t.Rows, row)
}

// maxOffset is pace.MaxOffset: the latest a request may be due.
const maxOffset = 100 * 365 * 24 * time.Hour

// MaxTraceRows bounds a trace held in memory (a row is about 40 bytes).
const MaxTraceRows = 20_000_000

// ReadTrace loads a trace, its offsets divided by speed: JSONL of the
// Mooncake layout, a usage CSV (ReadUsage), or an aoaibench run
// directory (ReadRecorded). A row that cannot be read is an error naming
// file:line. Rows out of time order are sorted.
func ReadTrace(path string, speed float64, block int, seed uint64) (*Trace, error) {
	if !(speed > 0) || math.IsInf(speed, 0) || speed > 1e6 {
		return nil, fmt.Errorf("--trace-speed must be a positive factor up to 1e6, got %g", speed)
	}
	if block <= 0 || block > 1<<20 {
		return nil, fmt.Errorf("--trace-block must be from 1 to %d tokens, got %d", 1<<20, block)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return readRecordedTrace(path, speed, block, seed)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	if head, _ := br.Peek(4096); IsUsageCSV(head) {
		return readUsageTrace(path, br, speed, block, seed)
	}
	return readJSONLTrace(path, br, speed, block, seed)
}

// readJSONLTrace loads a trace of the Mooncake layout, a JSON object a
// line.
func readJSONLTrace(path string, r io.Reader, speed float64, block int, seed uint64) (*Trace, error) {
	t := &Trace{Block: block, seed: seed, words: tokenizer.NewWords()}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	var ms []float64 // each row's timestamp
	var lines []int  // and its line
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte(bom))
		}
		if len(b) == 0 || len(trimSpace(b)) == 0 {
			continue
		}
		row, at, err := traceLine(b, len(t.Rows) >= MaxTraceRows)
		if err != nil {
			return nil, &BadRow{File: path, Line: line, Err: err}
		}
		ms, lines = append(ms, at), append(lines, line)
		if int(row.Input) < MinContext {
			row.Input = MinContext
			t.Raised++
		}
		t.Rows = append(t.Rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, &BadRow{File: path, Line: line + 1, Err: err}
	}
	if len(t.Rows) == 0 {
		return nil, &BadRow{File: path, Line: 1, Err: fmt.Errorf("no rows")}
	}
	// Offsets count from the earliest row, in time order.
	base := ms[0]
	for _, v := range ms {
		base = math.Min(base, v)
	}
	for i := range t.Rows {
		at := (ms[i] - base) / speed * float64(time.Millisecond)
		if at > float64(maxOffset) {
			return nil, &BadRow{File: path, Line: lines[i], Err: fmt.Errorf("at --trace-speed %g, timestamp %g ms is more than a century into the replay", speed, ms[i])}
		}
		t.Rows[i].At = time.Duration(at)
	}
	sort.SliceStable(t.Rows, func(i, j int) bool { return t.Rows[i].At < t.Rows[j].At })
	return t, nil
}

// traceLine reads one line of a Mooncake trace: its row and its
// timestamp in ms, each figure in range. full says the trace already
// holds MaxTraceRows rows.
func traceLine(b []byte, full bool) (TraceRow, float64, error) {
	var v struct {
		Timestamp *float64 `json:"timestamp"`
		Input     *int64   `json:"input_length"`
		Output    *int64   `json:"output_length"`
		Hashes    []int64  `json:"hash_ids"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return TraceRow{}, 0, fmt.Errorf("malformed JSON: %v", err)
	}
	switch {
	case v.Timestamp == nil || v.Input == nil || v.Output == nil:
		return TraceRow{}, 0, fmt.Errorf(`want "timestamp" (ms), "input_length" and "output_length"`)
	case !(*v.Timestamp >= 0) || *v.Timestamp > float64(100*365*24*time.Hour/time.Millisecond):
		return TraceRow{}, 0, fmt.Errorf("timestamp %g ms is not a time from 0 to a century", *v.Timestamp)
	case *v.Input < 1 || *v.Input > 10_000_000:
		return TraceRow{}, 0, fmt.Errorf("input_length %d is not from 1 to 10000000", *v.Input)
	case *v.Output < 0 || *v.Output > 10_000_000:
		return TraceRow{}, 0, fmt.Errorf("output_length %d is not from 0 to 10000000", *v.Output)
	case full:
		return TraceRow{}, 0, fmt.Errorf("more than %d rows", MaxTraceRows)
	}
	r := TraceRow{Input: int32(*v.Input), Output: int32(*v.Output)}
	for _, h := range v.Hashes {
		if h < 0 || h > math.MaxUint32 {
			return TraceRow{}, 0, fmt.Errorf("hash id %d is not from 0 to %d", h, uint32(math.MaxUint32))
		}
		r.Hashes = append(r.Hashes, uint32(h))
	}
	return r, *v.Timestamp, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// Offsets returns the rows' dispatch offsets.
func (t *Trace) Offsets() []time.Duration {
	at := make([]time.Duration, len(t.Rows))
	for i, r := range t.Rows {
		at[i] = r.At
	}
	return at
}

// Next implements Source: row n's prompt, of exactly its input length,
// made of its hash blocks (then, past them, of words unique to the
// request).
func (t *Trace) Next(n int64, _ <-chan struct{}) (*Item, error) {
	if n < 0 || n >= int64(len(t.Rows)) {
		return nil, fmt.Errorf("trace: no row %d", n)
	}
	r := &t.Rows[n]
	k := int(r.Input) - overhead // the user message's words
	b := make([]byte, 0, 8*k+64)
	b = append(b, `[{"role":"user","content":"`...)
	words := 0
	for _, h := range r.Hashes {
		for j := 0; j < t.Block && words < k; j++ {
			if words > 0 {
				b = append(b, ' ')
			}
			b = append(b, t.words[blockWord(h, j, len(t.words))]...)
			words++
		}
	}
	if words < k {
		// Not covered by shared blocks: this request's own words.
		if words > 0 {
			b = append(b, ' ')
		}
		b = appendUserWords(b, t.words, k-words, uint64(n)+t.seed)
	}
	b = append(b, `"}]`...)
	out := int(r.Output)
	return &Item{Prompt: int(r.Input), MaxTokens: max(out, 1), Session: -1, messages: b}, nil
}

// blockWord picks word j of block h: a hash of both, so that blocks
// differ from one another and from every shift of one another.
func blockWord(h uint32, j, n int) int {
	return int(mix64(uint64(h)<<32|uint64(uint32(j))) % uint64(n))
}

// mix64 is MurmurHash3's finalizer: every bit of x stirs every bit out.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
