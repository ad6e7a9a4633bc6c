package traffic

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// The dataset formats are plan.DatasetFormat's: ShareGPT's
// [{"conversations":[{"from":"human","value":...}]}]; JSONL's lines of
// {"prompt":...} or {"messages":[...]}, with output_tokens or max_tokens;
// the replay format's [[{"role":...,"content":...}], ...]; CSV's
// prompt,output_tokens columns.

// Turn is one turn of a conversation: the messages a user adds (a user
// message, perhaps after a system one), and how long the reference answer
// was, in tokens (0: unknown).
type Turn struct {
	Messages []json.RawMessage
	Output   int
}

// size is the bytes the turn holds.
func (t *Turn) size() int {
	n := 64
	for _, m := range t.Messages {
		n += len(m) + 24
	}
	return n
}

// Conversation is one row of a dataset: one turn, or several.
type Conversation struct {
	Line  int // where it starts in its file (CSV and JSONL; 0 for a JSON array)
	Turns []Turn
}

// BadRow is a row that cannot be read: file:line and why.
type BadRow struct {
	File string
	Line int
	Err  error
	// Lost says nothing after the row can be read: a JSON array's
	// decoder does not recover from a syntax error or a cut.
	Lost bool
}

func (e *BadRow) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Reader streams a dataset's conversations: it never holds the file,
// only what its caller keeps.
type Reader struct {
	path      string
	format    plan.DatasetFormat
	f         *os.File
	br        *bufio.Reader
	dec       *json.Decoder
	cr        *csv.Reader
	promptCol int
	outputCol int
	line      int // the line of a JSONL reader
	// lineOff and lineNo are where lineAt last counted to, so that
	// counting lines for many bad rows reads the file once.
	lineOff int64
	lineNo  int
	lf      *os.File
	skip    int64 // bytes of a byte order mark before the data
	// Empty counts conversations skipped for having no user turn.
	Empty   int
	tok     *tokenizer.Tokenizer
	started bool
	// MaxTurns, if positive, keeps only a conversation's first turns.
	MaxTurns int
}

// Detect tells a dataset's format from its name and first bytes.
func Detect(path string, head []byte) (plan.DatasetFormat, error) {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return plan.CSV, nil
	case ".jsonl", ".ndjson":
		return plan.JSONL, nil
	}
	if len(head) == 0 {
		return "", fmt.Errorf("empty")
	}
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(wholeRunes(head)) {
		return "", fmt.Errorf("not text: not a dataset")
	}
	switch head[0] {
	case '[':
		rest := bytes.TrimLeft(head[1:], " \t\r\n")
		switch {
		case len(rest) > 0 && rest[0] == '[':
			return plan.Replay, nil
		case bytes.Contains(head, []byte(`"conversations"`)):
			return plan.ShareGPT, nil
		}
		return "", fmt.Errorf("a JSON array, but neither ShareGPT (objects with \"conversations\") nor the replay format (arrays of messages): give --dataset-format")
	case '{':
		return plan.JSONL, nil
	}
	return "", fmt.Errorf("neither JSON nor JSONL: give --dataset-format (sharegpt, jsonl, replay, csv)")
}

// Open opens a dataset; format "" detects it. tok counts reference
// answers' tokens (ShareGPT's, the replay format's).
func Open(path string, format plan.DatasetFormat, tok *tokenizer.Tokenizer) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	head, _ := br.Peek(4096)
	// A UTF-8 byte order mark (Windows editors write one) is not the
	// data's: JSON decoders refuse it.
	skip := 0
	if bytes.HasPrefix(head, []byte(bom)) {
		br.Discard(len(bom))
		head, skip = head[len(bom):], len(bom)
	}
	if format == "" {
		if format, err = Detect(path, head); err != nil {
			f.Close()
			return nil, &BadRow{File: path, Line: 1, Err: err}
		}
	}
	r := &Reader{path: path, format: format, f: f, br: br, tok: tok, skip: int64(skip)}
	switch format {
	case plan.ShareGPT, plan.Replay:
		r.dec = json.NewDecoder(br)
		tk, err := r.dec.Token()
		if err != nil || tk != json.Delim('[') {
			f.Close()
			return nil, &BadRow{File: path, Line: 1, Err: fmt.Errorf("want a JSON array of %s rows", format)}
		}
	case plan.CSV:
		r.cr = csv.NewReader(br)
		r.cr.ReuseRecord = true
		hdr, err := r.cr.Read()
		if err != nil {
			f.Close()
			return nil, &BadRow{File: path, Line: 1, Err: fmt.Errorf("want a header with prompt and output_tokens columns: %v", err)}
		}
		r.promptCol, r.outputCol = -1, -1
		for i, h := range hdr {
			switch strings.TrimSpace(strings.ToLower(strings.TrimPrefix(h, "\ufeff"))) {
			case "prompt":
				r.promptCol = i
			case "output_tokens", "max_tokens":
				r.outputCol = i
			}
		}
		if r.promptCol < 0 {
			f.Close()
			return nil, &BadRow{File: path, Line: 1, Err: fmt.Errorf("no prompt column in the header %q", strings.Join(hdr, ","))}
		}
	case plan.JSONL:
	default:
		f.Close()
		return nil, fmt.Errorf("unknown dataset format %q (want sharegpt, jsonl, replay or csv)", format)
	}
	return r, nil
}

