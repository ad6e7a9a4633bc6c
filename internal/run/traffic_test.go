package run

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// historyServer streams a different answer to every request, in pieces,
// and checks that each request of a conversation carries, in order, the
// exact answers it streamed to the turns before: conversations are told
// apart by their first user message.
type historyServer struct {
	mu       sync.Mutex
	answers  map[string][]string // by first user message
	n        int
	bad      []string
	requests int
}

func (h *historyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Messages) == 0 {
		http.Error(w, "bad body", 400)
		return
	}
	var first string
	var got []string
	users := 0
	for _, m := range body.Messages {
		switch m.Role {
		case "user":
			if users == 0 {
				first = m.Content
			}
			users++
		case "assistant":
			got = append(got, m.Content)
		}
	}
	h.mu.Lock()
	h.requests++
	want := h.answers[first]
	if len(got) != len(want) || users != len(want)+1 {
		h.bad = append(h.bad, fmt.Sprintf("turn %d: %d answers and %d user messages in the history", len(want)+1, len(got), users))
	} else {
		for i := range got {
			if got[i] != want[i] {
				h.bad = append(h.bad, fmt.Sprintf("turn %d: answer %d is %q, streamed %q", len(want)+1, i+1, got[i], want[i]))
			}
		}
	}
	h.n++
	// Quotes, a newline, a backslash and runes of every width: what
	// comes back must be what was streamed, byte for byte.
	answer := fmt.Sprintf("answer %d: \"quoted\"\nline two \\ tab\t é 中文 🎉 end", h.n)
	h.answers[first] = append(want, answer)
	h.mu.Unlock()

	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	// Piece by piece, a flush each, so the client reads many frames.
	for _, piece := range strings.SplitAfter(answer, " ") {
		b, _ := json.Marshal(piece)
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%s}}]}\n\n", b)
		fl.Flush()
	}
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

