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

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Dataset formats.
const (
	ShareGPT = "sharegpt" // [{"conversations":[{"from":"human","value":...}]}]
	JSONL    = "jsonl"    // a line {"prompt":...} or {"messages":[...]}, with output_tokens or max_tokens
	Replay   = "replay"   // [[{"role":...,"content":...}], ...]: a JSON array of message lists
	CSV      = "csv"      // prompt,output_tokens columns
)

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
}

func (e *BadRow) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Reader streams a dataset's conversations: it never holds the file,
// only what its caller keeps.
type Reader struct {
	path, format string
	f            *os.File
	br           *bufio.Reader
	dec          *json.Decoder
	cr           *csv.Reader
	promptCol    int
	outputCol    int
	line         int // the line of a JSONL reader
	tok          *tokenizer.Tokenizer
	started      bool
	// MaxTurns, if positive, keeps only a conversation's first turns.
	MaxTurns int
}

// Detect tells a dataset's format from its name and first bytes.
func Detect(path string, head []byte) (string, error) {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
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
			return Replay, nil
		case bytes.Contains(head, []byte(`"conversations"`)):
			return ShareGPT, nil
		}
		return "", fmt.Errorf("a JSON array, but neither ShareGPT (objects with \"conversations\") nor the replay format (arrays of messages): give --dataset-format")
	case '{':
		return JSONL, nil
	}
	return "", fmt.Errorf("neither JSON nor JSONL: give --dataset-format (sharegpt, jsonl, replay, csv)")
}

