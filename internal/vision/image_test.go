package vision

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
)

func TestSynthetic(t *testing.T) {
	t.Parallel()
	a, err := Synthetic(640, 480, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Synthetic(640, 480, 7)
	c, _ := Synthetic(640, 480, 8)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Error("the same seed must give the same bytes, another seed others")
	}
	w, h, err := Size(DataURL(a, "image/jpeg"))
	if err != nil || w != 640 || h != 480 {
		t.Errorf("Size = %d, %d, %v; want 640, 480", w, h, err)
	}
	// A photograph's size, not a flat image's few kilobytes.
	if len(a) < 20<<10 {
		t.Errorf("a 640x480 synthetic image is %d bytes: compresses like a flat image", len(a))
	}
	for _, bad := range [][2]int{{0, 10}, {10, 0}, {-1, 5}, {MaxSide + 1, 1}} {
		if _, err := Synthetic(bad[0], bad[1], 1); err == nil {
			t.Errorf("Synthetic(%d, %d): no error", bad[0], bad[1])
		}
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 33, 17)))
	if w, h, err := Size(DataURL(buf.Bytes(), "image/png")); err != nil || w != 33 || h != 17 {
		t.Errorf("PNG: %d, %d, %v", w, h, err)
	}
	for _, bad := range []string{
		"https://example.com/cat.png",
		"data:image/png,plain",
		"data:image/png;base64,!!!!",
		"data:image/png;base64," + strings.Repeat("A", 100),
		"data:image/png;base64," + strings.Repeat("A", MaxInline+4),
	} {
		if _, _, err := Size(bad); err == nil {
			t.Errorf("Size(%.40q): no error", bad)
		}
	}
}

func FuzzSize(f *testing.F) {
	f.Add("data:image/png;base64,iVBORw0KGgo=")
	f.Fuzz(func(t *testing.T, s string) {
		w, h, err := Size(s)
		if err == nil && (w < 1 || h < 1) {
			t.Fatalf("Size(%q) = %d, %d without an error", s, w, h)
		}
	})
}
