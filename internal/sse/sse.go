// Package sse reads server-sent event streams (the text/event-stream format
// used by OpenAI-compatible streaming APIs) and stamps every event with the
// time its first byte arrived.
//
// The reader follows the WHATWG event-stream rules where they matter to LLM
// streams: lines end in LF, CRLF or CR; lines starting with ':' are comments;
// several data lines join with '\n'; an event ends at a blank line. At end of
// stream, a last event not followed by a blank line is still delivered, since
// some servers close the connection right after their final data line.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLine is the longest line the reader accepts.
const MaxLine = 16 << 20

// ErrLineTooLong is returned when a line exceeds MaxLine bytes.
var ErrLineTooLong = errors.New("sse: line too long")

// ErrEventTooLong is returned when an event's data lines together exceed
// MaxLine bytes: each line may be short, and a server that never sends
// the blank line that ends an event must not grow the event without
// bound.
var ErrEventTooLong = errors.New("sse: event too long")

// bom is the UTF-8 byte order mark.
var bom = []byte("\ufeff")

// Event is one dispatched event.
type Event struct {
	// Name is the event: field, empty for the default "message" type.
	Name string
	// Data is the event's data lines joined by '\n'. It is valid only until
	// the next call to Next.
	Data []byte
	// At is when the read that delivered the event's first byte returned.
	At time.Time
}

// stamp records that bytes up to end (exclusive, in buf) arrived at t.
type stamp struct {
	end int
	t   time.Time
}

// Reader reads events from a stream. It is not safe for concurrent use.
type Reader struct {
	r      io.Reader
	now    func() time.Time
	buf    []byte
	start  int // first unconsumed byte
	end    int // end of buffered bytes
	stamps []stamp
	data   []byte
	name   []byte
	eof    error
	begun  bool // the stream's first line was read (its byte order mark dropped)
}

// NewReader returns a Reader of r that reads the clock with now (time.Now if
// nil).
func NewReader(r io.Reader, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{r: r, now: now, buf: make([]byte, 4096)}
}

// Reset makes the reader read from r, keeping its buffers for reuse.
func (r *Reader) Reset(rd io.Reader) {
	r.r, r.start, r.end, r.stamps, r.eof, r.begun = rd, 0, 0, r.stamps[:0], nil, false
}

// arrival returns when the byte at buf[p] arrived.
func (r *Reader) arrival(p int) time.Time {
	for _, s := range r.stamps {
		if p < s.end {
			return s.t
		}
	}
	return r.now()
}

// fill reads more bytes into the buffer, compacting or growing it first.
func (r *Reader) fill() error {
	if r.eof != nil {
		return r.eof
	}
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		shift := r.start
		r.start, r.end = 0, n
		k := 0
		for _, s := range r.stamps {
			if s.end -= shift; s.end > 0 {
				r.stamps[k] = s
				k++
			}
		}
		r.stamps = r.stamps[:k]
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= MaxLine {
			return ErrLineTooLong
		}
		nb := make([]byte, 2*len(r.buf))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	n, err := r.r.Read(r.buf[r.end:])
	if n > 0 {
		r.end += n
		r.stamps = append(r.stamps, stamp{r.end, r.now()})
	}
	if err != nil {
		r.eof = err
		if n > 0 {
			return nil
		}
		return err
	}
	return nil
}

// line returns the next line without its terminator and the position its
// first byte had in the buffer. At end of stream a final unterminated line
// is returned; after it, the read error (io.EOF for a clean end).
func (r *Reader) line() (line []byte, pos int, err error) {
	off := 0 // bytes after r.start known to hold no line terminator
	for {
		if i := lineEnd(r.buf[r.start+off : r.end]); i >= 0 {
			j := r.start + off + i
			if r.buf[j] == '\r' && j+1 == r.end && r.eof == nil {
				// A CR at the end of what we have may be half of a CRLF:
				// read on, then look again from this CR.
				off = j - r.start
				if err := r.fill(); err != nil && r.eof == nil {
					return nil, 0, err
				}
				continue
			}
			pos, line = r.start, r.buf[r.start:j]
			next := j + 1
			if r.buf[j] == '\r' && next < r.end && r.buf[next] == '\n' {
				next++
			}
			r.start = next
			return line, pos, nil
		}
		off = r.end - r.start
		if err := r.fill(); err != nil {
			if r.eof != nil && r.end > r.start {
				pos, line = r.start, r.buf[r.start:r.end]
				r.start = r.end
				return line, pos, nil
			}
			return nil, 0, err
		}
	}
}

// lineEnd is the index of the first CR or LF in b, -1 if none: two
// vectorized byte searches, where bytes.IndexAny walks byte by byte (the
// reader's hottest loop: every line of every stream).
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, '\r'); j >= 0 {
		return j
	}
	return i
}

// Next returns the next event. It returns io.EOF when the stream ends
// cleanly, and any other read error as it is.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.name = r.name[:0]
	var at time.Time
	started, hasData := false, false
	for {
		line, pos, err := r.line()
		if !r.begun && err == nil {
			// A byte order mark that starts the stream is not part of
			// its first field's name (WHATWG): read as one, it hid the
			// first event's data.
			r.begun = true
			line = bytes.TrimPrefix(line, bom)
		}
		if err != nil {
			if started && err == io.EOF {
				return r.event(at), nil
			}
			if err == io.EOF {
				return Event{}, io.EOF
			}
			return Event{}, fmt.Errorf("sse: %w", err)
		}
		if len(line) == 0 {
			if started {
				return r.event(at), nil
			}
			continue
		}
		if line[0] == ':' {
			continue // comment, e.g. ": keep-alive"
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		if !started {
			started, at = true, r.arrival(pos)
		}
		switch string(field) {
		case "data":
			if len(r.data)+1+len(value) > MaxLine {
				return Event{}, fmt.Errorf("sse: %w", ErrEventTooLong)
			}
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		case "event":
			r.name = append(r.name[:0], value...)
		}
		// id:, retry: and unknown fields are ignored.
	}
}

func (r *Reader) event(at time.Time) Event {
	return Event{Name: string(r.name), Data: r.data, At: at}
}
