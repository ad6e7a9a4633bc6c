package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner under ParseChunk: it reads values in place, calling
// back with each object key or array element, and never builds a tree,
// so that reading an event costs no allocation.

var errSyntax = errors.New("malformed JSON")

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

// peek skips white space and returns the next byte, 0 at the end. The
// servers' JSON has no white space: the next byte is checked first.
func (p *parser) peek() byte {
	if p.i < len(p.b) && p.b[p.i] > ' ' {
		return p.b[p.i]
	}
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
// must consume the value. A nil field skips the object: its keys are
// checked but not copied out and its values skipped (the servers' content
// filter results, skipped in every event, are an object of fifteen keys).
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
		if field == nil {
			if err := p.skipKey(); err != nil {
				return err
			}
		} else {
			key, err := p.str(p.key[:0])
			if err != nil {
				return err
			}
			p.key = key
		}
		if p.peek() != ':' {
			return errSyntax
		}
		p.i++
		var err error
		if field == nil {
			err = p.skip()
		} else {
			err = field(p.key)
		}
		if err != nil {
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

// str appends the string value at p to dst, unescaped. Escapes are read
// inline: as a call of their own they cost the plain-text loop 7% (its
// dst no longer stays in registers), and this is every event's path.
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
			j := asciiRun(p.b, p.i+1)
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
	if s := p.b[start:p.i]; len(s) <= 9 {
		// Digits alone, the usual index, count without ParseFloat.
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int(c-'0')
		}
		if n >= 0 {
			*v = n
			return nil
		}
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

// index reads a choice's, a call's or an output's index: a count, else
// BadIndex (negative, fractional, past 2^31), which the client refuses,
// never index 0; null is 0.
func (p *parser) index() (int, error) {
	v := 0
	if err := p.int(&v); err != nil {
		return 0, err
	}
	if v < 0 {
		return BadIndex, nil
	}
	return v, nil
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
		return p.object(nil)
	case c == '[':
		return p.array(p.skip)
	case c == '"':
		return p.skipString()
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

// The bytes of a word, and their top bits.
const ones, tops = 0x0101010101010101, 0x8080808080808080

// special returns, for the eight bytes of x, the top bit of each that is
// a quote, a backslash or a control character (below 0x20): the bytes a
// string's plain run ends at (which bytes, past the first, may be wrong;
// whether there is one is exact). A byte b is below n when b-n borrows
// and b's own top bit is clear: (x - n*ones) &^ x & tops.
func special(x uint64) uint64 {
	q, b := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (q-ones)&^q | (b-ones)&^b) & tops
}

// asciiRun returns where the run of plain ASCII in a string's text that
// goes on at b[j] ends, found eight bytes at a time: the first quote,
// backslash, control character or non-ASCII byte from j, or len(b).
func asciiRun(b []byte, j int) int {
	for j+8 <= len(b) {
		if x := binary.LittleEndian.Uint64(b[j:]); special(x)|x&tops != 0 {
			break
		}
		j += 8
	}
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 && b[j] < utf8.RuneSelf {
		j++
	}
	return j
}

// skipKey skips an object's key (its opening quote is next), refusing
// what str refuses: a bad escape in a key is malformed JSON, even in an
// object that is skipped.
func (p *parser) skipKey() error {
	start := p.i
	if err := p.skipString(); err != nil {
		return err
	}
	if bytes.IndexByte(p.b[start:p.i], '\\') < 0 {
		return nil
	}
	// An escape, which no server puts in a key: read it as str does.
	p.i = start
	key, err := p.str(p.key[:0])
	p.key = key[:0]
	return err
}

// skipString skips the string at p (its opening quote is next) without
// unescaping it.
func (p *parser) skipString() error {
	p.i++
	for p.i < len(p.b) {
		// Eight bytes at a time while none ends the plain run.
		for p.i+8 <= len(p.b) && special(binary.LittleEndian.Uint64(p.b[p.i:])) == 0 {
			p.i += 8
		}
		if p.i >= len(p.b) {
			break
		}
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return nil
		case c == '\\':
			p.i += 2
		case c < 0x20:
			return errSyntax
		default:
			p.i++
		}
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
