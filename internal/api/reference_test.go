package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The reference reader: what a chunk or an answer says, read with
// encoding/json, for the differential fuzz. encoding/json does the JSON
// (syntax, strings and their escapes, numbers, nesting); the meaning is
// restated here as plainly as it can be, walking each object's fields in
// the order they came, since the fast parser's reading depends on it
// where a key repeats (a later "index" wins; two usage objects' counts
// overwrite each other). Keys are matched exactly, as servers send them
// and the fast parser reads them.
//
// A value of the wrong JSON type where the fast parser reads one ("index"
// a string, "choices" an object, "type" a number) makes the answer not
// what it should be: ok false, as decoding into typed fields says it. A
// null is no value, anywhere.

// refDelta is one delta: its choice, its kind and its text.
type refDelta struct {
	Index int
	Kind  Kind
	Text  string
}

// refCall is what an event says of one tool call.
type refCall struct {
	Choice, Call   int
	ID, Name       string
	HasID, HasName bool
	Args           string
}

// view is what a chunk says, in a form two readers can be compared in.
type view struct {
	deltas     []refDelta
	finish     []Finish
	usage      Usage
	hasUse     bool
	hasErr     bool
	errText    string
	choices    bool // a "choices" key
	responses  bool // a Responses API event or answer
	embeddings int
	notVectors int
	badUsage   string
	calls      []refCall
}

func newView() view { return view{usage: NoUsage} }

// viewOf is what the fast parser read into c.
func viewOf(c *Chunk) view {
	v := view{usage: c.Usage, hasUse: c.HasUsage, hasErr: c.HasError, errText: c.ErrMessage, choices: c.Choices,
		responses: c.Responses, embeddings: c.Embeddings, notVectors: c.NotVectors, badUsage: c.BadUsage}
	start := 0
	for _, d := range c.Deltas {
		v.deltas = append(v.deltas, refDelta{d.Index, d.Kind, string(c.Text[start:d.End])})
		start = d.End
	}
	v.finish = append(v.finish, c.Finish...)
	for _, cp := range c.Calls {
		d := c.Deltas[cp.Delta]
		start := 0
		if cp.Delta > 0 {
			start = c.Deltas[cp.Delta-1].End
		}
		v.calls = append(v.calls, refCall{Choice: d.Index, Call: cp.Call, ID: string(c.Names[cp.ID.Start:cp.ID.End]),
			Name: string(c.Names[cp.Name.Start:cp.Name.End]), HasID: cp.HasID, HasName: cp.HasName, Args: string(c.Text[start:d.End])})
	}
	return v
}

// text is each choice's and kind's text ("0/3" is choice 0's tool calls).
func (v view) text() map[string]string {
	m := map[string]string{}
	for _, d := range v.deltas {
		m[fmt.Sprintf("%d/%d", d.Index, d.Kind)] += d.Text
	}
	return m
}

// finishes is each choice's finish reason, the last said.
func (v view) finishes() map[int]string {
	m := map[int]string{}
	for _, f := range v.finish {
		m[f.Index] = f.Reason
	}
	return m
}

func same(a, b view) bool {
	return slices.Equal(a.deltas, b.deltas) && slices.Equal(a.finish, b.finish) && a.usage == b.usage &&
		a.hasUse == b.hasUse && a.hasErr == b.hasErr && a.errText == b.errText && a.choices == b.choices &&
		a.responses == b.responses && a.embeddings == b.embeddings && a.notVectors == b.notVectors && a.badUsage == b.badUsage &&
		slices.Equal(a.calls, b.calls)
}

func (v view) String() string {
	return fmt.Sprintf("{deltas %+v finish %v usage %+v (%v) error %v %q choices %v responses %v embeddings %d/%d bad %q calls %+v}",
		v.deltas, v.finish, v.usage, v.hasUse, v.hasErr, v.errText, v.choices, v.responses, v.embeddings, v.notVectors, v.badUsage, v.calls)
}

// member is one field of an object, its value raw.
type member struct {
	key string
	val json.RawMessage
}