// TestConversationsCarryAnswers: over real loopback TCP, every turn k>1
// carries the exact text streamed in the turns before it; records say
// their session and turn; the results have a line per turn.
func TestConversationsCarryAnswers(t *testing.T) {
	h := &historyServer{answers: map[string][]string{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	p := basePlan("", 60, 20)
	p.Target = plan.Target{URL: srv.URL, API: "openai", Model: "gpt-4o-mini"}
	p.Workload.Turns, p.Workload.ThinkTime = 4, "5ms-20ms"
	p.Load.Rate, p.Load.Requests, p.Load.Clients = rate(1200), 6, 6
	var mu sync.Mutex
	var recs []*metrics.Record
	r, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := r.Execute(t.Context(), sink.Sink{Record: func(rec *metrics.Record) { mu.Lock(); recs = append(recs, rec); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.bad) > 0 {
		t.Fatalf("%d of %d requests had a wrong history, e.g. %s", len(h.bad), h.requests, h.bad[0])
	}
	if h.requests != 24 || len(recs) != 24 || out.Results.Sessions != 6 || out.Results.Stopped != "requests" {
		t.Fatalf("%d requests, %d records, %d sessions, stopped by %s; want 24 requests of 6 sessions", h.requests, len(recs), out.Results.Sessions, out.Results.Stopped)
	}
	turns := map[int64][]int{}
	for _, rec := range recs {
		if rec.Class != metrics.OK {
			t.Fatalf("record %d: %s %s", rec.ID, rec.Class, rec.Err)
		}
		turns[rec.Session] = append(turns[rec.Session], rec.Turn)
	}
	for s, ts := range turns {
		if fmt.Sprint(ts) != "[1 2 3 4]" {
			t.Errorf("session %d: turns %v", s, ts)
		}
	}
	if len(out.Results.Turns) != 4 {
		t.Fatalf("%d turn results", len(out.Results.Turns))
	}
	for i, tr := range out.Results.Turns {
		if tr.Turn != i+1 || tr.Results.Requests.OK != 6 {
			t.Errorf("turn %d: %d ok", tr.Turn, tr.Results.Requests.OK)
		}
	}
}

// TestConversationEndsOnFailure: a turn that fails ends its conversation
// (there is no answer to carry on from).
func TestConversationEndsOnFailure(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k == 2 {
			http.Error(w, `{"error":{"message":"boom"}}`, 500)
			return
		}
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	p := basePlan("", 60, 20)
	p.Target = plan.Target{URL: srv.URL, API: "openai", Model: "gpt-4o-mini"}
	p.Workload.Turns = 5
	p.Load.Requests, p.Load.Clients = 1, 1
	r, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := r.Execute(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if q := out.Results.Requests; q.Sent != 2 || q.OK != 1 || q.HTTP != 1 {
		t.Errorf("sent %d ok %d http %d; want the conversation to end at its failed second turn", q.Sent, q.OK, q.HTTP)
	}
}

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDatasetRun sends a ShareGPT file's prompts, with the reference
// answers' lengths as max_tokens, then with --max-tokens over them.
func TestDatasetRun(t *testing.T) {
	path := writeFile(t, "chats.json", `[
 {"conversations":[{"from":"human","value":"What is the capital of France?"},{"from":"gpt","value":"Paris is the capital of France."}]},
 {"conversations":[{"from":"system","value":"Be brief."},{"from":"human","value":"Name three colours."},{"from":"gpt","value":"Red, green and blue."}]}
]`)
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Workload.Dataset = &plan.Dataset{Path: path}
		p.Load.Rate, p.Load.Requests = rate(600), 4
		out, c := st.execute(t, p, nil, nil)
		if out.Results.Requests.OK != 4 {
			t.Fatalf("ok %d of 4: %v", out.Results.Requests.OK, c.logs)
		}
		// The rows in order, cycling: the reference answers are 7 and 6
		// tokens (o200k_base); the prompts are the server's count.
		for i, rec := range c.recs {
			want := []int{7, 6}[rec.ID%2]
			if rec.MaxTokens != want || rec.ServerOutput != want {
				t.Errorf("request %d: max_tokens %d, output %d; want %d", rec.ID, rec.MaxTokens, rec.ServerOutput, want)
			}
			if rec.ClientPrompt != -1 || rec.PromptTokens() != rec.ServerPrompt || rec.ServerPrompt < 10 {
				t.Errorf("request %d (%d): prompt client %d server %d", rec.ID, i, rec.ClientPrompt, rec.ServerPrompt)
			}
		}
		p.Workload.Dataset.MaxTokens = 3
		_, c = st.execute(t, p, nil, nil)
		for _, rec := range c.recs {
			if rec.MaxTokens != 3 || rec.ServerOutput != 3 {
				t.Errorf("--max-tokens 3: request %d asked %d, got %d", rec.ID, rec.MaxTokens, rec.ServerOutput)
			}
		}
	})
}

// TestBadRowMidRun: a row that cannot be read deep in a file stops
// dispatch there, naming file:line; what was sent is in the results.
func TestBadRowMidRun(t *testing.T) {
	path := writeFile(t, "p.jsonl", "{\"prompt\":\"one\"}\n{\"prompt\":\"two\"}\n{\"prompt\": tree}\n{\"prompt\":\"four\"}\n")
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Workload.Dataset = &plan.Dataset{Path: path}
		p.Load.Rate, p.Load.Duration = rate(600), plan.Duration(time.Minute)
		// Read through before the run, the bad row stops it at once.
		if _, err := New(p, Options{}); err == nil || !strings.Contains(err.Error(), "p.jsonl:3:") {
			t.Fatalf("New: %v", err)
		}
		// Found while running (as deep in a large file), it stops
		// dispatch there.
		st.opts = Options{DatasetCheck: -1}
		out, c := st.execute(t, p, nil, nil)
		if out.Input == nil || !strings.Contains(out.Input.Error(), "p.jsonl:3:") || out.Results.Stopped != "input" {
			t.Fatalf("input error %v, stopped by %s", out.Input, out.Results.Stopped)
		}
		if len(c.recs) != 2 || out.Results.Requests.OK != 2 {
			t.Errorf("%d records, %d ok; want the 2 rows before the bad one", len(c.recs), out.Results.Requests.OK)
		}
		// With --dataset-skip-bad the row is skipped with a warning.
		p.Workload.Dataset.SkipBad = true
		p.Load.Duration, p.Load.Requests = 0, 6
		st.opts = Options{}
		out, c = st.execute(t, p, nil, nil)
		if out.Input != nil || out.Results.Requests.OK != 6 || !strings.Contains(strings.Join(c.logs, "\n"), "p.jsonl:3") {
			t.Errorf("skip bad: input %v, ok %d, logs %q", out.Input, out.Results.Requests.OK, c.logs)
		}
	})
}

// TestTraceReplay: requests leave at the trace's offsets divided by the
// speed, with prompts of the recorded lengths, and rows sharing hash_ids
// share a prefix the simulator's cache serves.
func TestTraceReplay(t *testing.T) {
	path := writeFile(t, "trace.jsonl", `{"timestamp": 1000, "input_length": 2100, "output_length": 5, "hash_ids": [1, 2, 3, 4, 5]}
{"timestamp": 1200, "input_length": 2100, "output_length": 7, "hash_ids": [1, 2, 3, 9, 10]}
{"timestamp": 1200, "input_length": 300, "output_length": 3}
{"timestamp": 3000, "input_length": 2100, "output_length": 5, "hash_ids": [1, 2, 3, 4, 5]}
`)
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Load.Trace = &plan.Trace{Path: path, Speed: 2}
		start := time.Now()
		out, c := st.execute(t, p, nil, nil)
		if out.Results.Requests.OK != 4 || out.Results.Stopped != "schedule" {
			t.Fatalf("ok %d, stopped by %s: %v", out.Results.Requests.OK, out.Results.Stopped, c.logs)
		}
		byID := map[int64]*metrics.Record{}
		for _, r := range c.recs {
			byID[r.ID] = r
		}
		t0 := byID[0].Sched
		for id, want := range []time.Duration{0, 100 * time.Millisecond, 100 * time.Millisecond, time.Second} {
			r := byID[int64(id)]
			if got := r.Sched.Sub(t0); got != want {
				t.Errorf("row %d due at %v, want %v", id+1, got, want)
			}
			if in := []int{2100, 2100, 300, 2100}[id]; r.ServerPrompt != in || r.ClientPrompt != in {
				t.Errorf("row %d: prompt %d (client %d), want %d", id+1, r.ServerPrompt, r.ClientPrompt, in)
			}
			if out := []int{5, 7, 3, 5}[id]; r.ServerOutput != out {
				t.Errorf("row %d: output %d, want %d", id+1, r.ServerOutput, out)
			}
		}
		_ = start
		// Three shared blocks of 512 tokens (after 4 tokens of message
		// overhead): 1,536 tokens cached in 128-token steps; the same
		// five blocks again: 2,048 of them.
		for id, want := range []int{0, 1536, 0, 2048} {
			if got := byID[int64(id)].ServerCached; got != want {
				t.Errorf("row %d: %d cached tokens, want %d", id+1, got, want)
			}
		}
	})
}

