package sse

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

type ev struct {
	name, data string
}

func readAll(t testing.TB, r io.Reader) ([]ev, error) {
	t.Helper()
	sr := NewReader(r, nil)
	var out []ev
	for {
		e, err := sr.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, ev{e.Name, string(e.Data)})
	}
}

// chunks returns a reader that delivers s in pieces of the given sizes.
type chunks struct {
	parts []string
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func TestFraming(t *testing.T) {
	t.Parallel()
	azure := `data: {"choices":[],"prompt_filter_results":[{"prompt_index":0}]}

data: {"choices":[{"delta":{"role":"assistant","content":""}}]}

data: {"choices":[{"delta":{"content":"Hi"}}]}

: keep-alive

data: [DONE]

`
	cases := []struct {
		name string
		in   string
		want []ev
	}{
		{"azure", azure, []ev{
			{"", `{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}`},
			{"", `{"choices":[{"delta":{"role":"assistant","content":""}}]}`},
			{"", `{"choices":[{"delta":{"content":"Hi"}}]}`},
			{"", "[DONE]"},
		}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []ev{{"", "a"}, {"", "b"}}},
		{"cr", "data: a\r\rdata: b\r\r", []ev{{"", "a"}, {"", "b"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}},
		{"no space after colon", "data:x\n\n", []ev{{"", "x"}}},
		{"event name", "event: error\ndata: {\"error\":{}}\n\n", []ev{{"error", `{"error":{}}`}}},
		{"comments only", ": ping\n: ping\n\n", nil},
		{"missing final blank line", "data: a\n\ndata: [DONE]", []ev{{"", "a"}, {"", "[DONE]"}}},
		{"missing final newline pair", "data: a\n", []ev{{"", "a"}}},
		{"id and retry ignored", "id: 1\nretry: 10\ndata: x\n\n", []ev{{"", "x"}}},
		{"leading blank lines", "\n\n\ndata: x\n\n", []ev{{"", "x"}}},
		{"empty data", "data:\n\n", []ev{{"", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Whole, one byte at a time, and split at every position.
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return strings.NewReader(c.in) },
				"one-byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(c.in)) },
			}
			for name, mk := range readers {
				got, err := readAll(t, mk())
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s: got %q, want %q", name, got, c.want)
				}
			}
			for i := 1; i < len(c.in); i++ {
				got, err := readAll(t, &chunks{[]string{c.in[:i], c.in[i:]}})
				if err != nil || !slices.Equal(got, c.want) {
					t.Fatalf("split at %d: got %q, %v; want %q", i, got, err, c.want)
				}
			}
		})
	}
}

func TestStampsFirstByte(t *testing.T) {
	t.Parallel()
	// Reads return at t=1,2,3...; an event is stamped with the read that
	// brought its first byte, even if the rest came later, and events that
	// share a read share its stamp.
	clock := time.Unix(0, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	r := NewReader(&chunks{[]string{"data: a\n\ndata: b\n\nda", "ta: c\n", "\n"}}, now)
	var at []int64
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		at = append(at, e.At.Unix())
	}
	if want := []int64{1, 1, 1}; !slices.Equal(at, want) {
		t.Fatalf("stamps %v, want %v", at, want)
	}
}

func TestStampAfterCompaction(t *testing.T) {
	t.Parallel()
	clock := time.Unix(0, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	long := strings.Repeat("x", 5000)
	r := NewReader(&chunks{[]string{"data: " + long + "\n\n", "data: b\n\n"}}, now)
	var at []int64
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		at = append(at, e.At.Unix())
	}
	// The long event needed two reads (4096-byte buffer, then growth).
	if len(at) != 2 || at[0] != 1 || at[1] <= at[0] {
		t.Fatalf("stamps %v", at)
	}
}

func TestReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: partial"), iotest.ErrReader(boom)), nil)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestLineTooLong(t *testing.T) {
	t.Parallel()
	r := NewReader(strings.NewReader("data: "+strings.Repeat("x", MaxLine+10)), nil)
	if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v", err)
	}
}

// TestByteOrderMark: a byte order mark before the first field is
// dropped, as WHATWG says; the first event's data was lost to a field
// named "\ufeffdata". Only the stream's first one: later, it is text.
func TestByteOrderMark(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\ufeffdata: a\n\ndata: \ufeffb\n\n", "\ufeffdata: a\r\rdata: \ufeffb\r\r"} {
		got, err := readAll(t, iotest.OneByteReader(strings.NewReader(s)))
		if want := []ev{{"", "a"}, {"", "\ufeffb"}}; err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %q, %v", s, got, err)
		}
	}
}

// TestEventTooLong: data lines of a megabyte each, with no blank line to
// end the event, are refused once they pass MaxLine together, instead of
// being joined without bound.
func TestEventTooLong(t *testing.T) {
	t.Parallel()
	line := "data: " + strings.Repeat("x", 1<<20) + "\n"
	var read int
	src := readerFunc(func(p []byte) (int, error) {
		if read >= 40*len(line) {
			return 0, io.EOF
		}
		n := copy(p, line[read%len(line):])
		read += n
		return n, nil
	})
	r := NewReader(src, nil)
	if e, err := r.Next(); !errors.Is(err, ErrEventTooLong) {
		t.Fatalf("err = %v, an event of %d bytes", err, len(e.Data))
	}
	if read > MaxLine+2*len(line) {
		t.Errorf("read %d bytes before refusing the event", read)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func FuzzSplit(f *testing.F) {
	f.Add("data: a\r\n\r\ndata: b\n\n: c\n\nevent: e\ndata: x\rdata: y\r\r", 3)
	f.Add("data: [DONE]", 1)
	f.Fuzz(func(t *testing.T, s string, cut int) {
		whole, err1 := readAll(t, strings.NewReader(s))
		if cut < 0 {
			cut = -cut
		}
		cut = cut % (len(s) + 1)
		split, err2 := readAll(t, &chunks{[]string{s[:cut], s[cut:]}})
		if (err1 == nil) != (err2 == nil) || !slices.Equal(whole, split) {
			t.Fatalf("whole %q (%v) != split at %d %q (%v)", whole, err1, cut, split, err2)
		}
		bytewise, _ := readAll(t, iotest.OneByteReader(strings.NewReader(s)))
		if !slices.Equal(whole, bytewise) {
			t.Fatalf("whole %q != bytewise %q", whole, bytewise)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	ev := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null,"content_filter_results":{}}]}` + "\n\n"
	stream := strings.Repeat(ev, 100)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	sr := strings.NewReader(stream)
	r := NewReader(sr, nil)
	for i := 0; i < b.N; i += 100 {
		sr.Reset(stream)
		r.Reset(sr)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
