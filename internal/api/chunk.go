package api

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// Kind is what an output delta carries (metrics.Kind: Content,
// Reasoning, Refusal, Tool).
type Kind = metrics.Kind

// Output kinds.
const (
	Content   = metrics.Content
	Reasoning = metrics.Reasoning
	Refusal   = metrics.Refusal
	Tool      = metrics.Tool
	Summary   = metrics.ReasoningSummary
)

// Delta is the output one event carries for one choice: its text is
// Chunk.Text[start:End], where start is the previous delta's End (0 for
// the first).
type Delta struct {
	Index int // the choice
	Kind  Kind
	End   int
}

// BadIndex is the index of a choice whose "index" was not a count: out
// of every range, so that it is refused rather than folded into choice 0.
const BadIndex = math.MaxInt32

// Finish is a choice's finish_reason.
type Finish struct {
	Index  int
	Reason string
}

// Usage is a usage object; a count the server did not send is -1.
type Usage = metrics.Usage

// NoUsage is a usage with no count.
var NoUsage = metrics.NoUsage

// Chunk is what one streamed chat.completion.chunk says that matters to
// the measurements. ParseChunk fills it without reflection or allocation:
// the encoding/json decoder cost a quarter of the client's CPU at high
// rates.
type Chunk struct {
	Deltas     []Delta  // output, in the order it came
	Text       []byte   // the deltas' text, appended
	Finish     []Finish // choices that finished
	HasUsage   bool
	Usage      Usage
	HasError   bool
	ErrMessage string
	// Embeddings is how many embeddings an embeddings answer holds;
	// NotVectors how many of them had no vector of numbers.
	Embeddings, NotVectors int
	// Choices says the object had a chat "choices" key; Responses that it
	// was a Responses API event or answer ("type" or "output"): an
	// endpoint speaking the other API is found out by them.
	Choices, Responses bool
	// BadUsage says which usage count was not a count and why: not a
	// number ("prompt_tokens is not a number", for "10" as a string), or
	// a number no count can be ("completion_tokens 99999999999 is not a
	// count": negative, fractional, past 2^31). The count is ignored, the
	// rest of the event read.
	BadUsage string

	index   int    // the choice being read
	typ     evType // a Responses API event's type
	status  evType // a Responses API answer's status
	reason  string // its incomplete_details.reason
	message string // an error event's message
	pend    []byte // a Responses event's delta, filed once its type is known
	hasPend bool
	whole   bool   // an answer not streamed: its message, output, status and data are read
	scratch []byte // finish reasons and error messages, before they become strings
	keys    []byte // the parser's key buffer, kept between events
}

// Output reports whether the chunk carries output of any choice.
func (c *Chunk) Output() bool { return len(c.Deltas) > 0 }

var errSyntax = errors.New("malformed JSON")

// reset empties c for the next event, keeping its buffers.
func (c *Chunk) reset() {
	*c = Chunk{Deltas: c.Deltas[:0], Text: c.Text[:0], Finish: c.Finish[:0], Usage: NoUsage, scratch: c.scratch[:0], keys: c.keys[:0], pend: c.pend[:0]}
}

// evType is a Responses API event type, or an answer's status, that
// matters to the measurements.
type evType uint8

const (
	evNone evType = iota
	evText
	evReasoning
	evSummary
	evRefusal
	evTool
	evCompleted
	evIncomplete
	evFailed
	evError
	evOther
)

// eventType reads a Responses API event's "type".
func eventType(s []byte) evType {
	switch string(s) {
	case "response.output_text.delta":
		return evText
	case "response.reasoning_text.delta":
		return evReasoning
	case "response.reasoning_summary_text.delta":
		return evSummary
	case "response.refusal.delta":
		return evRefusal
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		return evTool
	case "response.completed":
		return evCompleted
	case "response.incomplete":
		return evIncomplete
	case "response.failed":
		return evFailed
	case "error":
		return evError
	}
	return evOther
}

// statusType reads a Responses API answer's "status".
func statusType(s []byte) evType {
	switch string(s) {
	case "completed":
		return evCompleted
	case "incomplete":
		return evIncomplete
	case "failed", "cancelled":
		return evFailed
	}
	return evOther
}

