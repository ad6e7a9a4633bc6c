package traffic

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
)

// read feeds the buffer until cancelled: the file's rows in order, or
// through the shuffle buffer, pass after pass; a bad row stops it, or is
// named and skipped with SkipBad.
func (d *Dataset) read(ctx context.Context, r *Reader, first *Conversation, firstErr error, o DatasetOptions) {
	defer close(d.ch)
	// r is replaced at each pass; the one open at the end is closed.
	defer func() { r.Close() }()
	f := &feeder{d: d, ctx: ctx, o: o, rng: rand.New(rand.NewPCG(o.Seed, 0xda7a)), pass: 1}
	c, err := first, firstErr
	for {
		f.noteEmpty(r)
		switch {
		case err == io.EOF:
			if f.rows == 0 {
				f.send(nil, &BadRow{File: o.Path, Line: 1, Err: fmt.Errorf("no readable rows")}, f.pass)
				return
			}
			nr, err := f.startOver(r)
			if err != nil {
				f.send(nil, err, f.pass)
				return
			}
			r = nr
		case err != nil:
			if !o.SkipBad {
				f.send(nil, err, f.pass)
				return
			}
			f.noteSkipped(err)
			if br, ok := err.(*BadRow); ok && br.Lost {
				// Nothing after it can be read: start over.
				err = io.EOF
				continue
			}
		default:
			f.rows++
			if !f.emit(c) {
				return
			}
		}
		c, err = r.Next()
	}
}

// feeder is the state of the goroutine that reads a dataset ahead.
type feeder struct {
	d   *Dataset
	ctx context.Context
	o   DatasetOptions
	rng *rand.Rand
	// pass is the pass through the file (from 1), rows the rows read in
	// it, fileRows the rows of the whole file (0 until the first pass
	// ends).
	pass, rows, fileRows int
	// The shuffle buffer grows by a row for every row sent, so that the
	// first goes at once, until it holds ShuffleBuffer rows or
	// ShuffleBytes; it is kept across passes, so the mixing never stops
	// and never stalls to refill.
	buf     []*Conversation
	passOf  []int // the pass of each row in buf
	bytes   int   // the size of the rows in buf
	emitted int
	// warnedEmpty and skipped are what was said of rows not sent.
	warnedEmpty bool
	skipped     int
}

// notify tells o.Notify msg, unless the run is over.
func (f *feeder) notify(msg string) {
	if f.ctx.Err() == nil {
		f.o.Notify(msg)
	}
}

// send hands a row (or an error) of pass to the consumer; false when the
// dataset was closed first.
func (f *feeder) send(c *Conversation, err error, pass int) bool {
	select {
	case f.d.ch <- conv{c, err, pass, f.fileRows}:
		return true
	case <-f.ctx.Done():
		return false
	}
}

// emit sends row c, or puts it in the shuffle buffer and sends what the
// buffer lets out; false when the dataset was closed.
func (f *feeder) emit(c *Conversation) bool {
	if !f.o.Shuffle {
		return f.send(c, nil, f.pass)
	}
	f.buf, f.passOf = append(f.buf, c), append(f.passOf, f.pass)
	f.bytes += rowSize(c)
	for len(f.buf) > 0 && (len(f.buf) > min(f.emitted, ShuffleBuffer) || f.bytes > ShuffleBytes) {
		i := f.rng.IntN(len(f.buf))
		out, outPass := f.buf[i], f.passOf[i]
		last := len(f.buf) - 1
		f.buf[i], f.passOf[i] = f.buf[last], f.passOf[last]
		f.buf, f.passOf = f.buf[:last], f.passOf[:last]
		f.bytes -= rowSize(out)
		f.emitted++
		if !f.send(out, nil, outPass) {
			return false
		}
	}
	return true
}

// rowSize is the bytes a row holds.
func rowSize(c *Conversation) int {
	n := 0
	for i := range c.Turns {
		n += c.Turns[i].size()
	}
	return n
}

// startOver closes r at the end of a pass and opens the file again for
// the next.
func (f *feeder) startOver(r *Reader) (*Reader, error) {
	r.Close()
	nr, err := Open(f.o.Path, r.format, f.o.Tokenizer)
	if err != nil {
		return nil, err
	}
	nr.MaxTurns = max(f.o.Turns, 1)
	if f.pass == 1 {
		f.fileRows = f.rows
	}
	f.pass, f.rows = f.pass+1, 0
	return nr, nil
}

// noteEmpty says once that the file has conversations with no human
// turn, skipped.
func (f *feeder) noteEmpty(r *Reader) {
	if r.Empty > 0 && !f.warnedEmpty {
		f.warnedEmpty = true
		f.notify(fmt.Sprintf("note: dataset %s: skipping conversations with no human turn", f.o.Path))
	}
}

// noteSkipped names a bad row skipped: each once, on the first pass, and
// at most maxSkipNotes of them.
func (f *feeder) noteSkipped(err error) {
	if f.pass != 1 {
		return
	}
	f.skipped++
	switch {
	case f.skipped <= maxSkipNotes:
		f.notify(fmt.Sprintf("warning: skipped %v", err))
	case f.skipped == maxSkipNotes+1:
		f.notify(fmt.Sprintf("warning: dataset %s: more rows skipped, not listed", f.o.Path))
	}
}

// maxSkipNotes is how many skipped rows a dataset names.
const maxSkipNotes = 20
