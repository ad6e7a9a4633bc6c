package traffic

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// UsageRow is one request of a usage CSV, as exported from production
// logs: when it came, and its tokens.
type UsageRow struct {
	Line int
	// At is the request's time: from the Unix epoch for an RFC 3339
	// timestamp, from the file's 0 for one in seconds.
	At         time.Duration
	Prompt     int
	Completion int
	Cached     int
	// MaxTokens is the request's max_tokens, -1 when the file has no
	// max_tokens column or the row's cell is empty.
	MaxTokens int
}

// The usage CSV's columns: the required, then the optional.
var (
	usageRequired = []string{"timestamp", "prompt_tokens", "completion_tokens"}
	usageOptional = []string{"cached_tokens", "max_tokens"}
)

// UsageColumns says the usage CSV's columns, for a message.
const UsageColumns = "timestamp (RFC 3339 or seconds), prompt_tokens and completion_tokens, optional cached_tokens and max_tokens"

// maxTokens bounds a row's token counts, as a trace's.
const maxTokens = 10_000_000

// maxSeconds bounds a timestamp in seconds: past it, nanoseconds overflow.
const maxSeconds = 9e9

// IsUsageCSV reports whether a file's first bytes are a usage CSV's
// header: not JSON, and a first line naming a timestamp column.
func IsUsageCSV(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte(bom))
	line, _, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '{' || line[0] == '[' {
		return false
	}
	for _, f := range bytes.Split(line, []byte(",")) {
		if strings.EqualFold(strings.Trim(string(bytes.TrimSpace(f)), `"`), "timestamp") {
			return true
		}
	}
	return false
}

// ReadUsage streams a usage CSV's rows to fn, in the file's order: a
// header row naming at least timestamp, prompt_tokens and
// completion_tokens (other columns are left alone), then a row per
// request. A header row repeated further on (files joined with cat) is
// skipped. A row that cannot be read is a *BadRow naming path:line;
// an error of fn ends the reading and is returned as it is.
func ReadUsage(path string, r io.Reader, fn func(UsageRow) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	if b, err := br.Peek(len(bom)); err == nil && string(b) == bom {
		br.Discard(len(bom))
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	u := &usageReader{path: path}
	if err := u.header(cr); err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return &BadRow{File: path, Line: line, Err: csvErr(err)}
		}
		line, _ := cr.FieldPos(0)
		if strings.EqualFold(strings.TrimSpace(rec[u.idx[0]]), "timestamp") {
			continue // a header again: files joined
		}
		row, err := u.row(rec, line)
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// usageReader is a usage CSV being read: where its columns are, and
// which kind of timestamp its first row set.
type usageReader struct {
	path string
	// idx is the column of each of usageRequired then usageOptional; -1
	// for an optional column the file does not have.
	idx   [5]int
	kind  int // 0 before the first row; 1: RFC 3339, 2: seconds
	first int // the line that set kind
}

// header reads the header row and finds the columns by name; every row
// after it has as many fields.
func (u *usageReader) header(cr *csv.Reader) error {
	hdr, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &BadRow{File: u.path, Line: 1, Err: fmt.Errorf("empty: a usage CSV has a header row of %s", UsageColumns)}
		}
		return &BadRow{File: u.path, Line: 1, Err: csvErr(err)}
	}
	col := map[string]int{}
	var names []string
	for i, h := range hdr {
		h = strings.ToLower(strings.TrimSpace(h))
		names = append(names, h)
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	for i, c := range append(append([]string{}, usageRequired...), usageOptional...) {
		j, ok := col[c]
		if !ok && i < len(usageRequired) {
			return &BadRow{File: u.path, Line: 1, Err: fmt.Errorf("a usage CSV needs the columns %s; the header has %s", UsageColumns, strings.Join(names, ", "))}
		}
		if !ok {
			j = -1
		}
		u.idx[i] = j
	}
	cr.FieldsPerRecord = len(hdr)
	return nil
}

