package merge

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// A line of requests.jsonl is one JSON object (sink.RecordLine). The
// merge reads every line of every shard twice, to check it and then to
// write it: a scanner of its own validates the line as JSON and reads the
// few keys the checks need, without reflection and without an allocation
// per line, so that a million records take a second, not ten.
//
// It is written by hand because no library does this as fast: measured
// on 2 busy cores (go test -run '^$' -bench 'Merge|RecordLine'
// ./internal/merge/), merging 4 shards of 250,000 records took 0.9 to
// 1.4 s with this scanner and 6.5 to 9 s with encoding/json decoding
// each line into a struct of the keys read here; a line takes 1 µs here
// and 7.5 µs (28 allocations) there. And encoding/json would take what
// this refuses: a key twice, a key in capitals. (encoding/json/v2 needs
// GOEXPERIMENT=jsonv2 in Go 1.26.)

// Keys of a record line the merge reads; the others are validated and
// copied.
const (
	kID = iota
	kClass
	kWarmup
	kProto
	kAnswer
	// Whole numbers, null when absent.
	kAttempts
	kThrottles
	kNewConns
	kPrompt
	kOutput
	kVisible
	kQuota
	kReasoning
	kCached
	kChoices
	kEvents
	// Seconds (moments from the run's start, or durations), null when
	// absent.
	kSched
	kSend
	kEnd
	kLag
	kHeaders
	kTTFT
	kTTFTSched
	kTPOT
	kE2E
	kE2ESched
	kTTFTContent
	kTTFTReasoning
	nKeys

	firstCount   = kAttempts
	firstSeconds = kSched
)

// lookup returns the index of a record key, or -1 for a key the merge
// does not read.
func lookup(k []byte) int {
	switch string(k) {
	case "id":
		return kID
	case "class":
		return kClass
	case "warmup":
		return kWarmup
	case "proto":
		return kProto
	case "answer":
		return kAnswer
	case "attempts":
		return kAttempts
	case "throttles":
		return kThrottles
	case "new_conns":
		return kNewConns
	case "prompt_tokens":
		return kPrompt
	case "output_tokens":
		return kOutput
	case "visible_tokens":
		return kVisible
	case "quota_tokens":
		return kQuota
	case "reasoning_tokens":
		return kReasoning
	case "cached_tokens":
		return kCached
	case "choices":
		return kChoices
	case "events":
		return kEvents
	case "sched":
		return kSched
	case "send":
		return kSend
	case "end":
		return kEnd
	case "lag":
		return kLag
	case "headers":
		return kHeaders
	case "ttft":
		return kTTFT
	case "ttft_sched":
		return kTTFTSched
	case "tpot":
		return kTPOT
	case "e2e":
		return kE2E
	case "e2e_sched":
		return kE2ESched
	case "ttft_content":
		return kTTFTContent
	case "ttft_reasoning":
		return kTTFTReasoning
	}
	return -1
}

// classOf returns the index of a class: 0 for OK, 1+i for
// metrics.Classes[i]; -1 for a name that is no class.
func classOf(name []byte) int {
	if string(name) == string(metrics.OK) {
		return 0
	}
	for i, c := range metrics.Classes {
		if string(name) == string(c) {
			return 1 + i
		}
	}
	return -1
}

// maxSeconds bounds every time and duration read from a shard: 10^8 s,
// three years, is longer than a run can last (a year of --duration, and
// its drain and request timeouts as much again); a figure past it is not
// a run's.
const maxSeconds = 1e8

// span is where a value is in its line.
type span struct{ from, to int }

// rec is what the merge reads of one record line.
type rec struct {
	id     int64
	class  int // index in classes
	warmup bool
	proto  bool // it names a protocol
	answer int  // index in metrics.AnswerKinds; -1 when it says none
	// n are the whole numbers, by key (kAttempts...); -1 when null.
	n [nKeys]int64
	// null has bit k set when seconds key k is null or absent.
	null uint32
	// at are the values of sched, send and end in the line, for the
	// merge to move them to the merged run's clock.
	at   [3]span
	seen uint32 // the keys read: none may come twice
}

