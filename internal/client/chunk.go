package client

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// chunk is what a streamed chat.completion.chunk says that matters to the
// measurements. parseChunk fills it without reflection or allocation: the
// encoding/json decoder cost a quarter of the client's CPU at high rates.
type chunk struct {
	output     bool   // a choice's delta carries output
	text       []byte // that output's text, appended
	finish     string // a finish_reason
	hasUsage   bool
	prompt     int
	completion int
	hasError   bool
	errMessage string
	scratch    []byte
	keys       []byte // the parser's key buffer, kept between events
}

var errSyntax = errors.New("malformed JSON")

// reset empties c for the next event, keeping its buffers.
func (c *chunk) reset() {
	*c = chunk{text: c.text[:0], scratch: c.scratch[:0], keys: c.keys[:0]}
}

// parseChunk reads one event's JSON object into c.
func parseChunk(data []byte, c *chunk) error {
	c.reset()
	p := parser{b: data, key: c.keys}
	defer func() { c.keys = p.key[:0] }()
	p.ws()
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "choices":
			return p.array(func() error {
				return p.object(func(k []byte) error { return c.choiceField(&p, k) })
			})
		case "usage":
			if p.null() {
				return nil
			}
			c.hasUsage = true
			return p.object(func(k []byte) error {
				switch string(k) {
				case "prompt_tokens":
					return p.int(&c.prompt)
				case "completion_tokens":
					return p.int(&c.completion)
				}
				return p.skip()
			})
		case "error":
			if p.null() {
				return nil
			}
			c.hasError = true
			switch p.peek() {
			case '"':
				s, err := p.str(c.scratch[:0])
				c.errMessage = string(s)
				return err
			case '{':
				return p.object(func(k []byte) error {
					if string(k) == "message" && p.peek() == '"' {
						s, err := p.str(c.scratch[:0])
						c.errMessage = string(s)
						return err
					}
					return p.skip()
				})
			}
			return p.skip()
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return errSyntax
	}
	return nil
}

// choiceField reads one field of a choice object.
func (c *chunk) choiceField(p *parser, key []byte) error {
	{
		switch string(key) {
		case "delta":
			if p.null() {
				return nil
			}
			return p.object(func(k []byte) error {
				switch string(k) {
				case "content", "refusal", "reasoning_content":
					if p.null() {
						return nil
					}
					n := len(c.text)
					var err error
					c.text, err = p.str(c.text)
					if len(c.text) > n {
						c.output = true
					}
					return err
				case "tool_calls":
					if p.null() {
						return nil
					}
					return p.array(func() error {
						c.output = true
						return p.object(func(k []byte) error {
							if string(k) != "function" || p.null() {
								return p.skip()
							}
							return p.object(func(k []byte) error {
								if (string(k) == "name" || string(k) == "arguments") && !p.null() {
									var err error
									c.text, err = p.str(c.text)
									return err
								}
								return p.skip()
							})
						})
					})
				}
				return p.skip()
			})
		case "finish_reason":
			if p.null() {
				return nil
			}
			s, err := p.str(c.scratch[:0])
			c.scratch = s[:0]
			c.finish = string(s)
			return err
		}
		return p.skip()
	}
}

// parser is a minimal JSON reader over b.
type parser struct {
	b   []byte
	i   int
	key []byte // buffer for object keys; a key is used before its value is read
}

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

// int reads a number into *v (integers; a null leaves it).
func (p *parser) int(v *int) error {
	if p.null() {
		return nil
	}
	start := p.i
	if err := p.number(); err != nil {
		return err
	}
	n, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return errSyntax
	}
	*v = int(n)
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
