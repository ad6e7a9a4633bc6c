package traffic

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

func readAllUsage(t *testing.T, in string) ([]UsageRow, error) {
	t.Helper()
	var rows []UsageRow
	err := ReadUsage("u.csv", strings.NewReader(in), func(r UsageRow) error { rows = append(rows, r); return nil })
	return rows, err
}

// TestUsageCSV: a production export's columns, by name among others, in
// RFC 3339 or seconds, optional columns empty or absent, a header
// repeated where files were joined.
func TestUsageCSV(t *testing.T) {
	t.Parallel()
	rows, err := readAllUsage(t, "\ufeffdeployment,Timestamp,prompt_tokens,completion_tokens,cached_tokens,max_tokens\r\n"+
		"\"a, b\",2026-03-01T10:00:00Z,1000,50,512,\r\n"+
		"x,2026-03-01 10:00:01.5+01:00,20,0,,300\r\n"+
		"deployment,timestamp,prompt_tokens,completion_tokens,cached_tokens,max_tokens\r\n"+
		"x,2026-03-01T10:00:02Z,7,8,0,9\r\n")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	want := []UsageRow{
		{Line: 2, At: time.Duration(t0.UnixNano()), Prompt: 1000, Completion: 50, Cached: 512, MaxTokens: -1},
		{Line: 3, At: time.Duration(t0.Add(-time.Hour + 1500*time.Millisecond).UnixNano()), Prompt: 20, Completion: 0, MaxTokens: 300},
		{Line: 5, At: time.Duration(t0.Add(2 * time.Second).UnixNano()), Prompt: 7, Completion: 8, MaxTokens: 9},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
	rows, err = readAllUsage(t, "timestamp,prompt_tokens,completion_tokens\n0.5,10,2\n0,11,3\n")
	if err != nil || len(rows) != 2 || rows[0].At != 500*time.Millisecond || rows[1].At != 0 || rows[0].MaxTokens != -1 {
		t.Fatalf("seconds: %+v %v", rows, err)
	}
	for _, c := range []struct{ in, want string }{
		{"", "u.csv:1: empty"},
		{"time,prompt,completion\n1,2,3\n", "u.csv:1: a usage CSV needs the columns timestamp (RFC 3339 or seconds), prompt_tokens and completion_tokens, optional cached_tokens and max_tokens; the header has time, prompt, completion"},
		{"timestamp,prompt_tokens,completion_tokens\n1,2\n", "u.csv:2: wrong number of fields"},
		{"timestamp,prompt_tokens,completion_tokens\nsoon,2,3\n", `u.csv:2: timestamp: "soon" is neither RFC 3339`},
		{"timestamp,prompt_tokens,completion_tokens\n2026-03-01T10:00:00,2,3\n", `u.csv:2: timestamp: "2026-03-01T10:00:00" is neither RFC 3339 (2026-01-02T15:04:05Z, with its zone)`},
		{"timestamp,prompt_tokens,completion_tokens\n-1,2,3\n", `u.csv:2: timestamp: "-1" seconds is not from 0`},
		{"timestamp,prompt_tokens,completion_tokens\nNaN,2,3\n", `u.csv:2: timestamp: "NaN" seconds`},
		{"timestamp,prompt_tokens,completion_tokens\n1,2,3\n2026-03-01T10:00:00Z,2,3\n", `u.csv:3: timestamp "2026-03-01T10:00:00Z" is in RFC 3339, line 2's in seconds`},
		{"timestamp,prompt_tokens,completion_tokens\n1,0,3\n", `u.csv:2: prompt_tokens "0" is not a whole number from 1`},
		{"timestamp,prompt_tokens,completion_tokens\n1,2,-3\n", `u.csv:2: completion_tokens "-3"`},
		{"timestamp,prompt_tokens,completion_tokens\n1,2,\n", `u.csv:2: completion_tokens ""`},
		{"timestamp,prompt_tokens,completion_tokens,cached_tokens\n1,2,3,4\n", "u.csv:2: cached_tokens 4 is more than prompt_tokens 2"},
		{"timestamp,prompt_tokens,completion_tokens,max_tokens\n1,2,3,0\n", `u.csv:2: max_tokens "0"`},
		{"timestamp,prompt_tokens,completion_tokens\n1,\"2,3\n", "u.csv:2: extraneous or missing \" in quoted-field"},
	} {
		_, err := readAllUsage(t, c.in)
		var br *BadRow
		if err == nil || !errors.As(err, &br) || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want %s...", c.in, err, c.want)
		}
	}
	if !IsUsageCSV([]byte("\ufeffa,timestamp,b\n1,2,3")) || IsUsageCSV([]byte(`{"timestamp": 1}`)) || IsUsageCSV([]byte("prompt,output_tokens\n")) {
		t.Error("IsUsageCSV")
	}
}

