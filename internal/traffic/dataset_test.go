package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const shareGPT = `[
 {"id": "a", "conversations": [
   {"from": "system", "value": "be brief"},
   {"from": "human", "value": "hello there"},
   {"from": "gpt", "value": "time year people way day"},
   {"from": "human", "value": "and then?"},
   {"from": "gpt", "value": "man thing"}]},
 {"id": "b", "conversations": [{"from": "human", "value": "one more"}, {"from": "gpt", "value": "ok"}]}
]`

func TestDatasetFormats(t *testing.T) {
	t.Parallel()
	tok, _ := tokenizer.Get(tokenizer.O200k)
	for _, tc := range []formatCase{
		{"sg.json", shareGPT, plan.ShareGPT, 2, "hello there", 5, 2},
		{"d.jsonl", `{"prompt": "say hi", "output_tokens": 7}` + "\n\n" + `{"messages": [{"role": "user", "content": "x"}], "max_tokens": 3}` + "\n", plan.JSONL, 2, "say hi", 7, 1},
		{"r.json", `[[{"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}], [{"role": "user", "content": "hi"}]]`, plan.Replay, 2, "look", 0, 1},
		{"d.csv", "prompt,output_tokens\n\"hello, world\",12\nbye,\n", plan.CSV, 2, "hello, world", 12, 1},
	} {
		for _, mark := range []string{"", bom} {
			// A byte order mark, as Windows editors write, is read past.
			tc.content = mark + tc.content
			if mark != "" {
				tc.name = "bom-" + tc.name
			}
			t.Run(tc.name, func(t *testing.T) { testFormat(t, tok, tc) })
		}
	}
	// ShareGPT's second human turn is a turn of its own.
	r, _ := Open(write(t, "sg.json", shareGPT), "", tok)
	c, _ := r.Next()
	if len(c.Turns) != 2 || (&Dataset{}).item(c.Turns[1].Messages, c.Turns[1], 0, 2).LastUser() != "and then?" || c.Turns[1].Output != 2 {
		t.Errorf("turns %+v", c.Turns)
	}
	// After a byte order mark, a bad row's line is still right.
	if _, err := readAll(write(t, "bad.json", bom+"[\n{\"conversations\": []},\n{\"conversations\": 7}\n]"), tok); err == nil || !strings.Contains(err.Error(), "bad.json:3:") {
		t.Errorf("bad row after a byte order mark: %v", err)
	}
}

// readAll reads every row of a dataset, returning the first error.
func readAll(path string, tok *tokenizer.Tokenizer) (int, error) {
	r, err := Open(path, "", tok)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	for n := 0; ; n++ {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
	}
}

// formatCase is a dataset file and what its rows must read as.
type formatCase struct {
	name, content string
	format        plan.DatasetFormat
	rows          int
	first         string // the first turn's user text
	output        int
	msgs          int
}

// testFormat reads a dataset file and checks its rows and first turn.
func testFormat(t *testing.T, tok *tokenizer.Tokenizer, tc formatCase) {
	r, err := Open(write(t, tc.name, tc.content), "", tok)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Format() != tc.format {
		t.Fatalf("format %s, want %s", r.Format(), tc.format)
	}
	var convs []*Conversation
	for {
		c, err := r.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		convs = append(convs, c)
	}
	if len(convs) != tc.rows {
		t.Fatalf("%d rows, want %d", len(convs), tc.rows)
	}
	t0 := convs[0].Turns[0]
	d := &Dataset{}
	it := d.item(t0.Messages, t0, -1, 1)
	if text := it.LastUser(); text != tc.first || t0.Output != tc.output || len(t0.Messages) != tc.msgs {
		t.Errorf("first turn %q, output %d, %d messages", text, t0.Output, len(t0.Messages))
	}
	var body struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal((&Params{}).Body(nil, it, true), &body); err != nil || len(body.Messages) != tc.msgs {
		t.Errorf("body: %v %v", err, body)
	}
}

