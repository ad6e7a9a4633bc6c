package schema

import (
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxDepth bounds how deep an instance nests: a schema that refers to
// itself gets its least value past it.
const maxDepth = 12

// maxNodes bounds the values an instance holds: arrays of arrays grow
// as a power of their depth, and a schema is no reason to build gigabytes.
// Past it, values are null.
const maxNodes = 10_000

// Instance appends to dst a JSON value that follows the schema: every
// property of an object (in name order), arrays of their least length
// (one item when none is set), the first of an enum or of anyOf, numbers
// in range, and strings of words: about fill words in all, spread over the
// strings that have no format, length or pattern of their own. The same
// seed gives the same value. (A string "pattern" is not followed: a value
// of one is a fixed word, which may not match.)
func (s *Schema) Instance(dst []byte, words []string, fill int, seed uint64) []byte {
	g := &gen{words: words, seed: seed, budget: maxNodes}
	n := g.leaves(s.compiled, 0)
	g.budget = maxNodes
	g.per = 1
	if n > 0 {
		g.per = max(fill/n, 1)
	}
	return g.value(dst, s.compiled, 0)
}

// gen makes one instance.
type gen struct {
	words  []string
	seed   uint64
	per    int // words in each free string
	n      uint64
	budget int // values left to make (or count)
}

// leaves counts the free strings an instance of sch holds.
func (g *gen) leaves(sch *jsonschema.Schema, depth int) int {
	sch = resolve(sch)
	if g.budget--; g.budget < 0 || sch == nil || depth > maxDepth || sch.Const != nil || sch.Enum != nil {
		return 0
	}
	switch kindOf(sch) {
	case "object":
		n := 0
		for _, k := range sortedKeys(sch.Properties) {
			n += g.leaves(sch.Properties[k], depth+1)
		}
		return n
	case "array":
		n := 0
		for range arrayLen(sch) {
			n += g.leaves(itemsOf(sch), depth+1)
		}
		return n
	case "string":
		if free(sch) {
			return 1
		}
	}
	return 0
}

// value appends an instance of sch.
func (g *gen) value(dst []byte, sch *jsonschema.Schema, depth int) []byte {
	sch = resolve(sch)
	if g.budget--; sch == nil || g.budget < 0 {
		return append(dst, "null"...)
	}
	if sch.Const != nil {
		return appendJSON(dst, *sch.Const)
	}
	if sch.Enum != nil && len(sch.Enum.Values) > 0 {
		return appendJSON(dst, sch.Enum.Values[0])
	}
	switch kindOf(sch) {
	case "object":
		return g.object(dst, sch, depth)
	case "array":
		dst = append(dst, '[')
		for i := range arrayLen(sch) {
			if i > 0 {
				dst = append(dst, ',')
			}
			if depth >= maxDepth {
				dst = append(dst, "null"...)
				continue
			}
			dst = g.value(dst, itemsOf(sch), depth+1)
		}
		return append(dst, ']')
	case "string":
		return g.str(dst, sch)
	case "integer":
		return strconv.AppendInt(dst, integer(sch), 10)
	case "number":
		return strconv.AppendFloat(dst, number(sch), 'g', -1, 64)
	case "boolean":
		return append(dst, "true"...)
	}
	return append(dst, "null"...)
}

// object appends an object with every property (required or not: Azure's
// strict structured outputs require them all).
func (g *gen) object(dst []byte, sch *jsonschema.Schema, depth int) []byte {
	dst = append(dst, '{')
	if depth < maxDepth {
		for i, k := range sortedKeys(sch.Properties) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, k)
			dst = append(dst, ':')
			dst = g.value(dst, sch.Properties[k], depth+1)
		}
	}
	return append(dst, '}')
}

// str appends a string: one of the format's shape, or words.
func (g *gen) str(dst []byte, sch *jsonschema.Schema) []byte {
	if sch.Format != nil {
		switch sch.Format.Name {
		case "date":
			return append(dst, `"2026-12-03"`...)
		case "date-time":
			return append(dst, `"2026-12-03T09:30:00Z"`...)
		case "time":
			return append(dst, `"09:30:00Z"`...)
		case "email":
			return append(dst, `"user@example.com"`...)
		case "uuid":
			return append(dst, `"8c6f2a4e-1b3d-4f5a-9e7c-2d1b0a9f8e7d"`...)
		case "uri":
			return append(dst, `"https://example.com/a"`...)
		}
	}
	k := g.per
	if !free(sch) {
		k = 1
	}
	var b strings.Builder
	for j := range k {
		if j > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.word())
	}
	s := b.String()
	if sch.MinLength != nil && len(s) < *sch.MinLength {
		s += strings.Repeat("x", *sch.MinLength-len(s))
	}
	if sch.MaxLength != nil && len(s) > *sch.MaxLength {
		s = s[:*sch.MaxLength]
	}
	return strconv.AppendQuote(dst, s)
}

