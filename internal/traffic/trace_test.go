package traffic

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// messagesOf decodes an item's messages.
func messagesOf(t *testing.T, it *Item) []tokenizer.Message {
	t.Helper()
	var body struct {
		Messages []tokenizer.Message `json:"messages"`
	}
	if err := json.Unmarshal((&Params{}).Body(nil, it, false), &body); err != nil {
		t.Fatal(err)
	}
	return body.Messages
}

// TestTrace: rows out of order are sorted, offsets count from the
// earliest and divide by the speed; prompts have the recorded lengths in
// both encodings; rows sharing hash ids share those blocks' words exactly.
func TestTrace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(path, []byte(`{"timestamp": 5000, "input_length": 1200, "output_length": 10, "hash_ids": [7, 8, 9]}

{"timestamp": 4000, "input_length": 700, "output_length": 0, "hash_ids": [7, 3]}
{"timestamp": 6000.5, "input_length": 3, "output_length": 4}
`), 0o644)
	tr, err := ReadTrace(path, 4, 512, 1)
	if err != nil {
		t.Fatal(err)
	}
	at := tr.Offsets()
	if want := []time.Duration{0, 250 * time.Millisecond, 500*time.Millisecond + 125*time.Microsecond}; len(at) != 3 || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Fatalf("offsets %v, want %v", at, want)
	}
	if tr.Raised != 1 {
		t.Errorf("%d rows raised to the least prompt", tr.Raised)
	}
	var texts []string
	for n, want := range []int{700, 1200, MinContext} {
		it, err := tr.Next(int64(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs := messagesOf(t, it)
		for _, enc := range []string{tokenizer.O200k, tokenizer.Cl100k} {
			tok, _ := tokenizer.Get(enc)
			if got := tok.CountMessages(msgs); got != want || it.Prompt != want {
				t.Errorf("%s: row %d has %d tokens, item says %d, want %d", enc, n, got, it.Prompt, want)
			}
		}
		if it.MaxTokens < 1 {
			t.Errorf("row %d: max_tokens %d", n, it.MaxTokens)
		}
		texts = append(texts, msgs[0].Content)
	}
	// Block 7 starts both prompts: their first 512 words are the same,
	// the next differ.
	a, b := strings.Fields(texts[0]), strings.Fields(texts[1])
	if strings.Join(a[:512], " ") != strings.Join(b[:512], " ") {
		t.Error("block 7 differs between the rows that share it")
	}
	if strings.Join(a[512:600], " ") == strings.Join(b[512:600], " ") {
		t.Error("blocks 3 and 8 are the same words")
	}
	for _, bad := range []string{
		`{"timestamp": 0, "input_length": 0, "output_length": 1}`,
		`{"timestamp": "soon", "input_length": 10, "output_length": 1}`,
		`{"input_length": 10, "output_length": 1}`,
		`not json`,
	} {
		os.WriteFile(path, []byte(`{"timestamp": 0, "input_length": 10, "output_length": 1}`+"\n"+bad+"\n"), 0o644)
		if _, err := ReadTrace(path, 1, 512, 1); err == nil || !strings.Contains(err.Error(), "t.jsonl:2: ") {
			t.Errorf("%s: error %v, want one naming t.jsonl:2", bad, err)
		}
	}
}

// TestSessionHistory: each turn's messages are the ones before it, the
// answers as given, and a new user message; synthetic sessions are
// reproducible, and their first turns are exact.
func TestSessionHistory(t *testing.T) {
	t.Parallel()
	p, o, _ := ParseSynthetic("prompt_tokens=200,output_tokens=20")
	syn, _ := NewSynthetic(p, o, 0, 1, 3)
	s, _ := syn.Session(4, 3, nil)
	var prev []tokenizer.Message
	for turn := 1; ; turn++ {
		it := s.Next()
		if it == nil {
			if turn != 4 {
				t.Fatalf("session ended after %d turns, want 3", turn-1)
			}
			break
		}
		msgs := messagesOf(t, it)
		if it.Session != 4 || it.Turn != turn || len(msgs) != 2*turn-1 {
			t.Fatalf("turn %d: session %d turn %d, %d messages", turn, it.Session, it.Turn, len(msgs))
		}
		for i := range prev {
			if msgs[i] != prev[i] {
				t.Fatalf("turn %d: message %d changed", turn, i)
			}
		}
		if turn == 1 {
			tok, _ := tokenizer.Get(tokenizer.O200k)
			if got := tok.CountMessages(msgs); got != 200 || it.Prompt != 200 {
				t.Errorf("turn 1: %d tokens, item says %d", got, it.Prompt)
			}
		} else if it.Prompt != -1 {
			t.Errorf("turn %d: a history's prompt is the server's to count, item says %d", turn, it.Prompt)
		}
		answer := "an \"answer\"\nwith é"
		s.Answer([]byte(answer), nil)
		prev = append(msgs, tokenizer.Message{Role: "assistant", Content: answer})
	}
}

// TestPrefixesDistinct: of many shared prefixes, no two are alike.
func TestPrefixesDistinct(t *testing.T) {
	t.Parallel()
	p, o, _ := ParseSynthetic("prompt_tokens=300,output_tokens=5")
	syn, err := NewSynthetic(p, o, 200, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for n := range int64(1000) {
		it, _ := syn.Next(n, nil)
		sys := messagesOf(t, it)[0].Content
		if m, dup := seen[sys]; dup {
			t.Fatalf("requests %d and %d share a prefix of the 1,000 asked for", m, n)
		}
		seen[sys] = n
	}
}