// TestPrefixCaching: a shared 2,048-token prefix is served from the
// simulator's cache after the first request, and TTFT drops by its
// prefill; without one nothing is cached.
func TestPrefixCaching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := fast()
		d.Prefill = simconfig.Duration(50 * time.Microsecond)
		st := newStack(t, d)
		defer st.close()
		p := basePlan("d", 2300, 10)
		p.Workload.PrefixTokens = 2048
		p.Load.Rate, p.Load.Requests = rate(600), 10
		out, c := st.execute(t, p, nil, nil)
		for _, r := range c.recs {
			want := 2048
			if r.ID == 0 {
				want = 0
			}
			if r.ServerCached != want {
				t.Errorf("request %d: %d cached tokens, want %d", r.ID, r.ServerCached, want)
			}
		}
		res := out.Results
		if s := res.CachedShare(); s < 0.8 || res.Tokens.CachedRequests != 9 {
			t.Errorf("cached share %.3f, %d hits", s, res.Tokens.CachedRequests)
		}
		// TTFT: 200 ms + 50 µs per uncached prompt token (no jitter).
		cached, uncached := res.Latency["ttft_cached"], res.Latency["ttft_uncached"]
		if d := uncached.P50.F() - cached.P50.F(); d < 0.1022 || d > 0.1026 {
			t.Errorf("TTFT cached %v, not %v: a drop of %.4f s, want 2048 x 50 µs = 0.1024 s", cached.P50, uncached.P50, d)
		}
		// By default every prompt is unique from its start.
		p.Workload.PrefixTokens = 0
		out, _ = st.execute(t, p, nil, nil)
		if out.Results.Tokens.Cached != 0 || out.Results.Tokens.CacheReported != 10 {
			t.Errorf("no prefix: %d tokens cached of %d requests reporting", out.Results.Tokens.Cached, out.Results.Tokens.CacheReported)
		}
	})
}

// TestConversationsOpenLoop: with a rate, the schedule is of
// conversations: the validity check counts conversations, and later turns
// add no schedule lag.
func TestConversationsOpenLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStack(t, fast())
		defer st.close()
		p := basePlan("d", 50, 10)
		p.Workload.Turns = 4
		p.Load.Rate, p.Load.Duration, p.Load.Clients = rate(600), plan.Duration(3*time.Second), 2
		out, c := st.execute(t, p, nil, nil)
		res := out.Results
		// 30 conversations due in 3 s; 2 slots, each busy about 1.6 s a
		// conversation, start 4.
		if res.Sessions != 4 || res.Sessions+res.Requests.NotSent != 30 {
			t.Fatalf("%d conversations, %d not sent; want 4 of 30 due", res.Sessions, res.Requests.NotSent)
		}
		if !strings.Contains(strings.Join(res.Invalid, ";"), "sent 4 of 30 due conversations") {
			t.Errorf("invalid reasons %q", res.Invalid)
		}
		var lags int
		for _, r := range c.recs {
			if _, ok := r.Lag(); ok {
				lags++
			}
		}
		if n := res.Latency["lag"].Count; n != 4 || lags != 4 {
			t.Errorf("%d lag samples (%d records with a lag), want one per conversation", n, lags)
		}
		if !math.IsNaN(res.AchievedRatio()) {
			t.Errorf("achieved ratio %v mixes requests and conversations", res.AchievedRatio())
		}
	})
}
