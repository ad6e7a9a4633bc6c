package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Counting with a limit. A server that refuses prompts longer than a
// context window needs to know only whether a text passes the window, and
// the codec's cost grows with the text (an 8 MB prompt costs it hundreds
// of megabytes and seconds), so CountUpTo counts a text in batches and
// stops once the batches counted pass the limit.
//
// The batches' counts add up to the whole text's exactly because each
// batch ends where every tiktoken encoding starts a new piece (its
// pre-tokenizer's regular expression splits the text into pieces and each
// piece is encoded alone), and a batch ends on a character after which
// the expression matches the same with or without the rest of the text:
// never on white space, whose match looks ahead.

// batchSize is the least length of a batch, when the text can be cut
// there: long enough that the codec's cost per call does not matter,
// short enough that a batch costs it little memory.
const batchSize = 16 << 10

// longRun is the length from which a batch (text that cannot be cut, such
// as one 8 MB word) is first bounded from below by its length, then, if
// that is not enough to pass the limit, counted by one request at a time.
const longRun = 64 << 10

// CountUpTo returns the number of tokens in s, as Count does, and true,
// when s has at most limit tokens. Past limit, it may stop counting as soon
// as it knows s has more than limit tokens: it then returns a number of
// tokens, above limit, that s has at least, and false. Its work and memory
// are those of counting about limit tokens, not all of s.
func (t *Tokenizer) CountUpTo(s string, limit int) (int, bool) {
	return t.countUpTo(s, limit, batchSize)
}

// CountMessagesUpTo is CountMessages with a limit, as CountUpTo: past
// limit it may return a number of tokens, above limit, that the messages
// have at least, and false.
func (t *Tokenizer) CountMessagesUpTo(msgs []Message, limit int) (int, bool) {
	n := PerReply
	for _, m := range msgs {
		n += PerMessage
		for i, s := range [...]string{m.Role, m.Content, m.Name} {
			if i == 2 {
				if s == "" {
					break
				}
				n++
			}
			k, exact := t.CountUpTo(s, max(limit-n, 0))
			n += k
			if !exact {
				return n, false
			}
		}
	}
	return n, true
}

// countUpTo is CountUpTo with batches of at least size bytes (tests cut
// at every possible place with size 1).
func (t *Tokenizer) countUpTo(s string, limit, size int) (int, bool) {
	n := 0
	for rest := s; rest != ""; {
		b := rest[:nextCut(rest, size)]
		rest = rest[len(b):]
		k, ok := countWords(b)
		if !ok {
			if len(b) >= longRun {
				if least := t.least(b); n+least > limit {
					return n + least, false
				}
				// Counting a long run costs the codec tens of bytes per
				// byte: one at a time.
				t.long.Lock()
				k = t.codecCount(b)
				t.long.Unlock()
			} else {
				k = t.codecCount(b)
			}
		}
		n += k
		if n > limit && rest != "" {
			return n, false
		}
	}
	return n, true
}

// nextCut returns the end of the first batch of s: the first place to cut
// at or after size bytes, or the last one before when the next is more than
// a batch further, or the end of s.
func nextCut(s string, size int) int {
	last := 0
	prev, i := utf8.DecodeRuneInString(s)
	for i < len(s) {
		r, w := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		if cutBetween(prev, r) {
			if i >= size {
				if last > 0 && i-last > size {
					return last
				}
				return i
			}
			last = i
		}
		prev = r
		i += w
	}
	if last > 0 && len(s)-last > size {
		return last
	}
	return len(s)
}

// cutBetween reports whether text can be cut between runes a and b: every
// piece of o200k_base's and cl100k_base's expressions ends after a, and
// a is not white space (whose pieces look ahead at what follows).
//
// A letter ends its piece unless a letter, a mark or an apostrophe follows
// (letters, marks, then the contractions 's, 't...); a number or what
// follows one starts a piece (numbers are pieces of one to three digits of
// their own). Unicode classes are the unicode package's, as the codec's
// expressions use.
func cutBetween(a, b rune) bool {
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		// The common case without the tables' lookups.
		switch {
		case a == ' ' || a == '\t' || a == '\n' || a == '\r' || a == '\v' || a == '\f':
			return false
		case isASCIILetter(a):
			return !isASCIILetter(b) && b != '\''
		}
		return isASCIIDigit(a) != isASCIIDigit(b)
	}
	if unicode.IsSpace(a) {
		return false
	}
	if unicode.IsLetter(a) && !unicode.IsLetter(b) && !unicode.IsMark(b) && b != '\'' {
		return true
	}
	return unicode.IsNumber(a) != unicode.IsNumber(b)
}

func isASCIILetter(r rune) bool { return r|0x20 >= 'a' && r|0x20 <= 'z' }
func isASCIIDigit(r rune) bool  { return r >= '0' && r <= '9' }

// Byte classes for least: a token that is part of a text holds only bytes
// of the classes the text holds, so no token of it is longer than the
// longest token of those classes.
const (
	classLetter = 1 << iota // ASCII letters
	classDigit              // ASCII digits
	classSpace              // ASCII white space
	classOther              // other ASCII
	classHigh               // bytes of non-ASCII characters
	classes     = 1 << iota // masks of classes
)

func classOf(c byte) uint8 {
	switch {
	case c >= utf8.RuneSelf:
		return classHigh
	case isASCIILetter(rune(c)):
		return classLetter
	case isASCIIDigit(rune(c)):
		return classDigit
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
		return classSpace
	}
	return classOther
}

// least returns a number of tokens s has at least: its length over the
// longest token made of its classes of bytes (0 when the vocabulary
// cannot be read).
func (t *Tokenizer) least(s string) int {
	var mask uint8
	for i := 0; i < len(s); i++ {
		mask |= classOf(s[i])
	}
	longest := t.longest()[mask]
	if longest == 0 {
		return 0
	}
	return (len(s) + longest - 1) / longest
}

// longestTokens returns, for each mask of byte classes, the length of the
// longest token of the vocabulary whose bytes are all of those classes.
// It reads every token of the vocabulary once (milliseconds).
func (t *Tokenizer) longestTokens() [classes]int {
	var out [classes]int
	c, err := t.codec()
	if err != nil {
		return out
	}
	var byMask [classes]int
	// Token ids are dense from 0 up to the vocabulary's size (about
	// 200,000 for o200k_base); a few ids in it are unused or special.
	for id, misses := uint(0), 0; misses < 1024; id++ {
		s, err := c.Decode([]uint{id})
		if err != nil || s == "" {
			misses++
			continue
		}
		misses = 0
		var m uint8
		for i := 0; i < len(s); i++ {
			m |= classOf(s[i])
		}
		byMask[m] = max(byMask[m], len(s))
	}
	for m := range out {
		for sub := range byMask {
			if sub&^m == 0 {
				out[m] = max(out[m], byMask[sub])
			}
		}
	}
	return out
}
