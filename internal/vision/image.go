package vision

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig of inline GIFs
	"image/jpeg"
	_ "image/png" // DecodeConfig of inline PNGs
	"math/rand/v2"
	"strings"

	_ "golang.org/x/image/webp" // DecodeConfig of inline WebPs
)

// MaxSide is the largest image side aoaibench makes or reads: Azure scales
// anything larger down before counting, and a bigger synthetic image only
// costs memory.
const MaxSide = 8192

// MaxInline is the most bytes of an inline image (its base64 text) read:
// Azure takes images of up to 20 MB.
const MaxInline = 28 << 20

// Synthetic returns a seeded w x h JPEG that compresses as a photograph
// does (smooth shapes and grain, quality 85), so that its upload size is
// a realistic one for its pixels: the same seed and size give the same
// bytes.
func Synthetic(w, h int, seed uint64) ([]byte, error) {
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("an image is 1 to %d pixels a side, got %dx%d", MaxSide, w, h)
	}
	rng := rand.New(rand.NewPCG(seed, uint64(w)<<32|uint64(h)))
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	// A few soft blobs of colour over a gradient, and grain: what a
	// photograph's entropy looks like to a JPEG encoder.
	type blob struct {
		x, y, r2 float64
		cb, cr   uint8
	}
	blobs := make([]blob, 6)
	for i := range blobs {
		r := float64(min(w, h)) * (0.1 + 0.3*rng.Float64())
		blobs[i] = blob{rng.Float64() * float64(w), rng.Float64() * float64(h), r * r, uint8(rng.IntN(256)), uint8(rng.IntN(256))}
	}
	for y := range h {
		for x := range w {
			v := 40 + 150*float64(x+y)/float64(w+h) + float64(rng.IntN(24))
			img.Y[y*img.YStride+x] = uint8(min(v, 255))
		}
	}
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			cb, cr := uint8(128), uint8(128)
			for _, b := range blobs {
				dx, dy := float64(x)-b.x, float64(y)-b.y
				if dx*dx+dy*dy < b.r2 {
					cb, cr = b.cb, b.cr
				}
			}
			i := img.COffset(x, y)
			img.Cb[i], img.Cr[i] = cb, cr
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encoding a synthetic image: %w", err)
	}
	return buf.Bytes(), nil
}

// DataURL is an image's bytes as an inline data URL of its media type.
func DataURL(b []byte, mediaType string) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// ErrNotInline is an image given by address, not inline: its size cannot
// be read without fetching it, which aoaibench never does.
var ErrNotInline = errors.New("not an inline data URL")

// Size reads the width and height of an inline image (a data URL of a
// JPEG, PNG, GIF or WebP in base64) from its header, without decoding its
// pixels.
func Size(url string) (w, h int, err error) {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return 0, 0, ErrNotInline
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok || !strings.HasSuffix(meta, ";base64") {
		return 0, 0, errors.New("a data URL without base64 data")
	}
	if len(data) > MaxInline {
		return 0, 0, fmt.Errorf("an inline image of over %d MB", MaxInline>>20)
	}
	// The header is in the first bytes; a WebP's or JPEG's frame header may
	// come after metadata, so read up to 64 KB of it.
	head := data[:min(len(data), 64<<10)]
	head = head[:len(head)/4*4]
	raw, err := base64.StdEncoding.DecodeString(head)
	if err != nil {
		return 0, 0, fmt.Errorf("an inline image that is not base64: %w", err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil && len(head) < len(data) {
		// The header was further in: decode the whole image's bytes.
		raw, err = base64.StdEncoding.DecodeString(data)
		if err == nil {
			cfg, _, err = image.DecodeConfig(bytes.NewReader(raw))
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("an inline image that is not a JPEG, PNG, GIF or WebP: %w", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > 1<<16 || cfg.Height > 1<<16 {
		return 0, 0, fmt.Errorf("an inline image of %dx%d pixels", cfg.Width, cfg.Height)
	}
	return cfg.Width, cfg.Height, nil
}