// has reports whether seconds key k has a value.
func (r *rec) has(k int) bool { return r.null&(1<<k) == 0 }

var errNotJSON = errors.New("not a JSON object")

// timeKeys are the bits of sched, send and end in rec.seen.
const timeKeys = 1<<kSched | 1<<kSend | 1<<kEnd

// parse reads line b, without its newline, into r. The error says what is
// wrong, for a message naming the file and line. With times, it stops once
// it has read sched, send and end (the writer puts them first): for a
// line already checked, that is all the merge needs of it.
func (r *rec) parse(b []byte, times bool) error {
	r.reset()
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errNotJSON
	}
	i, done, err := r.members(b, skipSpace(b, i+1), times)
	if err != nil || done {
		return err
	}
	if skipSpace(b, i) != len(b) {
		return errors.New("text after the record")
	}
	return r.complete()
}

// reset makes r a record of nothing read: no id or class, every count
// and every time null.
func (r *rec) reset() {
	*r = rec{id: -1, class: -1, answer: -1, null: 1<<nKeys - 1}
	for k := firstCount; k < firstSeconds; k++ {
		r.n[k] = -1
	}
}

// members reads the object's members from b[i], just past its '{', and
// returns the end past its '}'. With times, it stops (done) as soon as
// sched, send and end are read. (One loop, without a call per member
// but scanValue's, and set's for a key the merge reads: it runs some
// forty times a line, and a call more each time costs a tenth of the
// merge's time.)
func (r *rec) members(b []byte, i int, times bool) (end int, done bool, err error) {
	if i < len(b) && b[i] == '}' {
		return i + 1, false, nil
	}
	for {
		// The writer's keys are quoted lower-case words: another key (an
		// escape, capitals) could be read as one of them by a reader that
		// folds case.
		end := i + 1
		for end < len(b) && (b[end] >= 'a' && b[end] <= 'z' || b[end] == '_' || b[end] >= '0' && b[end] <= '9') {
			end++
		}
		if i >= len(b) || b[i] != '"' || end >= len(b) || b[end] != '"' || end == i+1 {
			return 0, false, keyError(b, i)
		}
		key := b[i+1 : end]
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return 0, false, errNotJSON
		}
		i = skipSpace(b, i+1)
		from := i
		if i, err = scanValue(b, i, 0); err != nil {
			return 0, false, fmt.Errorf("%s: %w", key, err)
		}
		if k := lookup(key); k >= 0 {
			if r.seen&(1<<k) != 0 {
				return 0, false, fmt.Errorf("%s is there twice", key)
			}
			r.seen |= 1 << k
			if err := r.set(k, b[from:i], from); err != nil {
				return 0, false, valueError(key, b[from:i], err)
			}
			if times && r.seen&timeKeys == timeKeys {
				return i, true, nil
			}
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, false, nil
		}
		return 0, false, errNotJSON
	}
}

// keyError says why b[i] does not start a record's key.
func keyError(b []byte, i int) error {
	if i >= len(b) || b[i] != '"' {
		return errNotJSON
	}
	end, _, err := scanString(b, i)
	if err != nil {
		return err
	}
	return fmt.Errorf("%q is not a record's key", b[i+1:end-1])
}

// valueError names the key whose value v set refused, showing the
// value's start.
func valueError(key, v []byte, err error) error {
	if len(v) > 24 {
		v = append(v[:24:24], "..."...)
	}
	return fmt.Errorf("%s is %s: %w", key, v, err)
}

// complete refuses a record without the keys every record has.
func (r *rec) complete() error {
	switch {
	case r.seen&(1<<kID) == 0:
		return errors.New("no id")
	case r.seen&(1<<kClass) == 0:
		return errors.New("no class")
	}
	return nil
}

