package sim

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Hostile requests on a real loopback server: what each costs the process
// (client and simulator together, as allocated bytes, which do not depend
// on how busy the machine is).

// startBounds starts a simulator of one instant, unlimited deployment.
func startBounds(t *testing.T, cfg Config) *Running {
	t.Helper()
	cfg.Deployments = []Deployment{{Name: "gpt-4o-mini", Seed: 1}}
	r, err := Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// allocated returns the bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// tail keeps the last bytes written to it and counts them all.
type tail struct {
	n    int64
	last []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	t.last = append(t.last, p...)
	if len(t.last) > 4096 {
		t.last = append(t.last[:0], t.last[len(t.last)-1024:]...)
	}
	return len(p), nil
}

// TestWholeAnswerBounded: a whole answer of 128 choices of 127,991
// tokens (100 MB of JSON) is written as it is made: the process allocates
// a few MB for it, where building it in memory took hundreds.
func TestWholeAnswerBounded(t *testing.T) {
	r := startBounds(t, Config{})
	hc := &http.Client{}
	var got tail
	status := 0
	mb := allocated(func() {
		resp, err := hc.Post(r.URL()+classic, "application/json",
			strings.NewReader(`{"messages":[{"role":"user","content":"hello world"}],"n":128,"max_tokens":128000}`))
		if err != nil {
			t.Fatal(err)
		}
		status = resp.StatusCode
		io.Copy(&got, resp.Body)
		resp.Body.Close()
	}) >> 20
	// The prompt is 9 tokens: each choice has the rest of the window.
	want := fmt.Sprintf(`"usage":{"completion_tokens":%d,`, 128*(128000-9))
	if status != 200 || got.n < 90<<20 || !strings.Contains(string(got.last), want) {
		t.Fatalf("status %d, %d bytes ending %q: want 200, 90 MB or more, ending with %s", status, got.n, got.last[max(len(got.last)-300, 0):], want)
	}
	t.Logf("%d MB allocated for a whole answer of %d MB", mb, got.n>>20)
	if mb > 16 {
		t.Errorf("%d MB allocated for a whole answer of %d MB", mb, got.n>>20)
	}
	if st := r.Stats().Deployments["gpt-4o-mini"]; st.Completed != 1 || st.CompletionTokens != 128*(128000-9) {
		t.Errorf("stats: completed %d, completion tokens %d", st.Completed, st.CompletionTokens)
	}
}

// TestEmbeddingsBounded: 2,048 embeddings (25 MB of JSON) are written as
// they are made too.
func TestEmbeddingsBounded(t *testing.T) {
	r := startBounds(t, Config{})
	inputs := `"a"` + strings.Repeat(`,"a"`, 2047)
	var got tail
	mb := allocated(func() {
		resp, err := http.Post(r.URL()+"/openai/deployments/gpt-4o-mini/embeddings?api-version=x", "application/json",
			strings.NewReader(`{"input":[`+inputs+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&got, resp.Body)
		resp.Body.Close()
	}) >> 20
	if got.n < 20<<20 || !strings.Contains(string(got.last), `"usage":{"prompt_tokens":2048,"total_tokens":2048}}`) {
		t.Fatalf("%d bytes ending %q", got.n, got.last[max(len(got.last)-200, 0):])
	}
	t.Logf("%d MB allocated for %d MB of embeddings", mb, got.n>>20)
	if mb > 8 {
		t.Errorf("%d MB allocated for %d MB of embeddings", mb, got.n>>20)
	}
}

// TestHugePromptRefusedCheaply: prompts of 8 MB are refused for passing
// the context window after counting little more than the window. What it
// costs is the body's copies (24 MB, decoding it) and the counting of
// 128,000 tokens (0 to 40 MB, twice that with -race), where counting the
// whole prompt cost 330 to 440 MB and seconds. Embeddings' inputs are
// counted the same way.
func TestHugePromptRefusedCheaply(t *testing.T) {
	r := startBounds(t, Config{})
	wrap := func(s string) string { return `{"messages":[{"role":"user","content":"` + s + `"}],"max_tokens":5}` }
	fill := func(unit string, room int) string { return strings.Repeat(unit, (MaxBody-room)/len(unit)) }
	// 2,048 inputs of 667 tokens.
	many := `"` + strings.Repeat("hello ", 667)[:4000] + `"`
	many = many + strings.Repeat(","+many, 2047)
	for _, c := range []struct {
		name, path, body string
		most             uint64 // MB
	}{
		{"one word", classic, wrap(fill("a", 64)), 64},
		{"letters", classic, wrap(fill("qwertyuiopasdfghjklzxcvbnm", 64)), 64},
		{"words", classic, wrap(fill("hello ", 64)), 160},
		{"2,048 inputs to embed", "/openai/deployments/gpt-4o-mini/embeddings?api-version=x", `{"input":[` + many + `]}`, 160},
	} {
		if len(c.body) > MaxBody {
			t.Fatalf("%s: body of %d bytes", c.name, len(c.body))
		}
		status, body := 0, ""
		mb := allocated(func() {
			resp, err := http.Post(r.URL()+c.path, "application/json", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			status, body = resp.StatusCode, readAll(resp)
		}) >> 20
		if status != 400 || !strings.Contains(body, `"code":"context_length_exceeded"`) || !strings.Contains(body, "resulted in at least ") {
			t.Errorf("%s: %d %s", c.name, status, body)
		}
		t.Logf("%s: %d MB allocated to refuse it", c.name, mb)
		if mb > c.most {
			t.Errorf("%s: %d MB allocated to refuse it, want at most %d", c.name, mb, c.most)
		}
	}
	// Within the window, the count is exact.
	text := strings.Repeat("hello ", 127000)
	tok, _ := tokenizer.Get(tokenizer.O200k)
	want := fmt.Sprintf(`"prompt_tokens":%d,`, tok.CountMessages([]tokenizer.Message{{Role: "user", Content: text}}))
	resp, _ := http.Post(r.URL()+classic, "application/json", strings.NewReader(wrap(text)))
	if b := readAll(resp); resp.StatusCode != 200 || !strings.Contains(b, want) {
		t.Errorf("within the window: %d %.300s, want %s", resp.StatusCode, b, want)
	}
}
