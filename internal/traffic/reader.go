package traffic

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
	"github.com/aoaibench/aoaibench/internal/vision"
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
	// Images is how many image parts the turn's messages hold,
	// ImageBytes the bytes of their URLs, ImageTokens their prompt
	// tokens (-1: not known: an image by address, or no rule to count
	// by).
	Images, ImageBytes, ImageTokens int
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
	// fields are the row's own tools, tool_choice and response_format,
	// sent as given; expect checks answers by them (nil: none).
	fields *fields
	expect *schema.Expect
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
	// ImageTokens counts an inline image's prompt tokens (nil: not
	// counted, -1 in the turn).
	ImageTokens func(w, h int, d vision.Detail) int
	// schemas are the rows' compiled schemas by text: rows repeat them.
	schemas schemaCache
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
		return r.nextInArray()
	case plan.CSV:
		return r.nextCSV()
	}
	return r.nextJSONL()
}

// nextInArray reads the next row of a JSON array (ShareGPT, replay),
// skipping ShareGPT's conversations with no human turn.
func (r *Reader) nextInArray() (*Conversation, error) {
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
}

// nextCSV reads the next CSV row: its prompt and, when there is one, its
// output length.
func (r *Reader) nextCSV() (*Conversation, error) {
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

// nextJSONL reads the next JSONL row, past blank lines.
func (r *Reader) nextJSONL() (*Conversation, error) {
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

// userTurn is a turn of one user message, text, whose reference answer
// was output tokens long.
func userTurn(text string, output int) Turn {
	m, _ := json.Marshal(map[string]string{"role": "user", "content": text})
	return Turn{Messages: []json.RawMessage{m}, Output: output}
}

// jsonl reads one JSONL row.
func (r *Reader) jsonl(b []byte) (*Conversation, error) {
	var v struct {
		Prompt         *string           `json:"prompt"`
		Messages       []json.RawMessage `json:"messages"`
		OutputTokens   int               `json:"output_tokens"`
		MaxTokens      int               `json:"max_tokens"`
		Tools          json.RawMessage   `json:"tools"`
		ToolChoice     json.RawMessage   `json:"tool_choice"`
		ResponseFormat json.RawMessage   `json:"response_format"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	out := max(v.OutputTokens, v.MaxTokens)
	if v.OutputTokens < 0 || v.MaxTokens < 0 {
		return nil, fmt.Errorf("output_tokens and max_tokens must not be negative")
	}
	var c *Conversation
	switch {
	case v.Prompt != nil && *v.Prompt != "":
		c = &Conversation{Turns: []Turn{userTurn(*v.Prompt, out)}}
	case len(v.Messages) > 0:
		t, err := messagesTurn(v.Messages)
		if err != nil {
			return nil, err
		}
		t.Output = out
		r.countImages(&t)
		c = &Conversation{Turns: []Turn{t}}
	default:
		return nil, fmt.Errorf(`want "prompt" (a string) or "messages" (a list)`)
	}
	if err := r.rowFields(c, v.Tools, v.ToolChoice, v.ResponseFormat); err != nil {
		return nil, err
	}
	return c, nil
}

// messagesTurn checks a list of chat messages: each an object with a role
// and a content (a string, or parts, images included, sent as they are).
func messagesTurn(msgs []json.RawMessage) (Turn, error) {
	var t Turn
	for i, m := range msgs {
		var v struct {
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		}
		// An assistant's tool calls may stand for its content.
		if err := json.Unmarshal(m, &v); err != nil || v.Role == "" || len(v.Content) == 0 && len(v.ToolCalls) == 0 {
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
	r.countImages(&t)
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
		Tools json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("want {\"conversations\": [{\"from\": ..., \"value\": ...}]}")
	}
	c := &Conversation{}
	if err := r.rowFields(c, v.Tools, nil, nil); err != nil {
		return nil, err
	}
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