// word is the next word of the instance's seeded sequence.
func (g *gen) word() string {
	if len(g.words) == 0 {
		return "x"
	}
	g.n++
	return g.words[mix(g.seed+g.n)%uint64(len(g.words))]
}

// mix is splitmix64's finalizer: a well-spread word from a counter.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// free reports whether a string schema leaves its text to the writer.
func free(sch *jsonschema.Schema) bool {
	return sch.Format == nil && sch.Pattern == nil && sch.MaxLength == nil && sch.MinLength == nil
}

// resolve follows references and takes the first alternative of anyOf,
// oneOf and allOf.
func resolve(sch *jsonschema.Schema) *jsonschema.Schema {
	for range maxDepth {
		switch {
		case sch == nil:
			return nil
		case sch.Ref != nil && sch.Types == nil && sch.Properties == nil:
			sch = sch.Ref
		case sch.Types == nil && len(sch.AnyOf) > 0:
			sch = sch.AnyOf[0]
		case sch.Types == nil && len(sch.OneOf) > 0:
			sch = sch.OneOf[0]
		case sch.Types == nil && len(sch.AllOf) > 0:
			sch = sch.AllOf[0]
		default:
			return sch
		}
	}
	return sch
}

// kindOf is the type an instance takes: the first of the schema's types
// that is not null, else what its keywords imply.
func kindOf(sch *jsonschema.Schema) string {
	if sch.Types != nil {
		ts := sch.Types.ToStrings()
		for _, t := range ts {
			if t != "null" {
				return t
			}
		}
		if len(ts) > 0 {
			return ts[0]
		}
	}
	switch {
	case sch.Properties != nil:
		return "object"
	case sch.Items2020 != nil || sch.Items != nil:
		return "array"
	}
	return "string"
}

// itemsOf is an array's item schema.
func itemsOf(sch *jsonschema.Schema) *jsonschema.Schema {
	if sch.Items2020 != nil {
		return sch.Items2020
	}
	if it, ok := sch.Items.(*jsonschema.Schema); ok {
		return it
	}
	return nil
}

// arrayLen is the items an array gets: its least, one when it has none,
// at most 8.
func arrayLen(sch *jsonschema.Schema) int {
	n := 1
	if sch.MinItems != nil {
		n = *sch.MinItems
	}
	if sch.MaxItems != nil {
		n = min(n, *sch.MaxItems)
	}
	return min(n, 8)
}

// integer is an integer in the schema's range.
func integer(sch *jsonschema.Schema) int64 {
	v := big.NewRat(1, 1)
	if sch.Minimum != nil && v.Cmp(sch.Minimum) < 0 {
		v = ceilRat(sch.Minimum)
	}
	if sch.ExclusiveMinimum != nil && v.Cmp(sch.ExclusiveMinimum) <= 0 {
		v = new(big.Rat).Add(floorRat(sch.ExclusiveMinimum), big.NewRat(1, 1))
	}
	if sch.Maximum != nil && v.Cmp(sch.Maximum) > 0 {
		v = floorRat(sch.Maximum)
	}
	if sch.ExclusiveMaximum != nil && v.Cmp(sch.ExclusiveMaximum) >= 0 {
		v = new(big.Rat).Sub(ceilRat(sch.ExclusiveMaximum), big.NewRat(1, 1))
	}
	if sch.MultipleOf != nil && sch.MultipleOf.Sign() > 0 {
		v = ceilRat(new(big.Rat).Mul(ceilRat(new(big.Rat).Quo(v, sch.MultipleOf)), sch.MultipleOf))
	}
	n, _ := v.Float64()
	return int64(n)
}

// number is a number in the schema's range.
func number(sch *jsonschema.Schema) float64 {
	v := 1.5
	if sch.Minimum != nil {
		if m, _ := sch.Minimum.Float64(); v < m {
			v = m
		}
	}
	if sch.ExclusiveMinimum != nil {
		if m, _ := sch.ExclusiveMinimum.Float64(); v <= m {
			v = m + 1
		}
	}
	if sch.Maximum != nil {
		if m, _ := sch.Maximum.Float64(); v > m {
			v = m
		}
	}
	if sch.ExclusiveMaximum != nil {
		if m, _ := sch.ExclusiveMaximum.Float64(); v >= m {
			v = m - 1
		}
	}
	if sch.MultipleOf != nil && sch.MultipleOf.Sign() > 0 {
		return float64(integer(sch))
	}
	return v
}

func ceilRat(r *big.Rat) *big.Rat {
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if r.Sign() > 0 && !r.IsInt() {
		q.Add(q, big.NewInt(1))
	}
	return new(big.Rat).SetInt(q)
}

func floorRat(r *big.Rat) *big.Rat {
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if r.Sign() < 0 && !r.IsInt() {
		q.Sub(q, big.NewInt(1))
	}
	return new(big.Rat).SetInt(q)
}

// sortedKeys is a map's keys in order.
func sortedKeys(m map[string]*jsonschema.Schema) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendJSON appends v as JSON (a value of a const or enum, which came
// from JSON).
func appendJSON(dst []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}