// finishReason is the chat API's finish_reason for a Responses API
// answer's incomplete_details.reason.
func finishReason(reason string) string {
	switch reason {
	case "max_output_tokens":
		return "length"
	case "":
		return "incomplete"
	}
	return reason // content_filter is the same word
}

// ParseChunk reads one streamed event's JSON object into c.
func ParseChunk(data []byte, c *Chunk) error { return parse(data, c, false) }

// ParseAnswer reads a whole answer that was not streamed: a chat
// completion's messages, a Responses API response's output, an
// embeddings list.
func ParseAnswer(data []byte, c *Chunk) error { return parse(data, c, true) }

func parse(data []byte, c *Chunk, whole bool) error {
	c.reset()
	c.whole = whole
	p := parser{b: data, key: c.keys}
	defer func() { c.keys = p.key[:0] }()
	p.ws()
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "choices":
			c.Choices = true
			return p.array(func() error { return c.choice(&p) })
		case "usage":
			if p.null() {
				return nil
			}
			c.HasUsage = true
			return c.usage(&p)
		case "error":
			if p.null() {
				return nil
			}
			c.HasError = true
			return c.errorValue(&p)
		// The Responses API: an event's type and delta, the answer
		// (response.completed and the like carry it whole), or, not
		// streamed, the answer's own fields.
		case "type":
			s, err := c.word(&p)
			c.typ = eventType(s)
			c.Responses = c.Responses || c.typ != evOther && c.typ != evError || len(s) > 9 && string(s[:9]) == "response."
			return err
		case "delta":
			if p.peek() != '"' {
				return p.skip()
			}
			var err error
			c.pend, err = p.str(c.pend[:0])
			c.hasPend = true
			return err
		case "message":
			if p.peek() != '"' {
				return p.skip()
			}
			s, err := c.word(&p)
			c.message = string(s)
			return err
		case "response":
			if whole || p.peek() != '{' {
				return p.skip()
			}
			return p.object(func(k []byte) error { return c.answer(&p, k, false) })
		case "status", "incomplete_details", "output":
			if !whole {
				return p.skip()
			}
			c.Responses = c.Responses || string(key) == "output"
			return c.answer(&p, key, true)
		// Embeddings: count them, skip the vectors.
		case "data":
			if !whole || p.peek() != '[' {
				return p.skip()
			}
			return p.array(func() error {
				c.Embeddings++
				return c.embedding(&p)
			})
		}
		return p.skip()
	})
	if err == nil {
		c.event()
	}
	if err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return errSyntax
	}
	return nil
}

// embedding reads one item of an embeddings answer's data: an object
// whose "embedding" is an array of numbers. Anything else is counted in
// NotVectors (the answer is then not what was asked), not an error of
// the JSON.
func (c *Chunk) embedding(p *parser) error {
	if p.peek() != '{' {
		c.NotVectors++
		return p.skip()
	}
	vector := false
	err := p.object(func(k []byte) error {
		if string(k) != "embedding" || p.peek() != '[' {
			return p.skip()
		}
		n, ok := 0, true
		err := p.array(func() error {
			n++
			if c := p.peek(); c != '-' && (c < '0' || c > '9') {
				ok = false
				return p.skip()
			}
			return p.number()
		})
		vector = ok && n > 0
		return err
	})
	if !vector {
		c.NotVectors++
	}
	return err
}

// word reads a string value into the scratch buffer (no allocation):
// the bytes hold until the next word.
func (c *Chunk) word(p *parser) ([]byte, error) {
	s, err := p.str(c.scratch[:0])
	c.scratch = s[:0]
	return s, err
}

// errorValue reads an "error" value: a string or an object with a message.
func (c *Chunk) errorValue(p *parser) error {
	switch p.peek() {
	case '"':
		s, err := c.word(p)
		c.ErrMessage = string(s)
		return err
	case '{':
		return p.object(func(k []byte) error {
			if string(k) == "message" && p.peek() == '"' {
				s, err := c.word(p)
				c.ErrMessage = string(s)
				return err
			}
			return p.skip()
		})
	}
	return p.skip()
}

