package sink

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// obj appends one JSON object to a byte slice without reflection: the live
// line and the per-request records are written on every tick and every
// request, and their key order is part of the format.
type obj struct {
	b     []byte
	first bool
}

func newObj(b []byte) *obj { return &obj{b: append(b, '{'), first: true} }

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = strconv.AppendQuote(o.b, k)
	o.b = append(o.b, ':')
}

// num writes v with at most prec decimals, trailing zeros trimmed, or null
// for NaN.
func (o *obj) num(k string, v float64, prec int) {
	o.key(k)
	o.b = appendNum(o.b, v, prec)
}

func appendNum(b []byte, v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', prec, 64)
	if prec > 0 {
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
		if b[len(b)-1] == '.' {
			b = b[:len(b)-1]
		}
	}
	if string(b[n:]) == "-0" {
		b = append(b[:n], '0')
	}
	return b
}

func (o *obj) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// optInt writes v, or null when v is negative (absent).
func (o *obj) optInt(k string, v int) {
	if v < 0 {
		o.key(k)
		o.b = append(o.b, "null"...)
		return
	}
	o.int(k, int64(v))
}

func (o *obj) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// appendString writes a JSON string (strconv.Quote escapes differ from
// JSON for some runes, so escape by hand).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			b = append(b, `\u`...)
			b = append(b, "0123456789abcdef"[r>>12&0xf], "0123456789abcdef"[r>>8&0xf], "0123456789abcdef"[r>>4&0xf], "0123456789abcdef"[r&0xf])
		case r == utf8.RuneError:
			b = append(b, `\ufffd`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// open starts a nested object under k; close ends it.
func (o *obj) open(k string) {
	o.key(k)
	o.b = append(o.b, '{')
	o.first = true
}

func (o *obj) close() {
	o.b = append(o.b, '}')
	o.first = false
}

func (o *obj) bytes() []byte { return append(o.b, '}') }
