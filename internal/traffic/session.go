package traffic

import (
	"encoding/json"
	"math/rand/v2"
)

// Session is a conversation in progress: each turn's request carries the
// whole history, with the assistant's answers as they were received, then
// the user's next message. Used by one goroutine.
type Session struct {
	// ID numbers the session in its run, from 0.
	ID      int64
	turns   []Turn     // a dataset's conversation, nil for synthetic
	synth   *Synthetic // synthetic turns
	rng     *rand.Rand // the session's own: sessions run in parallel
	maxOut  int        // overrides a dataset's output lengths
	last    int        // the most turns
	sent    int        // turns handed out
	history []byte     // '[' and the messages so far, comma-separated
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
	it := &Item{Session: s.ID, Turn: turn, Prompt: -1}
	if s.synth != nil {
		prompt := max(s.synth.prompt.sample(s.rng), s.synth.prefix+MinContext)
		it.MaxTokens = s.synth.output.sample(s.rng)
		if turn == 1 {
			// The first turn is an ordinary synthetic request: its
			// length is exact.
			it.Prompt = prompt
			m := s.synth.render(nil, s.ID, prompt, int(uint64(s.ID)%uint64(s.synth.prefixes)))
			s.history = append(s.history[:0], m[:len(m)-1]...)
		} else {
			// A following turn adds a user message of the sampled
			// length, its overhead included, with words of its own.
			k := max(prompt-s.synth.prefix-tokenizerReply-msgOverhead, 1)
			s.history = append(s.history, `,{"role":"user","content":"`...)
			s.history = appendUserWords(s.history, s.synth.words, k, turnSeed(s.ID, turn)+s.synth.seed)
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
	}
	it.messages = append(append(make([]byte, 0, len(s.history)+1), s.history...), ']')
	return it
}

// Answer adds the assistant's answer to the last turn, as received, to
// the history.
func (s *Session) Answer(text []byte) {
	s.history = append(s.history, `,{"role":"assistant","content":`...)
	b, _ := json.Marshal(string(text)) // a string always encodes
	s.history = append(s.history, b...)
	s.history = append(s.history, '}')
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
	return &Session{ID: n, synth: s, last: max(turns, 1), rng: rand.New(rand.NewPCG(s.seed, uint64(n)))}, nil
}

// Session starts the next conversation of the dataset as session n, of
// its turns up to turns.
func (d *Dataset) Session(n int64, turns int, stop <-chan struct{}) (*Session, error) {
	c, err := d.Conversation(stop)
	if err != nil {
		return nil, err
	}
	return &Session{ID: n, turns: c.Turns, maxOut: d.maxOut, last: min(max(turns, 1), len(c.Turns))}, nil
}

// Sessions starts conversations.
type Sessions interface {
	Session(n int64, turns int, stop <-chan struct{}) (*Session, error)
}