// TestUsageTrace: load --trace replays a usage CSV: at its offsets from the
// earliest row, prompts of its lengths, max_tokens as given or the
// completion's, cached tokens as a shared prefix of whole blocks.
func TestUsageTrace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "u.csv")
	os.WriteFile(path, []byte("timestamp,prompt_tokens,completion_tokens,cached_tokens,max_tokens\n"+
		"2026-03-01T10:00:02Z,1200,40,1024,\n"+
		"2026-03-01T10:00:00Z,1500,30,1100,500\n"+
		"2026-03-01T10:00:01Z,3,5,0,\n"), 0o644)
	tr, err := ReadTrace(path, 2, 512, 1)
	if err != nil {
		t.Fatal(err)
	}
	at := tr.Offsets()
	if want := []time.Duration{0, 500 * time.Millisecond, time.Second}; len(at) != 3 || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Fatalf("offsets %v, want %v", at, want)
	}
	if tr.Raised != 1 {
		t.Errorf("raised %d", tr.Raised)
	}
	var texts []string
	for n, want := range []struct{ prompt, max int }{{1500, 500}, {MinContext, 5}, {1200, 40}} {
		it, err := tr.Next(int64(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs := messagesOf(t, it)
		tok, _ := tokenizer.Get(tokenizer.O200k)
		if got := tok.CountMessages(msgs); got != want.prompt || it.MaxTokens != want.max {
			t.Errorf("row %d: %d tokens, max_tokens %d; want %d, %d", n, got, it.MaxTokens, want.prompt, want.max)
		}
		texts = append(texts, msgs[0].Content)
	}
	// 1,100 and 1,024 cached: two blocks of 512 shared, then not.
	a, b := strings.Fields(texts[0]), strings.Fields(texts[2])
	if strings.Join(a[:1024], " ") != strings.Join(b[:1024], " ") || strings.Join(a[1024:1100], " ") == strings.Join(b[1024:1100], " ") {
		t.Error("the cached prefix is not shared, or more than it is")
	}
	os.WriteFile(path, []byte("timestamp,prompt_tokens\n1,2\n"), 0o644)
	if _, err := ReadTrace(path, 1, 512, 1); err == nil || !strings.HasPrefix(err.Error(), path+":1: a usage CSV needs the columns") {
		t.Errorf("CSV without its columns: %v", err)
	}
	os.WriteFile(path, []byte("timestamp,prompt_tokens,completion_tokens\n"), 0o644)
	if _, err := ReadTrace(path, 1, 512, 1); err == nil || !strings.HasPrefix(err.Error(), path+":2: no rows") {
		t.Errorf("CSV without rows: %v", err)
	}
}

func FuzzUsageCSV(f *testing.F) {
	f.Add([]byte("timestamp,prompt_tokens,completion_tokens,cached_tokens,max_tokens\n2026-03-01T10:00:02Z,1200,40,1024,\n1,2,3,,\n"))
	f.Add([]byte("a,timestamp,prompt_tokens,completion_tokens\n\"x\"\"\",5,6,7\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := ReadUsage("f.csv", bytes.NewReader(b), func(r UsageRow) error {
			if r.Prompt < 1 || r.Cached > r.Prompt || r.Completion < 0 || r.At < 0 || r.MaxTokens == 0 {
				t.Fatalf("row %+v", r)
			}
			return nil
		})
		if err != nil && (strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "f.csv:")) {
			t.Fatalf("error %q", err)
		}
	})
}
