package api

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
	evItemAdded
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
	case "response.output_item.added":
		return evItemAdded
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

// responsesField reads a key of a Responses API event or answer: an
// event's type and delta, the answer (response.completed and the like
// carry it whole), or, not streamed, the answer's own fields.
func (c *Chunk) responsesField(p *parser, key []byte) error {
	switch string(key) {
	case "type":
		if p.null() {
			return nil
		}
		s, err := c.word(p)
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
		s, err := c.word(p)
		c.message = string(s)
		return err
	case "output_index":
		if b := p.peek(); b != '-' && (b < '0' || b > '9') {
			return p.skip() // only a number says which
		}
		var err error
		c.out, err = p.index()
		return err
	case "item":
		if p.peek() != '{' {
			return p.skip()
		}
		c.item = item{}
		return p.object(func(k []byte) error { return c.itemField(p, k) })
	case "response":
		if c.whole || p.peek() != '{' {
			return p.skip()
		}
		return p.object(func(k []byte) error { return c.answer(p, k, false) })
	case "status", "incomplete_details", "output":
		if !c.whole {
			return p.skip()
		}
		c.Responses = c.Responses || string(key) == "output"
		return c.answer(p, key, true)
	}
	return p.skip()
}

// item is what a Responses API event's item says of a tool call: its
// type, its call_id, name and arguments (spans of Chunk.Names), kept
// until the event's type is known.
type item struct {
	call, hasID, hasName, hasArgs bool
	id, name, args                Span
}

// itemField reads a field of an event's item.
func (c *Chunk) itemField(p *parser, k []byte) error {
	it := &c.item
	if p.peek() != '"' {
		return p.skip() // only strings say anything here
	}
	var err error
	switch string(k) {
	case "type":
		var s []byte
		s, err = c.word(p)
		it.call = string(s) == "function_call" || string(s) == "custom_tool_call"
	case "call_id":
		it.id, err = c.name(p)
		it.hasID = true
	case "name":
		it.name, err = c.name(p)
		it.hasName = true
	case "arguments", "input":
		it.args, err = c.name(p)
		it.hasArgs = true
	default:
		return p.skip()
	}
	return err
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
			pos := 0
			return p.array(func() error {
				err := c.outputItem(p, pos)
				pos++
				return err
			})
		}
	}
	return p.skip()
}

// outputItem reads one item of a whole Responses API answer's output: a
// message's text and refusal parts, reasoning, a function call.
func (c *Chunk) outputItem(p *parser, pos int) error {
	d0 := len(c.Deltas)
	kind := Content
	cp := CallPart{Delta: -1, Call: pos}
	err := p.object(func(k []byte) error {
		switch string(k) {
		case "call_id", "name":
			if p.peek() != '"' {
				return p.skip()
			}
			s, err := c.name(p)
			if string(k) == "name" {
				cp.Name, cp.HasName = s, true
			} else {
				cp.ID, cp.HasID = s, true
			}
			return err
		case "type":
			if p.null() {
				return nil
			}
			s, err := c.word(p)
			switch string(s) {
			case "reasoning":
				kind = Reasoning
			case "function_call", "custom_tool_call":
				kind = Tool
			}
			return err
		case "content", "summary":
			return c.itemParts(p, string(k) == "summary")
		case "arguments", "input":
			if p.peek() != '"' {
				return p.skip()
			}
			var err error
			c.Text, err = p.str(c.Text)
			c.Deltas = append(c.Deltas, Delta{Kind: Tool, End: len(c.Text)})
			cp.Delta = len(c.Deltas) - 1
			return err
		}
		return p.skip()
	})
	if kind == Tool {
		if cp.Delta < 0 {
			// A call with no arguments is still a call.
			c.Deltas = append(c.Deltas, Delta{Kind: Tool, End: len(c.Text)})
			cp.Delta = len(c.Deltas) - 1
		}
		c.Calls = append(c.Calls, cp)
	}
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

// itemParts reads an output item's content (or reasoning summary) parts:
// their text and refusals, as deltas of the item.
func (c *Chunk) itemParts(p *parser, summary bool) error {
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
		if kind == Tool {
			c.Calls = append(c.Calls, CallPart{Delta: len(c.Deltas) - 1, Call: c.out})
		}
	}
	if it := &c.item; c.typ == evItemAdded && it.call {
		// A tool call begins: its id and name are output (TTFT), with
		// whatever arguments the item already holds.
		if it.hasArgs {
			c.Text = append(c.Text, c.Names[it.args.Start:it.args.End]...)
		}
		c.Deltas = append(c.Deltas, Delta{Kind: Tool, End: len(c.Text)})
		c.Calls = append(c.Calls, CallPart{Delta: len(c.Deltas) - 1, Call: c.out, ID: it.id, Name: it.name, HasID: it.hasID, HasName: it.hasName})
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
