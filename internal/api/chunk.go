package api

import (
	"math"

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
	// Calls are the tool calls the event's Tool deltas belong to, one
	// for each: a chat delta's tool_calls entry, a Responses API
	// function_call item (added, or whole) or its arguments' delta.
	Calls []CallPart
	// Names holds the calls' ids and names (CallPart.ID, CallPart.Name).
	Names []byte

	index   int    // the choice being read
	typ     evType // a Responses API event's type
	status  evType // a Responses API answer's status
	reason  string // its incomplete_details.reason
	message string // an error event's message
	pend    []byte // a Responses event's delta, filed once its type is known
	hasPend bool
	out     int    // a Responses event's output_index
	item    item   // a Responses event's item
	whole   bool   // an answer not streamed: its message, output, status and data are read
	scratch []byte // finish reasons and error messages, before they become strings
	keys    []byte // the parser's key buffer, kept between events
}

// Output reports whether the chunk carries output of any choice.
func (c *Chunk) Output() bool { return len(c.Deltas) > 0 }

// reset empties c for the next event, keeping its buffers. Field by
// field: assigning a whole Chunk literal builds it and copies it, twice
// the cost on every event (TestReset checks that no field is missed).
func (c *Chunk) reset() {
	c.Deltas, c.Text, c.Finish, c.Calls, c.Names = c.Deltas[:0], c.Text[:0], c.Finish[:0], c.Calls[:0], c.Names[:0]
	c.HasUsage, c.Usage, c.HasError, c.ErrMessage = false, NoUsage, false, ""
	c.Embeddings, c.NotVectors, c.Choices, c.Responses, c.BadUsage = 0, 0, false, false, ""
	c.index, c.typ, c.status, c.reason, c.message = 0, evNone, evNone, "", ""
	c.pend, c.hasPend, c.out, c.item, c.whole = c.pend[:0], false, 0, item{}, false
	c.scratch, c.keys = c.scratch[:0], c.keys[:0]
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
	// Each key of the event's (or answer's) object: the chat API's
	// choices, usage and error, the Responses API's fields, an embeddings
	// answer's data; any other key is skipped. The switch is the
	// callback's own body: as a method of its own it would be one more
	// call for every key of every event.
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
		case "type", "delta", "message", "response", "status", "incomplete_details", "output", "item", "output_index":
			return c.responsesField(&p, key)
		case "data":
			// Embeddings: count them, skip the vectors.
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
	if err != nil {
		return err
	}
	c.event()
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

// choice reads one choice object. Its "index" may come after its delta
// and finish_reason, so both are filed under index 0 and moved once the
// object is read.
func (c *Chunk) choice(p *parser) error {
	d0, f0 := len(c.Deltas), len(c.Finish)
	c.index = 0
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "index":
			var err error
			c.index, err = p.index()
			return err
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
		pos := 0
		return p.array(func() error {
			err := c.toolCall(p, pos)
			pos++
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

// Span is a run of bytes of Chunk.Names.
type Span struct{ Start, End int }

// CallPart is what one event says of one tool call: its arguments'
// fragment is the text of Deltas[Delta] (maybe empty: a call's first
// delta may carry only its id and name); its id and name, when the event
// carries them, are spans of Chunk.Names.
type CallPart struct {
	Delta int // the delta, in Chunk.Deltas, of the call's arguments
	// Call is the call's index among its choice's calls: the chat API's
	// "index" (else its place in the event's tool_calls), the Responses
	// API's output_index; BadIndex when it is not a count.
	Call           int
	ID, Name       Span
	HasID, HasName bool
}

// toolCall reads one entry of a chat delta's (or message's) tool_calls:
// pos is its place in the array, its index unless it says one. A tool
// call is output even when its delta has no arguments yet (its first:
// the call's id and name), so it always makes a delta.
func (c *Chunk) toolCall(p *parser, pos int) error {
	c.Deltas = append(c.Deltas, Delta{Kind: Tool, End: len(c.Text)})
	cp := CallPart{Delta: len(c.Deltas) - 1, Call: pos}
	err := p.object(func(k []byte) error {
		switch string(k) {
		case "index":
			var err error
			cp.Call, err = p.index()
			return err
		case "id":
			if p.null() {
				return nil
			}
			var err error
			cp.ID, err = c.name(p)
			cp.HasID = true
			return err
		case "function":
			// A null function, name or arguments is none (a call's
			// later deltas may say "name":null).
			return p.object(func(k []byte) error {
				switch string(k) {
				case "name":
					if p.null() {
						return nil
					}
					var err error
					cp.Name, err = c.name(p)
					cp.HasName = true
					return err
				case "arguments":
					if p.null() {
						return nil
					}
					var err error
					c.Text, err = p.str(c.Text)
					return err
				}
				return p.skip()
			})
		}
		return p.skip()
	})
	c.Deltas[cp.Delta].End = len(c.Text)
	c.Calls = append(c.Calls, cp)
	return err
}

// name reads a string value into Names.
func (c *Chunk) name(p *parser) (Span, error) {
	start := len(c.Names)
	var err error
	c.Names, err = p.str(c.Names)
	return Span{start, len(c.Names)}, err
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
