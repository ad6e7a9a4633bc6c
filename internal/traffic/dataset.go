package traffic

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/vision"
)

// Dataset is a Source of a dataset's prompts, read ahead by a goroutine
// into a bounded buffer so that a large file is streamed, never loaded,
// and the dispatcher never waits on the disk. It cycles through the file;
// with Shuffle, rows come out of a seeded shuffle buffer.
type Dataset struct {
	ch     chan conv
	cancel context.CancelFunc
	maxOut int // --max-tokens: overrides the rows' output lengths
	path   string
	notify func(string)
	pass   int    // consumer only: the pass of the last row handed out
	agent  *Agent // the run's tools and format, for rows without their own
}

// conv is a row on its way to the consumer: its pass through the file
// (from 1), and how many rows the file holds (0 until a pass ends).
type conv struct {
	c    *Conversation
	err  error
	pass int
	rows int
}

// DatasetOptions configure a Dataset.
type DatasetOptions struct {
	Path      string
	Format    plan.DatasetFormat
	Shuffle   bool   // through a shuffle buffer of ShuffleBuffer rows
	Seed      uint64 // of the shuffle
	SkipBad   bool   // skip rows that cannot be read (else they stop the run)
	MaxTokens int    // overrides each row's output length when set
	Tokenizer *tokenizer.Tokenizer
	// Notify is told of skipped rows and of the file starting over.
	Notify func(string)
	// Check is how long the file is read through for bad rows before the
	// first is handed out (0: CheckBudget; negative: not at all).
	Check time.Duration
	// Turns is the most turns of a conversation that will be sent (0: 1):
	// the rest are not kept.
	Turns int
	// Agent is the run's tools and format (nil: none), sent with rows
	// that have none of their own, and its tool result.
	Agent *Agent
	// ImageTokens counts a row's inline image's prompt tokens (nil: not
	// counted).
	ImageTokens func(w, h int, d vision.Detail) int
}

// ShuffleBuffer is how many rows a shuffled dataset mixes at once, and
// ShuffleBytes how many bytes of them at most.
const (
	ShuffleBuffer = 10_000
	ShuffleBytes  = 16 << 20
)

// OpenDataset opens a dataset and starts reading ahead. It reads the
// first row before returning, so that a file of the wrong kind fails
// before anything is sent.
func OpenDataset(o DatasetOptions) (*Dataset, error) {
	if o.MaxTokens > 0 {
		// --max-tokens replaces the reference answers' lengths: they need
		// not be counted.
		o.Tokenizer = nil
	}
	if o.Tokenizer != nil {
		// The vocabulary loads while the file is checked.
		go o.Tokenizer.Warm()
	}
	r, err := Open(o.Path, o.Format, o.Tokenizer)
	if err != nil {
		return nil, err
	}
	r.MaxTurns = max(o.Turns, 1)
	r.ImageTokens = o.ImageTokens
	if o.Notify == nil {
		o.Notify = func(string) {}
	}
	if budget := cmp.Or(o.Check, CheckBudget); !o.SkipBad && budget > 0 {
		if err := Check(o.Path, r.format, budget); err != nil {
			r.Close()
			return nil, err
		}
	}
	first, err := r.Next()
	if err == io.EOF {
		r.Close()
		why := "no rows"
		if r.Empty > 0 {
			why = fmt.Sprintf("no rows: none of its %d conversations has a human turn", r.Empty)
		}
		return nil, &BadRow{File: o.Path, Line: 1, Err: errors.New(why)}
	}
	if err != nil && !o.SkipBad {
		r.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dataset{ch: make(chan conv, 256), cancel: cancel, maxOut: o.MaxTokens, path: o.Path, notify: o.Notify, agent: o.Agent}
	go d.read(ctx, r, first, err, o)
	return d, nil
}

// CheckBudget is how long a dataset is read through before the first
// request: all of a file of a few megabytes, so that a bad row in it
// stops the run before anything is sent. A bad row further into a larger
// file stops dispatch when it is reached.
const CheckBudget = 20 * time.Millisecond

// Check reads a dataset's rows, without keeping them, for up to budget,
// and returns the first that cannot be read.
func Check(path string, format plan.DatasetFormat, budget time.Duration) error {
	r, err := Open(path, format, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	deadline := time.Now().Add(budget)
	for n := 0; ; n++ {
		_, err := r.Next()
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		// time.Now costs tens of nanoseconds; a row costs more.
		if n%16 == 0 && time.Now().After(deadline) {
			return nil
		}
	}
}

// Close stops reading.
func (d *Dataset) Close() { d.cancel() }

// Next implements Source: the next conversation's first turn.
func (d *Dataset) Next(n int64, stop <-chan struct{}) (*Item, error) {
	c, err := d.Conversation(stop)
	if err != nil {
		return nil, err
	}
	it := d.item(c.Turns[0].Messages, c.Turns[0], -1, 1)
	it.Expect, it.fields = d.expect(c), c.fields
	return it, nil
}

// Conversation returns the next conversation; ErrStopped if stop closes
// first.
func (d *Dataset) Conversation(stop <-chan struct{}) (*Conversation, error) {
	var v conv
	var ok bool
	select {
	case v, ok = <-d.ch:
	case <-stop:
		return nil, ErrStopped
	}
	if !ok {
		return nil, fmt.Errorf("dataset closed")
	}
	if v.pass > d.pass {
		if d.pass == 1 {
			// Said when the second pass's first row goes, not when the
			// reader, rows ahead, starts it; once, not every pass.
			d.notify(fmt.Sprintf("note: dataset %s: all %d rows sent, starting over (and again each time they are)", d.path, v.rows))
		}
		d.pass = v.pass
	}
	return v.c, v.err
}

// item makes the request of a turn whose messages (history included) are
// msgs.
func (d *Dataset) item(msgs []json.RawMessage, t Turn, session int64, turn int) *Item {
	out := t.Output
	if d.maxOut > 0 {
		out = d.maxOut
	}
	b := []byte{'['}
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	b = append(b, ']')
	// The prompt's tokens are the server's to count: the tokenizer is
	// the costliest thing a client does, and a dataset's prompts are not
	// built to a count.
	return &Item{Prompt: -1, MaxTokens: out, Session: session, Turn: turn, messages: b,
		Images: t.Images, ImageBytes: t.ImageBytes, ImageTokens: t.ImageTokens}
}