// TestBadDatasets: every bad file names file:line, before a row is used.
func TestBadDatasets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content, want string
		line                int
	}{
		{"empty.json", "", "empty", 1},
		{"trunc.json", `[{"conversations": [{"from": "human", "value": "a"}]},` + "\n" + `{"conversations": [{"from": "hu`, "truncated", 2},
		{"cols.csv", "question,answer\nx,y\n", "no prompt column", 1},
		{"bin.json", "\x00\x01\x02\x89PNG", "not text", 1},
		{"bad.jsonl", `{"prompt": "a"}` + "\n" + `{"prompt": "b"}` + "\n" + `{"prompt": oops}` + "\n", "malformed JSON", 3},
		{"noprompt.jsonl", `{"text": "a"}` + "\n", `want "prompt"`, 1},
		{"nohuman.json", `[{"conversations": [{"from": "gpt", "value": "a"}]}]`, "has a human turn", 1},
		{"obj.json", `[{"x": 1}]`, "neither ShareGPT", 1},
		{"quote.csv", "prompt,output_tokens\nhello,5\nbad \"quote,3\n", "bare \"", 3},
		{"short.csv", "prompt,output_tokens\nhello,5\nbye\n", "wrong number of fields", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.name, tc.content)
			_, err := OpenDataset(DatasetOptions{Path: p})
			if err == nil {
				// A later row: the first rows were fine.
				d, _ := OpenDataset(DatasetOptions{Path: p})
				for range 5 {
					if _, err = d.Next(0, nil); err != nil {
						break
					}
				}
				d.Close()
			}
			var br *BadRow
			if !errors.As(err, &br) || !strings.Contains(err.Error(), tc.want) || br.Line != tc.line || !strings.HasPrefix(err.Error(), p+":") {
				t.Errorf("error %v, want %s at line %d", err, tc.want, tc.line)
			}
		})
	}
}

// TestSkipBadEnds: skipping bad rows never loops on a row that cannot be
// passed (a cut JSON array starts over), never panics (a bad CSV quote),
// and names each skipped row; a wait for a row gives up when stop closes.
func TestSkipBadEnds(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"cut.json":    `[{"conversations": [{"from": "human", "value": "a"}]},` + "\n" + `{"conversations": [{"from": "hu`,
		"quote.csv":   "prompt,output_tokens\nhello,5\nbad \"quote,3\nok,2\n",
		"lines.jsonl": `{"prompt": "a"}` + "\n" + `{"prompt": oops}` + "\n",
	} {
		var mu sync.Mutex
		var notes []string
		d, err := OpenDataset(DatasetOptions{Path: write(t, name, content), SkipBad: true,
			Notify: func(s string) { mu.Lock(); notes = append(notes, s); mu.Unlock() }})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for range 20 {
			if _, err := d.Next(0, nil); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		d.Close()
		mu.Lock()
		if len(notes) == 0 || len(notes) > 100 || !strings.Contains(strings.Join(notes, "\n"), name+":") {
			t.Errorf("%s: %d notes: %q", name, len(notes), notes)
		}
		mu.Unlock()
	}
	// A reader that has nothing to give: stop ends the wait.
	d := &Dataset{ch: make(chan conv)}
	stop := make(chan struct{})
	close(stop)
	if _, err := d.Next(0, stop); err != ErrStopped {
		t.Errorf("stopped wait: %v", err)
	}
}

