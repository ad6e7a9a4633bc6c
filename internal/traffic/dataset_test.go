package traffic

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	tok, _ := tokenizer.Get(tokenizer.O200k)
	for _, tc := range []struct {
		name, content, format string
		rows                  int
		first                 string // the first turn's user text
		output                int
		msgs                  int
	}{
		{"sg.json", shareGPT, ShareGPT, 2, "hello there", 5, 2},
		{"d.jsonl", `{"prompt": "say hi", "output_tokens": 7}` + "\n\n" + `{"messages": [{"role": "user", "content": "x"}], "max_tokens": 3}` + "\n", JSONL, 2, "say hi", 7, 1},
		{"r.json", `[[{"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}], [{"role": "user", "content": "hi"}]]`, Replay, 2, "look", 0, 1},
		{"d.csv", "prompt,output_tokens\n\"hello, world\",12\nbye,\n", CSV, 2, "hello, world", 12, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
					if err.Error() != "EOF" {
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
		})
	}
	// ShareGPT's second human turn is a turn of its own.
	r, _ := Open(write(t, "sg.json", shareGPT), "", tok)
	c, _ := r.Next()
	if len(c.Turns) != 2 || (&Dataset{}).item(c.Turns[1].Messages, c.Turns[1], 0, 2).LastUser() != "and then?" || c.Turns[1].Output != 2 {
		t.Errorf("turns %+v", c.Turns)
	}
}

// TestBadDatasets: every bad file names file:line, before a row is used.
func TestBadDatasets(t *testing.T) {
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
		{"nohuman.json", `[{"conversations": [{"from": "gpt", "value": "a"}]}]`, "no human turn", 1},
		{"obj.json", `[{"x": 1}]`, "neither ShareGPT", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.name, tc.content)
			_, err := OpenDataset(DatasetOptions{Path: p})
			if err == nil {
				// A later row: the first rows were fine.
				d, _ := OpenDataset(DatasetOptions{Path: p})
				for range 5 {
					if _, err = d.Next(0); err != nil {
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

// TestDatasetCyclesAndShuffles: the rows cycle; shuffled, every row comes
// once a cycle, in another order, the same for the same seed.
func TestDatasetCyclesAndShuffles(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		b.WriteString(`{"prompt": "p` + string(rune('A'+i%26)) + string(rune('a'+i/26)) + `"}` + "\n")
	}
	p := write(t, "d.jsonl", b.String())
	order := func(shuffle bool, seed uint64) []string {
		d, err := OpenDataset(DatasetOptions{Path: p, Shuffle: shuffle, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var out []string
		for range 100 {
			it, err := d.Next(0)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, it.LastUser())
		}
		return out
	}
	seq := order(false, 0)
	if seq[0] != seq[50] || seq[1] == seq[0] {
		t.Errorf("sequential order %v", seq[:3])
	}
	a, b2, c := order(true, 1), order(true, 1), order(true, 2)
	seen := map[string]int{}
	for _, s := range a[:50] {
		seen[s]++
	}
	if len(seen) != 50 || strings.Join(a, ",") != strings.Join(b2, ",") || strings.Join(a, ",") == strings.Join(c, ",") || strings.Join(a[:50], ",") == strings.Join(seq[:50], ",") {
		t.Errorf("shuffle: %d distinct of 50; same seed same order %v; other seed other order %v", len(seen), strings.Join(a, ",") == strings.Join(b2, ","), strings.Join(a, ",") != strings.Join(c, ","))
	}
}