// answer reads a field of a Responses API answer. Its output is read only
// when it is not streamed (whole): an event's copy of the answer repeats
// what the deltas carried.
func (c *Chunk) answer(p *parser, k []byte, whole bool) error {
	switch string(k) {
	case "status":
		if p.peek() != '"' {
			return p.skip()
		}
		s, err := c.word(p)
		c.status = statusType(s)
		return err
	case "incomplete_details":
		return p.object(func(k []byte) error {
			if string(k) != "reason" || p.peek() != '"' {
				return p.skip()
			}
			s, err := c.word(p)
			c.reason = string(s)
			return err
		})
	case "usage":
		if p.null() {
			return nil
		}
		c.HasUsage = true
		return c.usage(p)
	case "error":
		if p.null() {
			return nil
		}
		if c.ErrMessage == "" {
			return c.errorValue(p)
		}
	case "output":
		if whole {
			return p.array(func() error { return c.outputItem(p) })
		}
	}
	return p.skip()
}

// outputItem reads one item of a whole Responses API answer's output: a
// message's text and refusal parts, reasoning, a function call.
func (c *Chunk) outputItem(p *parser) error {
	d0 := len(c.Deltas)
	kind := Content
	err := p.object(func(k []byte) error {
		switch string(k) {
		case "type":
			s, err := c.word(p)
			switch string(s) {
			case "reasoning":
				kind = Reasoning
			case "function_call", "custom_tool_call":
				kind = Tool
			}
			return err
		case "content", "summary":
			summary := string(k) == "summary"
			d := len(c.Deltas)
			defer func() {
				if summary {
					for i := d; i < len(c.Deltas); i++ {
						c.Deltas[i].Kind = Summary
					}
				}
			}()
			return p.array(func() error {
				return p.object(func(k []byte) error {
					if (string(k) == "text" || string(k) == "refusal") && p.peek() == '"' {
						var err error
						n := len(c.Text)
						if c.Text, err = p.str(c.Text); len(c.Text) > n {
							pk := Content
							if string(k) == "refusal" {
								pk = Refusal
							}
							c.Deltas = append(c.Deltas, Delta{Kind: pk, End: len(c.Text)})
						}
						return err
					}
					return p.skip()
				})
			})
		case "arguments", "input":
			if p.peek() != '"' {
				return p.skip()
			}
			var err error
			c.Text, err = p.str(c.Text)
			c.Deltas = append(c.Deltas, Delta{Kind: Tool, End: len(c.Text)})
			return err
		}
		return p.skip()
	})
	// The item's type may follow its content.
	if kind != Content {
		for i := d0; i < len(c.Deltas); i++ {
			if c.Deltas[i].Kind != Summary {
				c.Deltas[i].Kind = kind
			}
		}
	}
	return err
}

// event files what a Responses API event (or a whole answer) says once
// it is read: its field order is not fixed.
func (c *Chunk) event() {
	kind, output := Content, true
	switch c.typ {
	case evText:
	case evReasoning:
		kind = Reasoning
	case evSummary:
		kind = Summary
	case evRefusal:
		kind = Refusal
	case evTool:
		kind = Tool
	default:
		output = false // a delta of something not measured, or none
	}
	if output && c.hasPend && (len(c.pend) > 0 || kind == Tool) {
		c.Text = append(c.Text, c.pend...)
		c.Deltas = append(c.Deltas, Delta{Kind: kind, End: len(c.Text)})
	}
	end := c.typ
	if c.whole {
		end = c.status // not streamed: the answer's status
	}
	switch end {
	case evCompleted:
		c.Finish = append(c.Finish, Finish{Reason: "stop"})
	case evIncomplete:
		c.Finish = append(c.Finish, Finish{Reason: finishReason(c.reason)})
	case evFailed:
		c.HasError = true
		if c.ErrMessage == "" {
			c.ErrMessage = "response failed"
		}
	case evError:
		c.HasError = true
		if c.ErrMessage == "" {
			c.ErrMessage = c.message
		}
	}
}

