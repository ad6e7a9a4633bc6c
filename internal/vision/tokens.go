// Package vision owns what aoaibench knows of images in prompts: the
// detail levels, the published rules by which a model counts an image's
// input tokens (a table read as data, image-tokens.tsv, with its sources),
// the synthetic images the load generator sends, and the reading of an
// inline image's size. The load generator, the simulator and `size` all
// count images here, so they cannot disagree.
package vision

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/aoaibench/aoaibench/internal/models"
)

// Detail is an image part's "detail": how closely the model looks.
type Detail string

// The detail levels the API takes.
const (
	Low  Detail = "low"
	High Detail = "high"
	// Auto lets the model choose. Azure documents no rule for the
	// choice: aoaibench counts it as High, the larger (and the one a
	// model takes for any image worth looking at).
	Auto Detail = "auto"
)

// Valid reports whether d is a detail level the API takes ("" is Auto).
func (d Detail) Valid() bool { return d == "" || d == Low || d == High || d == Auto }

// Method is how a family counts an image.
type Method string

// The published counting methods.
const (
	// Tile: low detail costs a fixed count; high detail scales the image
	// into 2048x2048, then its shortest side down to 768, and costs a
	// base count plus a count per 512-pixel tile.
	Tile Method = "tile"
	// Patch: the image in 32-pixel patches, at most MaxPatches after
	// scaling down, times the family's multiplier.
	Patch Method = "patch"
)

// Rule is one model family's published image-token rule.
type Rule struct {
	Family     string
	Method     Method
	LowTokens  int     // tile: a low-detail image
	BaseTokens int     // tile: every high-detail image
	TileTokens int     // tile: each 512-pixel tile
	Multiplier float64 // patch: tokens per patch
}

// The rules' fixed geometry, published with them.
const (
	fitSide    = 2048 // tile: the square a high-detail image is first scaled into
	shortSide  = 768  // tile: then its shortest side is scaled down to this
	tileSide   = 512
	patchSide  = 32
	MaxPatches = 1536 // patch: the most patches an image is counted as
)

//go:embed image-tokens.tsv
var published []byte

// File is the embedded table's name, as errors say it.
const File = "image-tokens.tsv"

// rules parses the embedded table once; a bad table is a build mistake,
// caught by the package's tests.
var rules = sync.OnceValues(func() ([]Rule, error) { return parse(published) })

// parse reads the table: comment lines start with '#', the first other
// line names the columns.
func parse(b []byte) ([]Rule, error) {
	var out []Rule
	sc := bufio.NewScanner(bytes.NewReader(b))
	line, header := 0, false
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if !header {
			header = true
			if strings.Join(f, ",") != "family,method,low_tokens,base_tokens,tile_tokens,multiplier" {
				return nil, fmt.Errorf("%s:%d: unexpected columns %q", File, line, text)
			}
			continue
		}
		r, err := parseRule(f)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", File, line, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRule reads one row's fields.
func parseRule(f []string) (Rule, error) {
	if len(f) != 6 {
		return Rule{}, fmt.Errorf("want 6 fields, got %d", len(f))
	}
	r := Rule{Family: f[0], Method: Method(f[1])}
	if r.Method != Tile && r.Method != Patch {
		return r, fmt.Errorf("method %q is not tile or patch", f[1])
	}
	for i, p := range []*int{&r.LowTokens, &r.BaseTokens, &r.TileTokens} {
		n, err := strconv.Atoi(f[2+i])
		if err != nil || n < 0 || n > 100_000 {
			return r, fmt.Errorf("%q is not a token count", f[2+i])
		}
		*p = n
	}
	m, err := strconv.ParseFloat(f[5], 64)
	if err != nil || !(m > 0 && m <= 100) {
		return r, fmt.Errorf("multiplier %q is not a number in (0, 100]", f[5])
	}
	r.Multiplier = m
	if r.Method == Tile && (r.LowTokens == 0 || r.TileTokens == 0) {
		return r, fmt.Errorf("a tile rule needs low_tokens and tile_tokens")
	}
	return r, nil
}

// RuleOf returns the image rule of a model or deployment name, false when
// the model takes no images (or is unknown).
func RuleOf(model string) (Rule, bool) {
	m, ok := models.Lookup(model)
	if !ok {
		return Rule{}, false
	}
	rs, err := rules()
	if err != nil {
		return Rule{}, false
	}
	for _, r := range rs {
		if r.Family == m.Family {
			return r, true
		}
	}
	return Rule{}, false
}

// Tokens is the input tokens of one w x h image at detail d by rule r.
func (r Rule) Tokens(w, h int, d Detail) int {
	if w <= 0 || h <= 0 {
		return 0
	}
	if r.Method == Patch {
		return int(math.Ceil(float64(patches(w, h)) * r.Multiplier))
	}
	if d == Low {
		return r.LowTokens
	}
	return r.BaseTokens + r.TileTokens*tiles(w, h)
}

// tiles is the 512-pixel tiles of a high-detail image after its scaling:
// into a 2048 square (keeping the aspect), then the shortest side down to
// 768 (an image already smaller stays as it is).
func tiles(w, h int) int {
	fw, fh := float64(w), float64(h)
	if s := float64(fitSide) / max(fw, fh); s < 1 {
		fw, fh = math.Floor(fw*s), math.Floor(fh*s)
	}
	if s := float64(shortSide) / min(fw, fh); s < 1 {
		fw, fh = math.Floor(fw*s), math.Floor(fh*s)
	}
	return int(math.Ceil(fw/tileSide) * math.Ceil(fh/tileSide))
}

// patches is the 32-pixel patches an image counts as: all of them when at
// most MaxPatches; else the image is scaled down to about MaxPatches'
// area, then again so that it is whole patches wide or high, as published
// (1800x2400 counts as 1452).
func patches(w, h int) int {
	n := ceilDiv(w, patchSide) * ceilDiv(h, patchSide)
	if n <= MaxPatches {
		return n
	}
	s := math.Sqrt(float64(MaxPatches*patchSide*patchSide) / (float64(w) * float64(h)))
	fw, fh := float64(w)*s, float64(h)*s
	pw, ph := fw/patchSide, fh/patchSide
	s2 := min(math.Floor(pw)/pw, math.Floor(ph)/ph)
	fw, fh = math.Floor(fw*s2), math.Floor(fh*s2)
	return min(ceilDiv(int(fw), patchSide)*ceilDiv(int(fh), patchSide), MaxPatches)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Tokens is the input tokens of one w x h image at detail d for model,
// and false when the model takes no images.
func Tokens(model string, w, h int, d Detail) (int, bool) {
	r, ok := RuleOf(model)
	if !ok {
		return 0, false
	}
	return r.Tokens(w, h, d), true
}
