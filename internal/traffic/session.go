package traffic

import (
	"math/rand/v2"
	"strconv"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// Session is a conversation in progress: each turn's request carries the
// whole history, with the assistant's answers as they were received, then
// the user's next message. An answer of tool calls is followed, as an
// agent loop does, by a tool message per call holding the agent's fixed
// result; a synthetic conversation's next turn then adds no user
// message. Used by one goroutine.
type Session struct {
	// ID numbers the session in its run, from 0.
	ID      int64
	turns   []Turn     // a dataset's conversation, nil for synthetic
	synth   *Synthetic // synthetic turns
	agent   *Agent     // tools, a format, images, the tool result: nil for none
	fields  *fields    // a dataset conversation's own tools and format
	expect  *schema.Expect
	rng     *rand.Rand // the session's own: sessions run in parallel
	maxOut  int        // overrides a dataset's output lengths
	last    int        // the most turns
	sent    int        // turns handed out
	called  bool       // the last answer was tool calls, answered with results
	history []byte     // '[' and the messages so far, comma-separated
	// images, imageBytes and imageTokens are the history's images so
	// far (imageTokens -1: not known).
	images, imageBytes, imageTokens int
}

// Turns is how many turns the session will send at most.
func (s *Session) Turns() int { return s.last }

// Next returns the next turn's request, nil when the session is over.
func (s *Session) Next() *Item {
	if s.sent >= s.last {
		return nil
	}
	s.sent++
	turn := s.sent
	it := &Item{Session: s.ID, Turn: turn, Prompt: -1, Expect: s.expect, fields: s.fields}
	if s.synth != nil {
		prompt := max(s.synth.prompt.sample(s.rng), s.synth.prefix+MinContext)
		it.MaxTokens = s.synth.output.sample(s.rng)
		switch {
		case turn == 1:
			// The first turn is an ordinary synthetic request: its
			// length is exact.
			it.Prompt = prompt + s.agent.Extra()
			m := s.synth.render(nil, s.ID, prompt, int(uint64(s.ID)%uint64(s.synth.prefixes)))
			s.history = append(s.history[:0], m[:len(m)-1]...)
			if a := s.agent; a != nil {
				s.images, s.imageBytes, s.imageTokens = a.Images, a.ImageBytes(), a.Images*a.ImageTokens
			}
		case s.called:
			// The agent loop: the tool results are the turn's news; the
			// model goes on from them.
		default:
			// A following turn adds a user message of the sampled
			// length, its overhead included, with words of its own.
			k := max(prompt-s.synth.prefix-tokenizerReply-msgOverhead, 1)
			s.history = append(s.history, `,{"role":"user","content":"`...)
			s.history = appendWords(s.history, s.synth.words, k, turnSeed(s.ID, turn)+s.synth.seed, s.synth.instr)
			s.history = append(s.history, `"}`...)
		}
	} else {
		t := s.turns[turn-1]
		it.MaxTokens = t.Output
		if s.maxOut > 0 {
			it.MaxTokens = s.maxOut
		}
		if turn == 1 {
			s.history = append(s.history[:0], '[')
		}
		for i, m := range t.Messages {
			if turn > 1 || i > 0 {
				s.history = append(s.history, ',')
			}
			s.history = append(s.history, m...)
		}
		s.images, s.imageBytes = s.images+t.Images, s.imageBytes+t.ImageBytes
		if s.imageTokens >= 0 && t.ImageTokens >= 0 {
			s.imageTokens += t.ImageTokens
		} else {
			s.imageTokens = -1
		}
	}
	s.called = false
	it.Images, it.ImageBytes, it.ImageTokens = s.images, s.imageBytes, s.imageTokens
	it.messages = append(append(make([]byte, 0, len(s.history)+1), s.history...), ']')
	return it
}

// Answer adds the assistant's answer to the last turn to the history, as
// received: its text, and its tool calls (each call's id, name and
// arguments as they came), each followed by a tool message of the
// agent's fixed result.
func (s *Session) Answer(text []byte, calls []tools.Call) {
	if len(calls) == 0 {
		s.history = append(s.history, `,{"role":"assistant","content":`...)
		s.history = appendJSONString(s.history, string(text))
		s.history = append(s.history, '}')
		return
	}
	s.history = append(s.history, `,{"role":"assistant","content":`...)
	if len(text) > 0 {
		s.history = appendJSONString(s.history, string(text))
	} else {
		s.history = append(s.history, `null`...)
	}
	s.history = append(s.history, `,"tool_calls":[`...)
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID
		if ids[i] == "" {
			// A server that gave no id: one of our own, so that the
			// tool message can answer the call.
			ids[i] = "call_" + strconv.FormatInt(s.ID, 10) + "_" + strconv.Itoa(s.sent) + "_" + strconv.Itoa(i)
		}
		if i > 0 {
			s.history = append(s.history, ',')
		}
		s.history = append(s.history, `{"id":`...)
		s.history = appendJSONString(s.history, ids[i])
		s.history = append(s.history, `,"type":"function","function":{"name":`...)
		s.history = appendJSONString(s.history, c.Name)
		s.history = append(s.history, `,"arguments":`...)
		s.history = appendJSONString(s.history, string(c.Args))
		s.history = append(s.history, `}}`...)
	}
	s.history = append(s.history, `]}`...)
	result := ""
	if s.agent != nil {
		result = s.agent.ToolResult
	}
	for _, id := range ids {
		s.history = append(s.history, `,{"role":"tool","tool_call_id":`...)
		s.history = appendJSONString(s.history, id)
		s.history = append(s.history, `,"content":`...)
		s.history = appendJSONString(s.history, result)
		s.history = append(s.history, '}')
	}
	s.called = true
}

// tokenizerReply is the reply priming counted once per request.
const tokenizerReply = overhead - msgOverhead

// turnSeed varies a following turn's words by session and turn,
// reproducibly.
func turnSeed(id int64, turn int) uint64 {
	return mix64(uint64(id)*0x9e3779b97f4a7c15 + uint64(turn))
}

// Session starts synthetic session n of up to turns turns.
func (s *Synthetic) Session(n int64, turns int, stop <-chan struct{}) (*Session, error) {
	sess := &Session{ID: n, synth: s, agent: s.agent, last: max(turns, 1), rng: rand.New(rand.NewPCG(s.seed, uint64(n)))}
	if s.agent != nil {
		sess.expect = s.agent.Expect
	}
	return sess, nil
}

// Session starts the next conversation of the dataset as session n, of
// its turns up to turns.
func (d *Dataset) Session(n int64, turns int, stop <-chan struct{}) (*Session, error) {
	c, err := d.Conversation(stop)
	if err != nil {
		return nil, err
	}
	return &Session{ID: n, turns: c.Turns, agent: d.agent, fields: c.fields, expect: d.expect(c),
		maxOut: d.maxOut, last: min(max(turns, 1), len(c.Turns))}, nil
}

// Sessions starts conversations.
type Sessions interface {
	Session(n int64, turns int, stop <-chan struct{}) (*Session, error)
}