// bom is UTF-8's byte order mark.
const bom = "\ufeff"

// MaxRow is the longest line of a JSONL dataset: a file that is not
// JSONL (one line of a gigabyte) must not be read whole into memory.
const MaxRow = 64 << 20

// readLine reads one line of at most MaxRow bytes.
func (r *Reader) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(line)+len(frag) > MaxRow {
			return nil, fmt.Errorf("a line of over %d MB: not a JSONL row", MaxRow>>20)
		}
		line = append(line, frag...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// Format returns the dataset's format.
func (r *Reader) Format() plan.DatasetFormat { return r.format }

// Close closes the file.
func (r *Reader) Close() error {
	if r.lf != nil {
		r.lf.Close()
	}
	return r.f.Close()
}

// wholeRunes cuts b after its last whole rune: a peek may end inside one.
func wholeRunes(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return b
			}
			return b[:i]
		}
	}
	return b
}

// lineAt returns the line of the first row byte at or after offset off
// (past spaces and the comma between rows). It counts on from where it
// last stopped when off is past it (rows come in order), else from the
// start: only errors ask, and the whole file is read at most once per
// pass.
func (r *Reader) lineAt(off int64) int {
	off += r.skip // the decoder's offsets start past a byte order mark
	if r.lf == nil {
		f, err := os.Open(r.path)
		if err != nil {
			return 0
		}
		r.lf, r.lineOff, r.lineNo = f, 0, 1
	}
	if off < r.lineOff {
		r.lineOff, r.lineNo = 0, 1
	}
	buf := make([]byte, 64<<10)
	pos := r.lineOff
	for {
		k, err := r.lf.ReadAt(buf, pos)
		for _, c := range buf[:k] {
			if pos >= off && !strings.ContainsRune(" \t\r\n,", rune(c)) {
				// lineNo is the line of pos: the next call counts on
				// from here.
				r.lineOff = pos
				return r.lineNo
			}
			if c == '\n' {
				r.lineNo++
			}
			pos++
		}
		if err != nil {
			r.lineOff = pos
			return r.lineNo
		}
	}
}

// Next returns the next conversation, io.EOF at the end, or a *BadRow.
func (r *Reader) Next() (*Conversation, error) {
	switch r.format {
	case plan.ShareGPT, plan.Replay:
		if !r.dec.More() {
			if _, err := r.dec.Token(); err != nil {
				return nil, &BadRow{File: r.path, Line: r.lineAt(r.dec.InputOffset()), Err: fmt.Errorf("the JSON array is not closed: %v", err), Lost: true}
			}
			return nil, io.EOF
		}
		off := r.dec.InputOffset()
		var raw json.RawMessage
		if err := r.dec.Decode(&raw); err != nil {
			line := r.lineAt(off)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, &BadRow{File: r.path, Line: line, Err: fmt.Errorf("the file ends inside a row: truncated JSON"), Lost: true}
			}
			// A syntax error leaves the decoder lost: nothing after it can
			// be read.
			return nil, &BadRow{File: r.path, Line: line, Err: fmt.Errorf("malformed JSON: %v", err), Lost: true}
		}
		var c *Conversation
		var err error
		if r.format == plan.ShareGPT {
			c, err = r.shareGPT(raw)
		} else {
			c, err = r.replay(raw)
		}
		if err == errNoTurn {
			// Public ShareGPT files hold conversations with no human
			// turn: nothing to send, and no reason to stop.
			r.Empty++
			return r.Next()
		}
		if err != nil {
			return nil, &BadRow{File: r.path, Line: r.lineAt(off), Err: err, Lost: false}
		}
		return c, nil
	case plan.CSV:
		rec, err := r.cr.Read()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			// FieldPos panics after a parse error: the error has the line.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
				err = pe.Err
			}
			return nil, &BadRow{File: r.path, Line: line, Err: err, Lost: false}
		}
		line, _ := r.cr.FieldPos(0)
		if r.promptCol >= len(rec) || strings.TrimSpace(rec[r.promptCol]) == "" {
			return nil, &BadRow{File: r.path, Line: line, Err: fmt.Errorf("no prompt"), Lost: false}
		}
		out := 0
		if r.outputCol >= 0 && r.outputCol < len(rec) && strings.TrimSpace(rec[r.outputCol]) != "" {
			if out, err = strconv.Atoi(strings.TrimSpace(rec[r.outputCol])); err != nil || out < 1 {
				return nil, &BadRow{File: r.path, Line: line, Err: fmt.Errorf("output_tokens %q is not a positive whole number", rec[r.outputCol]), Lost: false}
			}
		}
		return &Conversation{Line: line, Turns: []Turn{userTurn(rec[r.promptCol], out)}}, nil
	}
	for {
		b, err := r.readLine()
		if len(b) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		r.line++
		if err != nil && err != io.EOF {
			return nil, &BadRow{File: r.path, Line: r.line, Err: err, Lost: true}
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		c, perr := r.jsonl(b)
		if perr != nil {
			return nil, &BadRow{File: r.path, Line: r.line, Err: perr, Lost: false}
		}
		c.Line = r.line
		return c, nil
	}
}