// row reads the request of line: its time, of the file's one kind, and
// its token counts, each in range.
func (u *usageReader) row(rec []string, line int) (UsageRow, error) {
	row := UsageRow{Line: line, MaxTokens: -1}
	bad := func(format string, a ...any) error {
		return &BadRow{File: u.path, Line: line, Err: fmt.Errorf(format, a...)}
	}
	ts := strings.TrimSpace(rec[u.idx[0]])
	at, k, err := parseStamp(ts)
	if err != nil {
		return row, bad("timestamp: %v", err)
	}
	switch {
	case u.kind == 0:
		u.kind, u.first = k, line
	case k != u.kind:
		what := map[int]string{1: "RFC 3339", 2: "seconds"}
		return row, bad("timestamp %q is in %s, line %d's in %s: one file, one kind", ts, what[k], u.first, what[u.kind])
	}
	row.At = at
	count := func(c int, name string, least int) (int, error) {
		s := strings.TrimSpace(rec[u.idx[c]])
		v, err := strconv.Atoi(s)
		if err != nil || v < least || v > maxTokens {
			return 0, bad("%s %q is not a whole number from %d to %d", name, s, least, maxTokens)
		}
		return v, nil
	}
	if row.Prompt, err = count(1, "prompt_tokens", 1); err != nil {
		return row, err
	}
	if row.Completion, err = count(2, "completion_tokens", 0); err != nil {
		return row, err
	}
	if u.idx[3] >= 0 && strings.TrimSpace(rec[u.idx[3]]) != "" {
		if row.Cached, err = count(3, "cached_tokens", 0); err != nil {
			return row, err
		}
		if row.Cached > row.Prompt {
			return row, bad("cached_tokens %d is more than prompt_tokens %d", row.Cached, row.Prompt)
		}
	}
	if u.idx[4] >= 0 && strings.TrimSpace(rec[u.idx[4]]) != "" {
		if row.MaxTokens, err = count(4, "max_tokens", 1); err != nil {
			return row, err
		}
	}
	return row, nil
}

// parseStamp reads an RFC 3339 time (kind 1: from the Unix epoch, from
// 1970 to 2262) or seconds (kind 2).
func parseStamp(s string) (time.Duration, int, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if !(v >= 0) || v > maxSeconds {
			return 0, 0, fmt.Errorf("%q seconds is not from 0 to %g", s, maxSeconds)
		}
		return time.Duration(math.Round(v * 1e9)), 2, nil
	}
	// RFC 3339 allows a space for the T.
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is neither RFC 3339 (2026-01-02T15:04:05Z, with its zone) nor seconds", s)
	}
	if t.Year() < 1970 || t.Year() > 2261 {
		return 0, 0, fmt.Errorf("%q is not from 1970 to 2261", s)
	}
	return time.Duration(t.UnixNano()), 1, nil
}

// csvErr is a CSV reader's error without its own "record on line N"
// prefix: the caller names the line.
func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return errors.New("wrong number of fields: every row has the header's")
		}
		return pe.Err
	}
	return err
}

// readUsageTrace loads a usage CSV as a trace: each row sent at its time
// (from the earliest row, divided by speed) with a prompt of its
// prompt_tokens and max_tokens as given, or its completion_tokens when
// none is. Its cached_tokens, in whole blocks, become a prefix every such
// row shares (hash ids 0, 1, ...), so that a prompt cache serves about
// as much of it as it served when recorded.
func readUsageTrace(path string, r io.Reader, speed float64, block int, seed uint64) (*Trace, error) {
	t := &Trace{Block: block, seed: seed, words: tokenizer.NewWords()}
	var at []time.Duration
	var lines []int
	var shared []uint32 // hash ids 0..k-1, sliced by every row
	err := ReadUsage(path, r, func(u UsageRow) error {
		if len(t.Rows) >= MaxTraceRows {
			return &BadRow{File: path, Line: u.Line, Err: fmt.Errorf("more than %d rows", MaxTraceRows)}
		}
		out := u.Completion
		if u.MaxTokens >= 0 {
			out = u.MaxTokens
		}
		t.add(u.Prompt, out, u.Cached, block, &shared)
		at, lines = append(at, u.At), append(lines, u.Line)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, &BadRow{File: path, Line: 2, Err: fmt.Errorf("no rows after the header")}
	}
	base := slices.Min(at)
	for i := range t.Rows {
		off := float64(at[i]-base) / speed
		if off > float64(maxOffset) {
			return nil, &BadRow{File: path, Line: lines[i], Err: fmt.Errorf("at --trace-speed %g, this row is more than a century into the replay", speed)}
		}
		t.Rows[i].At = time.Duration(off)
	}
	sort.SliceStable(t.Rows, func(i, j int) bool { return t.Rows[i].At < t.Rows[j].At })
	return t, nil
}