// TestDatasetCyclesAndShuffles: the rows cycle; shuffled, they come in
// another order, the same for the same seed, every row about as often as
// any other however many passes (the buffer is kept across passes).
func TestDatasetCyclesAndShuffles(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 50 {
		b.WriteString(`{"prompt": "p` + string(rune('A'+i%26)) + string(rune('a'+i/26)) + `"}` + "\n")
	}
	p := write(t, "d.jsonl", b.String())
	order := func(shuffle bool, seed uint64, n int) []string {
		d, err := OpenDataset(DatasetOptions{Path: p, Shuffle: shuffle, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var out []string
		for range n {
			it, err := d.Next(0, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, it.LastUser())
		}
		return out
	}
	seq := order(false, 0, 100)
	if seq[0] != seq[50] || seq[1] == seq[0] {
		t.Errorf("sequential order %v", seq[:3])
	}
	a, b2, c := order(true, 1, 2000), order(true, 1, 2000), order(true, 2, 2000)
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	lo, hi := 2000, 0
	for _, n := range seen {
		lo, hi = min(lo, n), max(hi, n)
	}
	if len(seen) != 50 || lo < 25 || hi > 55 {
		t.Errorf("shuffle: %d distinct rows, each sent %d to %d times of 2,000 (40 each on average)", len(seen), lo, hi)
	}
	if strings.Join(a, ",") != strings.Join(b2, ",") || strings.Join(a, ",") == strings.Join(c, ",") || strings.Join(a[:50], ",") == strings.Join(seq[:50], ",") {
		t.Errorf("shuffle: same seed same order %v; other seed other order %v", strings.Join(a, ",") == strings.Join(b2, ","), strings.Join(a, ",") != strings.Join(c, ","))
	}
	// Late passes are shuffled too: rows following their predecessor in
	// the file are rare.
	next := map[string]string{}
	for i := range 49 {
		next[seq[i]] = seq[i+1]
	}
	follow := 0
	for i := 1900; i < 1999; i++ {
		if next[a[i]] == a[i+1] {
			follow++
		}
	}
	if follow > 10 {
		t.Errorf("%d of 99 late rows follow their file predecessor: not shuffled", follow)
	}
	// Rows large enough that the byte bound holds the buffer: five
	// passes on, still shuffled.
	b.Reset()
	pad := strings.Repeat("x", 200<<10)
	for i := range 100 {
		fmt.Fprintf(&b, `{"prompt": "r%03d %s"}`+"\n", i, pad)
	}
	p = write(t, "big.jsonl", b.String())
	d, err := OpenDataset(DatasetOptions{Path: p, Shuffle: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var ids []int
	for range 500 {
		it, err := d.Next(0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var id int
		fmt.Sscanf(it.LastUser(), "r%d", &id)
		ids = append(ids, id)
	}
	follow = 0
	for i := 400; i < 499; i++ {
		if ids[i+1] == (ids[i]+1)%100 {
			follow++
		}
	}
	if follow > 10 {
		t.Errorf("big rows: %d of 99 rows of the fifth pass follow their file predecessor: not shuffled", follow)
	}
}

// TestWrapNote: the note that the file starts over comes once, when the
// second pass's first row is handed out, not when the reader, rows ahead,
// starts it.
func TestWrapNote(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, `{"prompt": "p%d"}`+"\n", i)
	}
	var notes []string
	d, err := OpenDataset(DatasetOptions{Path: write(t, "w.jsonl", b.String()), Notify: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for sent := 1; sent <= 45; sent++ {
		d.Next(0, nil)
		// Row 21 starts the second pass, which is said; row 41 the
		// third, which is not said again.
		want := 0
		if sent > 20 {
			want++
		}
		if len(notes) != want {
			t.Fatalf("after %d rows: %d notes %q, want %d", sent, len(notes), notes, want)
		}
	}
	if !strings.Contains(notes[0], "all 20 rows sent") {
		t.Errorf("notes %q", notes)
	}
}

// TestManyBadRowLines: each skipped row of an array names its own line,
// counted on from the row before (not from the start of the file each
// time).
func TestManyBadRowLines(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("[\n")
	for i := range 30 {
		if i > 0 {
			b.WriteString(",\n\n")
		}
		if i%3 == 2 {
			b.WriteString(`{"conversations": "not a list"}`)
		} else {
			b.WriteString(`{"conversations": [{"from": "human", "value": "hi"}]}`)
		}
	}
	b.WriteString("\n]\n")
	r, err := Open(write(t, "many.json", b.String()), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var lines []int
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		var br *BadRow
		if !errors.As(err, &br) {
			continue
		}
		lines = append(lines, br.Line)
	}
	// Row i starts on line 2 + 2i.
	var want []int
	for i := 2; i < 30; i += 3 {
		want = append(want, 2+2*i)
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("bad rows at lines %v, want %v", lines, want)
	}
}