// choice reads one choice object. Its "index" may come after its delta
// and finish_reason, so both are filed under index 0 and moved once the
// object is read.
func (c *Chunk) choice(p *parser) error {
	d0, f0 := len(c.Deltas), len(c.Finish)
	c.index = 0
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "index":
			var v int
			if err := p.int(&v); err != nil {
				return err
			}
			// Not a count (negative, fractional, past 2^31): BadIndex,
			// which the client refuses, never choice 0.
			c.index = v
			if v < 0 {
				c.index = BadIndex
			}
			return nil
		case "delta", "message": // a stream's delta, or a whole answer's message
			if p.null() {
				return nil
			}
			if (string(key) == "message") != c.whole {
				return p.skip()
			}
			return p.object(func(k []byte) error { return c.delta(p, k) })
		case "text": // legacy completions
			if p.null() {
				return nil
			}
			return c.delta(p, []byte("content"))
		case "finish_reason":
			if p.null() {
				return nil
			}
			s, err := c.word(p)
			c.Finish = append(c.Finish, Finish{Reason: string(s)})
			return err
		}
		return p.skip()
	})
	for i := d0; i < len(c.Deltas); i++ {
		c.Deltas[i].Index = c.index
	}
	for i := f0; i < len(c.Finish); i++ {
		c.Finish[i].Index = c.index
	}
	return err
}

// delta reads one field of a choice's delta.
func (c *Chunk) delta(p *parser, k []byte) error {
	kind := Content
	switch string(k) {
	case "content":
	case "reasoning_content":
		kind = Reasoning
	case "refusal":
		kind = Refusal
	case "tool_calls":
		if p.null() {
			return nil
		}
		return p.array(func() error {
			err := p.object(func(k []byte) error {
				if string(k) != "function" || p.null() {
					return p.skip()
				}
				return p.object(func(k []byte) error {
					if (string(k) == "name" || string(k) == "arguments") && !p.null() {
						var err error
						c.Text, err = p.str(c.Text)
						return err
					}
					return p.skip()
				})
			})
			// A tool call is output even when its first delta has no
			// text yet (the call's id and type).
			c.Deltas = append(c.Deltas, Delta{Kind: Tool, End: len(c.Text)})
			return err
		})
	default:
		return p.skip()
	}
	if p.null() {
		return nil
	}
	n := len(c.Text)
	var err error
	c.Text, err = p.str(c.Text)
	if len(c.Text) > n {
		c.Deltas = append(c.Deltas, Delta{Kind: kind, End: len(c.Text)})
	}
	return err
}

// usage reads a usage object, in the chat API's names or the Responses
// API's.
func (c *Chunk) usage(p *parser) error {
	u := &c.Usage
	return p.object(func(k []byte) error {
		switch string(k) {
		case "prompt_tokens", "input_tokens":
			return c.count(p, k, &u.Prompt)
		case "completion_tokens", "output_tokens":
			return c.count(p, k, &u.Completion)
		case "completion_tokens_details", "output_tokens_details":
			if p.peek() != '{' {
				return p.skip()
			}
			return p.object(func(k []byte) error {
				if string(k) == "reasoning_tokens" {
					return c.count(p, k, &u.Reasoning)
				}
				return p.skip()
			})
		case "prompt_tokens_details", "input_tokens_details":
			if p.peek() != '{' {
				return p.skip()
			}
			return p.object(func(k []byte) error {
				if string(k) == "cached_tokens" {
					return c.count(p, k, &u.Cached)
				}
				return p.skip()
			})
		}
		return p.skip()
	})
}

// count reads a usage count named k into *v. A value that is not a
// number ("10", true, an object) is skipped, and a number that is not a
// count (-5, 1.5, 1e999) read as absent; either is named in BadUsage:
// the event's output still counts.
func (c *Chunk) count(p *parser, k []byte, v *int) error {
	if b := p.peek(); b != 'n' && b != '-' && (b < '0' || b > '9') {
		if c.BadUsage == "" {
			c.BadUsage = string(k) + " is not a number"
		}
		return p.skip()
	}
	if p.null() {
		return nil
	}
	start := p.i
	if err := p.int(v); err != nil {
		return err
	}
	if *v < 0 && c.BadUsage == "" {
		num := p.b[start:p.i]
		if len(num) > 24 {
			num = append(num[:24:24], "..."...)
		}
		c.BadUsage = string(k) + " " + string(num) + " is not a count"
	}
	return nil
}