func userTurn(text string, output int) Turn {
	m, _ := json.Marshal(map[string]string{"role": "user", "content": text})
	return Turn{Messages: []json.RawMessage{m}, Output: output}
}

// jsonl reads one JSONL row.
func (r *Reader) jsonl(b []byte) (*Conversation, error) {
	var v struct {
		Prompt       *string           `json:"prompt"`
		Messages     []json.RawMessage `json:"messages"`
		OutputTokens int               `json:"output_tokens"`
		MaxTokens    int               `json:"max_tokens"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	out := max(v.OutputTokens, v.MaxTokens)
	if v.OutputTokens < 0 || v.MaxTokens < 0 {
		return nil, fmt.Errorf("output_tokens and max_tokens must not be negative")
	}
	switch {
	case v.Prompt != nil && *v.Prompt != "":
		return &Conversation{Turns: []Turn{userTurn(*v.Prompt, out)}}, nil
	case len(v.Messages) > 0:
		t, err := messagesTurn(v.Messages)
		if err != nil {
			return nil, err
		}
		t.Output = out
		return &Conversation{Turns: []Turn{t}}, nil
	}
	return nil, fmt.Errorf(`want "prompt" (a string) or "messages" (a list)`)
}

// messagesTurn checks a list of chat messages: each an object with a role
// and a content (a string, or parts, images included, sent as they are).
func messagesTurn(msgs []json.RawMessage) (Turn, error) {
	var t Turn
	for i, m := range msgs {
		var v struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(m, &v); err != nil || v.Role == "" || len(v.Content) == 0 {
			return t, fmt.Errorf("message %d: want {\"role\": ..., \"content\": ...}", i+1)
		}
	}
	t.Messages = msgs
	return t, nil
}

// replay reads one row of the replay format: a list of messages.
func (r *Reader) replay(raw json.RawMessage) (*Conversation, error) {
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("want a non-empty list of messages")
	}
	t, err := messagesTurn(msgs)
	if err != nil {
		return nil, err
	}
	return &Conversation{Turns: []Turn{t}}, nil
}

// shareGPT reads one ShareGPT conversation: each human turn, with a
// system message before the first when there is one, and the length of
// the reference answer that follows it.
func (r *Reader) shareGPT(raw json.RawMessage) (*Conversation, error) {
	var v struct {
		Conversations []struct {
			From  string `json:"from"`
			Value string `json:"value"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("want {\"conversations\": [{\"from\": ..., \"value\": ...}]}")
	}
	c := &Conversation{}
	var system []json.RawMessage
	for i := 0; i < len(v.Conversations); i++ {
		m := v.Conversations[i]
		switch strings.ToLower(m.From) {
		case "system":
			s, _ := json.Marshal(map[string]string{"role": "system", "content": m.Value})
			system = append(system, s)
		case "human", "user":
			t := userTurn(m.Value, 0)
			if len(c.Turns) == 0 && len(system) > 0 {
				t.Messages = append(system, t.Messages...)
			}
			if i+1 < len(v.Conversations) {
				if next := strings.ToLower(v.Conversations[i+1].From); next == "gpt" || next == "assistant" || next == "chatgpt" || next == "bard" || next == "model" {
					ref := v.Conversations[i+1].Value
					if len(ref) > 16<<10 {
						ref = ref[:16<<10]
					}
					if r.tok != nil {
						t.Output = r.tok.Count(strings.ToValidUTF8(ref, ""))
					}
				}
			}
			c.Turns = append(c.Turns, t)
			if r.MaxTurns > 0 && len(c.Turns) >= r.MaxTurns {
				// The rest would never be sent: do not hold it.
				return c, nil
			}
		}
	}
	if len(c.Turns) == 0 {
		return nil, errNoTurn
	}
	return c, nil
}

// errNoTurn is a ShareGPT conversation with no human turn.
var errNoTurn = errors.New("a conversation with no human turn")

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
	pass   int // consumer only: the pass of the last row handed out
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
	d := &Dataset{ch: make(chan conv, 256), cancel: cancel, maxOut: o.MaxTokens, path: o.Path, notify: o.Notify}
	go d.read(ctx, r, first, err, o)
	return d, nil
}

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
	return d.item(c.Turns[0].Messages, c.Turns[0], -1, 1), nil
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
	return &Item{Prompt: -1, MaxTokens: out, Session: session, Turn: turn, messages: b}
}