// jsonType is a raw value's JSON type: '{', '[', '"', 'n' (null), 't' or
// 'f' (true, false), '0' (a number).
func jsonType(raw json.RawMessage) byte {
	switch b := raw[0]; b {
	case '{', '[', '"', 'n', 't', 'f':
		return b
	}
	return '0'
}

func isNull(raw json.RawMessage) bool { return jsonType(raw) == 'n' }

// fields is an object's members in order (none for null); ok false for a
// value that is neither.
func fields(raw json.RawMessage) (ms []member, ok bool) {
	switch jsonType(raw) {
	case 'n':
		return nil, true
	case '{':
	default:
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.Token() // {
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			panic(err) // the whole was valid JSON
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		ms = append(ms, member{k.(string), v})
	}
	return ms, true
}

// elems is an array's values (none for null); ok false for a value that
// is neither.
func elems(raw json.RawMessage) (vs []json.RawMessage, ok bool) {
	switch jsonType(raw) {
	case 'n':
		return nil, true
	case '[':
	default:
		return nil, false
	}
	return vs, json.Unmarshal(raw, &vs) == nil
}

// text is a string value; ok false for any other.
func text(raw json.RawMessage) (s string, ok bool) {
	if jsonType(raw) != '"' {
		return "", false
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// count is the reading of a count: a whole number from 0 to maxCount,
// else -1 (absent).
func count(num string) int {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f > maxCount || f != math.Trunc(f) {
		return -1
	}
	return int(f)
}

// refReader is the reference's state while it reads one object.
type refReader struct {
	v       view
	whole   bool   // an answer not streamed
	typ     string // the event's "type"
	hasTyp  bool
	status  string // the answer's "status"
	reason  string // its incomplete_details.reason
	message string // an error event's "message"
	pend    string // the event's "delta"
	hasPend bool
	out     int      // the event's output_index
	item    []member // the event's (last) item's string fields
	hasItem bool
}

// reference reads a chunk (or, whole, an answer not streamed) with
// encoding/json, the way the fast parser must agree with; ok false when
// it is not JSON, or not of the shape the parser reads.
func reference(data []byte, whole bool) (view, bool) {
	var raw json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return view{}, false
	}
	ms, ok := fields(raw)
	if !ok {
		return view{}, false
	}
	r := &refReader{v: newView(), whole: whole}
	for _, m := range ms {
		if !r.field(m) {
			return view{}, false
		}
	}
	r.end()
	return r.v, true
}

func (r *refReader) add(index int, kind Kind, s string) {
	r.v.deltas = append(r.v.deltas, refDelta{index, kind, s})
}

// field reads one key of the object.
func (r *refReader) field(m member) bool {
	switch m.key {
	case "choices":
		r.v.choices = true
		cs, ok := elems(m.val)
		for _, c := range cs {
			ok = ok && r.choice(c)
		}
		return ok
	case "usage":
		if isNull(m.val) {
			return true
		}
		r.v.hasUse = true
		return r.usage(m.val)
	case "error":
		if !isNull(m.val) {
			r.v.hasErr = true
			r.errorText(m.val)
		}
	case "type":
		if isNull(m.val) {
			return true
		}
		s, ok := text(m.val)
		r.typ, r.hasTyp = s, true
		_, measured := eventKind(s)
		ends := eventEnd(s)
		r.v.responses = r.v.responses || measured || ends != "" && ends != "error" || len(s) > len("response.") && s[:len("response.")] == "response."
		return ok
	case "delta":
		if s, ok := text(m.val); ok {
			r.pend, r.hasPend = s, true
		}
	case "message":
		if s, ok := text(m.val); ok {
			r.message = s
		}
	case "output_index":
		if jsonType(m.val) == '0' {
			if r.out = count(string(m.val)); r.out < 0 {
				r.out = BadIndex
			}
		}
	case "item":
		if jsonType(m.val) == '{' {
			r.item, _ = fields(m.val)
			r.hasItem = true
		}
	case "response":
		if r.whole || jsonType(m.val) != '{' {
			return true
		}
		ms, _ := fields(m.val)
		for _, a := range ms {
			if !r.answer(a, false) {
				return false
			}
		}
	case "status", "incomplete_details", "output":
		if !r.whole {
			return true
		}
		r.v.responses = r.v.responses || m.key == "output"
		return r.answer(m, true)
	case "data":
		if !r.whole || jsonType(m.val) != '[' {
			return true
		}
		es, _ := elems(m.val)
		for _, e := range es {
			r.v.embeddings++
			r.embedding(e)
		}
	}
	return true
}

// choice reads one choice: its deltas and finish reason are its last
// "index"'s (null is choice 0; a number that is not a count, BadIndex).
func (r *refReader) choice(raw json.RawMessage) bool {
	ms, ok := fields(raw)
	if !ok {
		return false
	}
	index := 0
	for _, m := range ms {
		if m.key != "index" {
			continue
		}
		switch jsonType(m.val) {
		case 'n':
			index = 0
		case '0':
			if index = count(string(m.val)); index < 0 {
				index = BadIndex
			}
		default:
			return false
		}
	}
	for _, m := range ms {
		if isNull(m.val) {
			continue
		}
		switch m.key {
		case "delta", "message": // a stream's delta, or a whole answer's message
			if (m.key == "message") != r.whole {
				continue
			}
			ds, ok := fields(m.val)
			if !ok {
				return false
			}
			for _, d := range ds {
				if !r.delta(index, d) {
					return false
				}
			}
		case "text": // legacy completions
			s, ok := text(m.val)
			if !ok {
				return false
			}
			if s != "" {
				r.add(index, Content, s)
			}
		case "finish_reason":
			s, ok := text(m.val)
			if !ok {
				return false
			}
			r.v.finish = append(r.v.finish, Finish{index, s})
		}
	}
	return true
}

// deltaKind is the kind of a chat delta's text named key.
func deltaKind(key string) (Kind, bool) {
	switch key {
	case "content":
		return Content, true
	case "reasoning_content":
		return Reasoning, true
	case "refusal":
		return Refusal, true
	}
	return 0, false
}

// delta reads one field of a choice's delta (or message).
func (r *refReader) delta(index int, m member) bool {
	if isNull(m.val) {
		return true
	}
	if kind, ok := deltaKind(m.key); ok {
		s, ok := text(m.val)
		if s != "" {
			r.add(index, kind, s)
		}
		return ok
	}
	if m.key != "tool_calls" {
		return true
	}
	calls, ok := elems(m.val)
	for pos, call := range calls {
		// A tool call is output even with no arguments (its first delta).
		c := refCall{Choice: index, Call: pos}
		ms, ok2 := fields(call)
		ok = ok && ok2
		for _, f := range ms {
			switch f.key {
			case "index":
				switch jsonType(f.val) {
				case 'n':
				case '0':
					if c.Call = count(string(f.val)); c.Call < 0 {
						c.Call = BadIndex
					}
				default:
					ok = false
				}
			case "id":
				if !isNull(f.val) {
					s, ok3 := text(f.val)
					ok = ok && ok3
					c.ID, c.HasID = s, true
				}
			case "function":
				fs, ok3 := fields(f.val)
				ok = ok && ok3
				for _, nf := range fs {
					if isNull(nf.val) || nf.key != "name" && nf.key != "arguments" {
						continue
					}
					t, ok4 := text(nf.val)
					ok = ok && ok4
					if nf.key == "name" {
						c.Name, c.HasName = t, true
					} else {
						c.Args += t
					}
				}
			}
		}
		r.add(index, Tool, c.Args)
		r.v.calls = append(r.v.calls, c)
	}
	return ok
}

// usage reads a usage object, in either API's names.
func (r *refReader) usage(raw json.RawMessage) bool {
	ms, ok := fields(raw)
	u := &r.v.usage
	for _, m := range ms {
		switch m.key {
		case "prompt_tokens", "input_tokens":
			r.count(m, &u.Prompt)
		case "completion_tokens", "output_tokens":
			r.count(m, &u.Completion)
		case "completion_tokens_details", "output_tokens_details", "prompt_tokens_details", "input_tokens_details":
			if jsonType(m.val) != '{' {
				continue
			}
			want, dst := "reasoning_tokens", &u.Reasoning
			if m.key == "prompt_tokens_details" || m.key == "input_tokens_details" {
				want, dst = "cached_tokens", &u.Cached
			}
			ds, _ := fields(m.val)
			for _, d := range ds {
				if d.key == want {
					r.count(d, dst)
				}
			}
		}
	}
	return ok
}

// count reads a usage count into *dst: a null is none, a number that is
// not a count -1, and anything that is not a number is left; the first
// that is not a count is named in badUsage.
func (r *refReader) count(m member, dst *int) {
	switch jsonType(m.val) {
	case 'n':
		return
	case '0':
		num := string(m.val)
		if *dst = count(num); *dst < 0 && r.v.badUsage == "" {
			if len(num) > 24 {
				num = num[:24] + "..."
			}
			r.v.badUsage = m.key + " " + num + " is not a count"
		}
	default:
		if r.v.badUsage == "" {
			r.v.badUsage = m.key + " is not a number"
		}
	}
}

// errorText reads an error's message, a string or an object's
// "message", into errText.
func (r *refReader) errorText(raw json.RawMessage) {
	if s, ok := text(raw); ok {
		r.v.errText = s
		return
	}
	if jsonType(raw) != '{' {
		return
	}
	ms, _ := fields(raw)
	for _, m := range ms {
		if s, ok := text(m.val); ok && m.key == "message" {
			r.v.errText = s
		}
	}
}

// answer reads a field of a Responses API answer: whole, an answer not
// streamed (its output read), else the copy an event carries.
func (r *refReader) answer(m member, whole bool) bool {
	switch m.key {
	case "status":
		if s, ok := text(m.val); ok {
			r.status = s
		}
	case "incomplete_details":
		ms, ok := fields(m.val)
		for _, d := range ms {
			if s, ok := text(d.val); ok && d.key == "reason" {
				r.reason = s
			}
		}
		return ok
	case "usage":
		if isNull(m.val) {
			return true
		}
		r.v.hasUse = true
		return r.usage(m.val)
	case "error":
		// The answer's error is the message only when none came before.
		if !isNull(m.val) && r.v.errText == "" {
			r.errorText(m.val)
		}
	case "output":
		if !whole {
			return true
		}
		items, ok := elems(m.val)
		for pos, it := range items {
			ok = ok && r.outputItem(it, pos)
		}
		return ok
	}
	return true
}

// outputItem reads one item of a whole answer's output: its texts are
// content or refusal, or of the item's kind (reasoning, a tool call),
// whichever order its type and texts come in; a summary's are Summary.
func (r *refReader) outputItem(raw json.RawMessage, pos int) bool {
	ms, ok := fields(raw)
	if !ok {
		return false
	}
	kind := Content
	var ds []refDelta
	call, args := refCall{Call: pos}, -1
	for _, m := range ms {
		switch m.key {
		case "call_id", "name":
			if s, ok := text(m.val); ok {
				if m.key == "name" {
					call.Name, call.HasName = s, true
				} else {
					call.ID, call.HasID = s, true
				}
			}
		case "type":
			if isNull(m.val) {
				continue
			}
			s, ok := text(m.val)
			if !ok {
				return false
			}
			switch s {
			case "reasoning":
				kind = Reasoning
			case "function_call", "custom_tool_call":
				kind = Tool
			}
		case "content", "summary":
			parts, ok := elems(m.val)
			if !ok {
				return false
			}
			for _, part := range parts {
				ps, ok := fields(part)
				if !ok {
					return false
				}
				for _, p := range ps {
					s, ok := text(p.val)
					if !ok || s == "" || p.key != "text" && p.key != "refusal" {
						continue
					}
					k := Content
					switch {
					case m.key == "summary":
						k = Summary
					case p.key == "refusal":
						k = Refusal
					}
					ds = append(ds, refDelta{0, k, s})
				}
			}
		case "arguments", "input":
			if s, ok := text(m.val); ok {
				ds = append(ds, refDelta{0, Tool, s}) // a call with no arguments is still a call
				args = len(ds) - 1
			}
		}
	}
	if kind == Tool {
		if args < 0 {
			ds = append(ds, refDelta{0, Tool, ""})
			args = len(ds) - 1
		}
		call.Args = ds[args].Text
		r.v.calls = append(r.v.calls, call)
	}
	for _, d := range ds {
		if kind != Content && d.Kind != Summary {
			d.Kind = kind
		}
		r.v.deltas = append(r.v.deltas, d)
	}
	return true
}

// eventKind is the kind of output of a Responses API event's delta, if
// it is output.
func eventKind(typ string) (Kind, bool) {
	switch typ {
	case "response.output_text.delta":
		return Content, true
	case "response.reasoning_text.delta":
		return Reasoning, true
	case "response.reasoning_summary_text.delta":
		return Summary, true
	case "response.refusal.delta":
		return Refusal, true
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		return Tool, true
	}
	return 0, false
}

// eventEnd is how an event ends a stream: completed, incomplete, failed,
// error, or "" (it does not).
func eventEnd(typ string) string {
	switch typ {
	case "response.completed", "response.incomplete", "response.failed":
		return typ[len("response."):]
	case "error":
		return typ
	}
	return ""
}

// answerEnd is how a whole answer's status ends it, in eventEnd's words.
func answerEnd(status string) string {
	switch status {
	case "completed", "incomplete", "failed":
		return status
	case "cancelled":
		return "failed"
	}
	return ""
}

// end files what the event (or answer) says once all of it is read: its
// delta, and how it ended.
func (r *refReader) end() {
	if kind, ok := eventKind(r.typ); ok && r.hasTyp && r.hasPend && (r.pend != "" || kind == Tool) {
		r.add(0, kind, r.pend)
		if kind == Tool {
			r.v.calls = append(r.v.calls, refCall{Call: r.out, Args: r.pend})
		}
	}
	if r.hasTyp && r.typ == "response.output_item.added" && r.hasItem {
		// A tool call begins: its id and name, and any arguments.
		c, isCall := refCall{Call: r.out}, false
		for _, f := range r.item {
			s, ok := text(f.val)
			if !ok {
				continue
			}
			switch f.key {
			case "type":
				isCall = s == "function_call" || s == "custom_tool_call"
			case "call_id":
				c.ID, c.HasID = s, true
			case "name":
				c.Name, c.HasName = s, true
			case "arguments", "input":
				c.Args = s
			}
		}
		if isCall {
			r.add(0, Tool, c.Args)
			r.v.calls = append(r.v.calls, c)
		}
	}
	how := eventEnd(r.typ)
	if r.whole {
		how = answerEnd(r.status)
	}
	switch how {
	case "completed":
		r.v.finish = append(r.v.finish, Finish{0, "stop"})
	case "incomplete":
		reason := r.reason
		switch reason {
		case "max_output_tokens":
			reason = "length"
		case "":
			reason = "incomplete"
		}
		r.v.finish = append(r.v.finish, Finish{0, reason})
	case "failed", "error":
		r.v.hasErr = true
		if r.v.errText == "" {
			r.v.errText = "response failed"
			if how == "error" {
				r.v.errText = r.message
			}
		}
	}
}

// embedding reads one item of an embeddings answer's data: a vector is
// an object whose (last) "embedding" is an array of one or more numbers.
func (r *refReader) embedding(raw json.RawMessage) {
	vector := false
	ms, _ := fields(raw)
	for _, m := range ms {
		if m.key != "embedding" || jsonType(m.val) != '[' {
			continue
		}
		nums, _ := elems(m.val)
		vector = len(nums) > 0
		for _, n := range nums {
			vector = vector && jsonType(n) == '0'
		}
	}
	if jsonType(raw) != '{' || !vector {
		r.v.notVectors++
	}
}