// parser is a minimal JSON reader over b.
type parser struct {
	b     []byte
	i     int
	key   []byte // buffer for object keys; a key is used before its value is read
	depth int    // objects and arrays open
}

// maxDepth bounds nesting, as encoding/json does: a hostile server's
// thousands of brackets must not overflow the stack.
const maxDepth = 10000

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// null consumes a null literal if one is next.
func (p *parser) null() bool {
	if p.peek() == 'n' && len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling field with each key; field
// must consume the value.
func (p *parser) object(field func(key []byte) error) error {
	if p.null() {
		return nil // as encoding/json does, null is an empty object
	}
	if p.peek() != '{' {
		return errSyntax
	}
	if p.depth++; p.depth > maxDepth {
		return errSyntax
	}
	defer func() { p.depth-- }()
	p.i++
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		if p.peek() != '"' {
			return errSyntax
		}
		key, err := p.str(p.key[:0])
		if err != nil {
			return err
		}
		p.key = key
		if p.peek() != ':' {
			return errSyntax
		}
		p.i++
		if err := field(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// array reads [value, ...], calling elem for each value.
func (p *parser) array(elem func() error) error {
	if p.null() {
		return nil
	}
	if p.peek() != '[' {
		return errSyntax
	}
	if p.depth++; p.depth > maxDepth {
		return errSyntax
	}
	defer func() { p.depth-- }()
	p.i++
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// str appends the string value at p to dst, unescaped.
func (p *parser) str(dst []byte) ([]byte, error) {
	if p.peek() != '"' {
		return dst, errSyntax
	}
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return dst, nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return dst, errSyntax
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return dst, errSyntax
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if x, ok := p.hex4(); ok {
							r2 = x
						} else {
							return dst, errSyntax
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, errSyntax
			}
		case c < 0x20:
			return dst, errSyntax
		case c >= utf8.RuneSelf:
			// Invalid UTF-8 becomes U+FFFD, as encoding/json does.
			r, n := utf8.DecodeRune(p.b[p.i:])
			dst = utf8.AppendRune(dst, r)
			p.i += n
		default:
			// Copy the run of plain ASCII at once.
			j := p.i + 1
			for j < len(p.b) && p.b[j] != '"' && p.b[j] != '\\' && p.b[j] >= 0x20 && p.b[j] < utf8.RuneSelf {
				j++
			}
			dst = append(dst, p.b[p.i:j]...)
			p.i = j
		}
	}
	return dst, errSyntax
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// maxCount is the largest token count taken from a server: anything
// larger, negative or fractional is not a count, and is read as absent.
const maxCount = math.MaxInt32

// int reads a count into *v: a whole number from 0 to maxCount, else -1
// (absent), so that no float from the wire becomes an int unchecked. A
// null leaves *v as it was.
func (p *parser) int(v *int) error {
	if p.null() {
		return nil
	}
	start := p.i
	if err := p.number(); err != nil {
		return err
	}
	n, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return errSyntax
	case err != nil || n < 0 || n > maxCount || n != math.Trunc(n):
		*v = -1
	default:
		*v = int(n)
	}
	return nil
}

func (p *parser) number() error {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := 0
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			break
		}
		p.i++
	}
	if digits == 0 || p.i == start {
		return errSyntax
	}
	return nil
}

// skip consumes any value.
func (p *parser) skip() error {
	switch c := p.peek(); {
	case c == '{':
		return p.object(func([]byte) error { return p.skip() })
	case c == '[':
		return p.array(p.skip)
	case c == '"':
		// Skip without unescaping.
		p.i++
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				p.i++
				return nil
			case '\\':
				p.i += 2
			default:
				if p.b[p.i] < 0x20 {
					return errSyntax
				}
				p.i++
			}
		}
		return errSyntax
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return errSyntax
}

func (p *parser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return errSyntax
	}
	p.i += len(s)
	return nil
}