// set reads value v of key k, at offset from in its line.
func (r *rec) set(k int, v []byte, from int) error {
	switch {
	case k == kID:
		n, ok := whole(v)
		if !ok {
			return errors.New("not a request number")
		}
		r.id = n
	case k == kClass:
		if len(v) >= 2 && v[0] == '"' {
			r.class = classOf(v[1 : len(v)-1])
		}
		if r.class < 0 {
			return errors.New("not a class")
		}
	case k == kWarmup:
		switch string(v) {
		case "true":
			r.warmup = true
		case "false":
		default:
			return errors.New("not true or false")
		}
	case k == kAnswer:
		r.answer = -1
		if string(v) == "null" {
			break
		}
		for i, a := range metrics.AnswerKinds {
			if len(v) == len(a)+2 && v[0] == '"' && string(v[1:len(v)-1]) == string(a) {
				r.answer = i
			}
		}
		if r.answer < 0 {
			return errors.New("not an answer kind")
		}
	case k == kProto:
		if v[0] != '"' && string(v) != "null" {
			return errors.New("not a protocol")
		}
		r.proto = len(v) > 2 && v[0] == '"'
	case string(v) == "null":
		// Absent: as initialised.
	case k < firstSeconds:
		n, ok := whole(v)
		if !ok {
			return errors.New("not a count")
		}
		r.n[k] = n
	default:
		if !seconds(v) {
			return fmt.Errorf("not seconds from 0 to %g", float64(maxSeconds))
		}
		r.null &^= 1 << k
		if k <= kEnd {
			r.at[k-kSched] = span{from, from + len(v)}
		}
	}
	return nil
}

// whole reads a JSON number that is a whole count: digits only, at most
// 18 of them.
func whole(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 || len(v) > 1 && v[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// seconds reports whether a JSON number is from 0 to maxSeconds. The
// writer's plain decimals are read by counting their digits; any other
// form (an exponent, a sign) is parsed.
func seconds(v []byte) bool {
	digits, dot, plain := 0, false, true
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			if !dot {
				digits++
			}
		case c == '.' && !dot:
			dot = true
		default:
			plain = false
		}
	}
	if plain {
		return digits <= 8 // below 10^8
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return err == nil && f >= 0 && f < maxSeconds
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString returns the end of the JSON string at b[i] (past its closing
// quote) and whether it holds escapes.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return 0, false, errors.New("unterminated string")
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return 0, false, errors.New("bad \\u escape")
				}
				for _, h := range b[j+1 : j+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return 0, false, errors.New("bad \\u escape")
					}
				}
				j += 4
			default:
				return 0, false, errors.New("bad escape")
			}
		case c < 0x20:
			return 0, false, errors.New("control character in a string")
		}
	}
	return 0, false, errors.New("unterminated string")
}

// maxDepth bounds the nesting of a value: records are flat.
const maxDepth = 32

// scanValue returns the end of the JSON value at b[i].
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("no value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	case c == 'n':
		return literal(b, i, "null")
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return 0, errors.New("nested too deep")
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, errNotJSON
				}
				end, _, err := scanString(b, i)
				if err != nil {
					return 0, err
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return 0, errNotJSON
				}
				i = skipSpace(b, i+1)
			}
			end, err := scanValue(b, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				return i + 1, nil
			}
			return 0, errNotJSON
		}
	}
	return 0, fmt.Errorf("%q is not a JSON value", b[i:min(i+8, len(b))])
}

// literal matches the word w at b[i].
func literal(b []byte, i int, w string) (int, error) {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return 0, fmt.Errorf("%q is not a JSON value", b[i:min(i+len(w), len(b))])
	}
	return i + len(w), nil
}

var errNotNumber = errors.New("not a JSON number")

// scanNumber returns the end of the JSON number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, errNotNumber
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, errNotNumber
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, errNotNumber
		}
		i = j
	}
	return i, nil
}

// digits returns the end of the digits at b[i].
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
