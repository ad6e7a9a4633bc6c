package sim

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
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