// Open opens a dataset; format "" detects it. tok counts reference
// answers' tokens (ShareGPT's, the replay format's).
func Open(path, format string, tok *tokenizer.Tokenizer) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	head, _ := br.Peek(4096)
	if format == "" {
		if format, err = Detect(path, head); err != nil {
			f.Close()
			return nil, &BadRow{path, 1, err}
		}
	}
	r := &Reader{path: path, format: format, f: f, br: br, tok: tok}
	switch format {
	case ShareGPT, Replay:
		r.dec = json.NewDecoder(br)
		tk, err := r.dec.Token()
		if err != nil || tk != json.Delim('[') {
			f.Close()
			return nil, &BadRow{path, 1, fmt.Errorf("want a JSON array of %s rows", format)}
		}
	case CSV:
		r.cr = csv.NewReader(br)
		r.cr.ReuseRecord = true
		hdr, err := r.cr.Read()
		if err != nil {
			f.Close()
			return nil, &BadRow{path, 1, fmt.Errorf("want a header with prompt and output_tokens columns: %v", err)}
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
			return nil, &BadRow{path, 1, fmt.Errorf("no prompt column in the header %q", strings.Join(hdr, ","))}
		}
	case JSONL:
	default:
		f.Close()
		return nil, fmt.Errorf("unknown dataset format %q (want sharegpt, jsonl, replay or csv)", format)
	}
	return r, nil
}

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
func (r *Reader) Format() string { return r.format }

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

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
// (past spaces and the comma between rows), by counting from the start of
// the file: only for an error, so the cost does not matter.
func (r *Reader) lineAt(off int64) int {
	f, err := os.Open(r.path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 1
	br := bufio.NewReader(f)
	for i := int64(0); ; i++ {
		c, err := br.ReadByte()
		if err != nil {
			return n
		}
		if i >= off && !strings.ContainsRune(" \t\r\n,", rune(c)) {
			return n
		}
		if c == '\n' {
			n++
		}
	}
}

// Next returns the next conversation, io.EOF at the end, or a *BadRow.
func (r *Reader) Next() (*Conversation, error) {
	switch r.format {
	case ShareGPT, Replay:
		if !r.dec.More() {
			if _, err := r.dec.Token(); err != nil {
				return nil, &BadRow{r.path, r.lineAt(r.dec.InputOffset()), fmt.Errorf("the JSON array is not closed: %v", err)}
			}
			return nil, io.EOF
		}
		off := r.dec.InputOffset()
		var raw json.RawMessage
		if err := r.dec.Decode(&raw); err != nil {
			line := r.lineAt(off)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, &BadRow{r.path, line, fmt.Errorf("the file ends inside a row: truncated JSON")}
			}
			// A syntax error leaves the decoder lost: nothing after it can
			// be read.
			return nil, &BadRow{r.path, line, fmt.Errorf("malformed JSON: %v", err)}
		}
		var c *Conversation
		var err error
		if r.format == ShareGPT {
			c, err = r.shareGPT(raw)
		} else {
			c, err = r.replay(raw)
		}
		if err != nil {
			return nil, &BadRow{r.path, r.lineAt(off), err}
		}
		return c, nil
	case CSV:
		rec, err := r.cr.Read()
		if err == io.EOF {
			return nil, io.EOF
		}
		line, _ := r.cr.FieldPos(0)
		if err != nil {
			return nil, &BadRow{r.path, line, err}
		}
		if r.promptCol >= len(rec) || strings.TrimSpace(rec[r.promptCol]) == "" {
			return nil, &BadRow{r.path, line, fmt.Errorf("no prompt")}
		}
		out := 0
		if r.outputCol >= 0 && r.outputCol < len(rec) && strings.TrimSpace(rec[r.outputCol]) != "" {
			if out, err = strconv.Atoi(strings.TrimSpace(rec[r.outputCol])); err != nil || out < 1 {
				return nil, &BadRow{r.path, line, fmt.Errorf("output_tokens %q is not a positive whole number", rec[r.outputCol])}
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
			return nil, &BadRow{r.path, r.line, err}
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		c, perr := r.jsonl(b)
		if perr != nil {
			return nil, &BadRow{r.path, r.line, perr}
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
		return nil, fmt.Errorf("a conversation with no human turn")
	}
	return c, nil
}

// Dataset is a Source of a dataset's prompts, read ahead by a goroutine
// into a bounded buffer so that a large file is streamed, never loaded,
// and the dispatcher never waits on the disk. It cycles through the file;
// with Shuffle, rows come out of a seeded shuffle buffer.
type Dataset struct {
	ch      chan conv
	cancel  context.CancelFunc
	maxOut  int // --max-tokens: overrides the rows' output lengths
	turns   bool
	Wrapped func(rows int) // called when the file starts over
}

type conv struct {
	c   *Conversation
	err error
}

// DatasetOptions configure a Dataset.
type DatasetOptions struct {
	Path, Format string
	Shuffle      bool   // through a shuffle buffer of ShuffleBuffer rows
	Seed         uint64 // of the shuffle
	SkipBad      bool   // skip rows that cannot be read (else they stop the run)
	MaxTokens    int    // overrides each row's output length when set
	Tokenizer    *tokenizer.Tokenizer
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
		return nil, &BadRow{o.Path, 1, fmt.Errorf("no rows")}
	}
	if err != nil && !o.SkipBad {
		r.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dataset{ch: make(chan conv, 256), cancel: cancel, maxOut: o.MaxTokens}
	go d.read(ctx, r, first, err, o)
	return d, nil
}

// read feeds the buffer until cancelled.
func (d *Dataset) read(ctx context.Context, r *Reader, first *Conversation, firstErr error, o DatasetOptions) {
	defer close(d.ch)
	rng := rand.New(rand.NewPCG(o.Seed, 0xda7a))
	var buf []*Conversation
	send := func(c *Conversation, err error) bool {
		select {
		case d.ch <- conv{c, err}:
			return true
		case <-ctx.Done():
			return false
		}
	}
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
			return send(c, nil)
		}
		buf = append(buf, c)
		bytes += size(c)
		// The buffer grows by a row for every row sent, so that the first
		// goes at once, until it holds ShuffleBuffer rows or ShuffleBytes.
		for len(buf) > 0 && (len(buf) > min(emitted, ShuffleBuffer) || bytes > ShuffleBytes) {
			i := rng.IntN(len(buf))
			out := buf[i]
			buf[i] = buf[len(buf)-1]
			buf = buf[:len(buf)-1]
			bytes -= size(out)
			emitted++
			if !send(out, nil) {
				return false
			}
		}
		return true
	}
	rows, c, err := 0, first, firstErr
	for {
		switch {
		case err == io.EOF:
			r.Close()
			if rows == 0 {
				send(nil, &BadRow{o.Path, 1, fmt.Errorf("no readable rows")})
				return
			}
			// Start over, and flush the shuffle buffer in its own order.
			for len(buf) > 0 && o.Shuffle {
				i := rng.IntN(len(buf))
				if !send(buf[i], nil) {
					return
				}
				buf[i] = buf[len(buf)-1]
				buf = buf[:len(buf)-1]
			}
			o.Notify(fmt.Sprintf("note: dataset %s: all %d rows sent, starting over", o.Path, rows))
			if r, err = Open(o.Path, r.format, o.Tokenizer); err != nil {
				send(nil, err)
				return
			}
			r.MaxTurns = max(o.Turns, 1)
			rows = 0
		case err != nil:
			if !o.SkipBad {
				send(nil, err)
				return
			}
			o.Notify(fmt.Sprintf("warning: skipped %v", err))
			var br *BadRow
			if errors.As(err, &br) && strings.HasPrefix(br.Err.Error(), "malformed JSON") && (r.format == ShareGPT || r.format == Replay) {
				// A JSON array cannot be read past a syntax error.
				err = io.EOF
				continue
			}
		default:
			rows++
			if !emit(c) {
				r.Close()
				return
			}
		}
		c, err = r.Next()
	}
}

// CheckBudget is how long a dataset is read through before the first
// request: all of a file of a few megabytes, so that a bad row in it
// stops the run before anything is sent. A bad row further into a larger
// file stops dispatch when it is reached.
const CheckBudget = 20 * time.Millisecond

// Check reads a dataset's rows, without keeping them, for up to budget,
// and returns the first that cannot be read.
func Check(path, format string, budget time.Duration) error {
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
func (d *Dataset) Next(n int64) (*Item, error) {
	c, err := d.Conversation()
	if err != nil {
		return nil, err
	}
	return d.item(c.Turns[0].Messages, c.Turns[0], -1, 1), nil
}

// Conversation returns the next conversation.
func (d *Dataset) Conversation() (*Conversation, error) {
	v, ok := <-d.ch
	if !ok {
		return nil, fmt.Errorf("dataset closed")
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
