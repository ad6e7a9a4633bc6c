package traffic

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
)

// read feeds the buffer until cancelled.
func (d *Dataset) read(ctx context.Context, r *Reader, first *Conversation, firstErr error, o DatasetOptions) {
	defer close(d.ch)
	// r is replaced at each pass; the one open at the end is closed.
	defer func() { r.Close() }()
	notify := func(msg string) {
		if ctx.Err() == nil {
			o.Notify(msg)
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xda7a))
	pass, rows, fileRows := 1, 0, 0
	send := func(c *Conversation, err error, pass int) bool {
		select {
		case d.ch <- conv{c, err, pass, fileRows}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// The shuffle buffer grows by a row for every row sent, so that the
	// first goes at once, until it holds ShuffleBuffer rows or
	// ShuffleBytes; it is kept across passes, so the mixing never stops
	// and never stalls to refill.
	var buf []*Conversation
	var passOf []int
	bytes, emitted := 0, 0
	size := func(c *Conversation) int {
		n := 0
		for i := range c.Turns {
			n += c.Turns[i].size()
		}
		return n
	}
	emit := func(c *Conversation) bool {
		if !o.Shuffle {
			return send(c, nil, pass)
		}
		buf, passOf = append(buf, c), append(passOf, pass)
		bytes += size(c)
		for len(buf) > 0 && (len(buf) > min(emitted, ShuffleBuffer) || bytes > ShuffleBytes) {
			i := rng.IntN(len(buf))
			out, outPass := buf[i], passOf[i]
			last := len(buf) - 1
			buf[i], passOf[i] = buf[last], passOf[last]
			buf, passOf = buf[:last], passOf[:last]
			bytes -= size(out)
			emitted++
			if !send(out, nil, outPass) {
				return false
			}
		}
		return true
	}
	warnedEmpty, skipped := false, 0
	c, err := first, firstErr
	for {
		if r.Empty > 0 && !warnedEmpty {
			warnedEmpty = true
			notify(fmt.Sprintf("note: dataset %s: skipping conversations with no human turn", o.Path))
		}
		switch {
		case err == io.EOF:
			if rows == 0 {
				send(nil, &BadRow{File: o.Path, Line: 1, Err: fmt.Errorf("no readable rows")}, pass)
				return
			}
			r.Close()
			nr, err := Open(o.Path, r.format, o.Tokenizer)
			if err != nil {
				send(nil, err, pass)
				return
			}
			r = nr
			r.MaxTurns = max(o.Turns, 1)
			if pass == 1 {
				fileRows = rows
			}
			pass, rows = pass+1, 0
		case err != nil:
			if !o.SkipBad {
				send(nil, err, pass)
				return
			}
			// Each bad row is named once, on the first pass, and at most
			// maxSkipNotes of them.
			if pass == 1 {
				skipped++
				switch {
				case skipped <= maxSkipNotes:
					notify(fmt.Sprintf("warning: skipped %v", err))
				case skipped == maxSkipNotes+1:
					notify(fmt.Sprintf("warning: dataset %s: more rows skipped, not listed", o.Path))
				}
			}
			if br, ok := err.(*BadRow); ok && br.Lost {
				// Nothing after it can be read: start over.
				err = io.EOF
				continue
			}
		default:
			rows++
			if !emit(c) {
				return
			}
		}
		c, err = r.Next()
	}
}

// maxSkipNotes is how many skipped rows a dataset names.
const maxSkipNotes = 20
