package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// stream writes one admitted request's response on the simulator's clock.
type stream struct {
	s        *Server
	d        *deployment
	w        http.ResponseWriter
	r        *http.Request
	req      *chatRequest
	prompt   int
	output   int // tokens per choice
	n        int // choices
	est      int
	ttft     time.Duration
	itlScale float64
	seed     uint64
	cut      bool
	arrived  time.Time
}

const contentFilter = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`

// promptFilterFrame is Azure's first frame: no choices, the prompt's
// content-filter results.
const promptFilterFrame = `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":` + contentFilter + `}]}` + "\n\n"

func (st *stream) run() {
	d, s := st.d, st.s
	ctx := st.r.Context()
	if d.slots != nil {
		// Beyond max-concurrency a request waits its turn: TTFT grows.
		select {
		case d.slots <- struct{}{}:
			defer func() { <-d.slots }()
		case <-ctx.Done():
			return
		}
	}
	queued := time.Since(st.arrived)
	d.run.Add(1)
	defer d.run.Add(-1)

	id := "chatcmpl-" + newID(29)
	model := d.cfg.Model
	created := strconv.FormatInt(time.Now().Unix(), 10)
	tail := func(i int) string {
		return `,"finish_reason":null,"index":` + strconv.Itoa(i) + `,"logprobs":null}],"created":` + created +
			`,"id":"` + id + `","model":"` + model + `","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}` + "\n\n"
	}
	words := s.words
	text := func(tok int) string { return words[(st.seed+uint64(tok))%uint64(len(words))] }

	if !st.req.Stream {
		st.plain(ctx, id, created, text)
		return
	}
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	st.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(st.w)
	var buf []byte
	buf = append(buf, promptFilterFrame...)
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"}`...)
		buf = append(buf, tail(i)...)
	}
	st.w.Write(buf)
	rc.Flush()

	k := d.cfg.TokensPerChunk
	chunks := (st.output + k - 1) / k
	tails := make([]string, st.n)
	for i := range tails {
		tails[i] = tail(i)
	}
	gap := time.Duration(float64(time.Duration(d.cfg.ITL)*time.Duration(k)) * st.itlScale)
	wake := make(chan struct{}, 1)
	start := time.Now()
	due := start.Add(st.ttft)
	var first, last time.Time
	// Lateness of each write against its schedule, booked in batches (and
	// when the stream ends, even cut off) to keep the lock off the
	// per-chunk path.
	lates := make([]time.Duration, 0, 64)
	book := func() {
		if len(lates) == 0 {
			return
		}
		d.mu.Lock()
		for _, l := range lates {
			d.stats.timing.Add(max(l, 0))
		}
		d.mu.Unlock()
		lates = lates[:0]
	}
	defer book()
	sent := 0
	for c := range chunks {
		if !s.clock.sleepUntil(due, wake, ctx.Done()) {
			return
		}
		if st.cut && c == chunks/2 {
			d.count(func(x *depStats) { x.Cut++ })
			panic(http.ErrAbortHandler) // drop the connection mid-stream
		}
		buf = buf[:0]
		nt := min(k, st.output-sent)
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"content_filter_results":`...)
			buf = append(buf, contentFilter...)
			buf = append(buf, `,"delta":{"content":"`...)
			for t := range nt {
				buf = append(buf, ' ')
				buf = append(buf, text(sent+t+i*st.output)...)
			}
			buf = append(buf, `"}`...)
			buf = append(buf, tails[i]...)
		}
		sent += nt
		if _, err := st.w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		d.streamed.Add(int64(nt * st.n))
		now := time.Now()
		late := now.Sub(due)
		if lates = append(lates, late); len(lates) == cap(lates) {
			book()
		}
		if first.IsZero() {
			first = now
		}
		last = now
		g := gap
		if d.cfg.MaxConcurrency > 0 && d.cfg.LoadFactor > 0 {
			// Decoding slows as the deployment fills up.
			g = time.Duration(float64(g) * (1 + d.cfg.LoadFactor*float64(d.run.Load())/float64(d.cfg.MaxConcurrency)))
		}
		due = due.Add(g)
	}
	buf = buf[:0]
	finish := "length"
	if st.output < st.limit() {
		finish = "stop"
	}
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"`+finish+`","index":`+strconv.Itoa(i)+`,"logprobs":null}],"created":`+created+`,"id":"`+id+`","model":"`+model+`","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}`+"\n\n"...)
	}
	if st.req.StreamOptions != nil && st.req.StreamOptions.IncludeUsage {
		buf = fmt.Appendf(buf, `data: {"choices":[],"created":%s,"id":"%s","model":"%s","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench","usage":{"completion_tokens":%d,"prompt_tokens":%d,"total_tokens":%d}}`+"\n\n",
			created, id, model, st.output*st.n, st.prompt, st.prompt+st.output*st.n)
	}
	buf = append(buf, "data: [DONE]\n\n"...)
	st.w.Write(buf)
	rc.Flush()
	st.done(first.Sub(st.arrived), queued, first, last)
}

// limit is the request's max tokens, or the default.
func (st *stream) limit() int {
	switch {
	case st.req.MaxTokens != nil:
		return *st.req.MaxTokens
	case st.req.MaxCompletionTokens != nil:
		return *st.req.MaxCompletionTokens
	}
	return st.d.cfg.DefaultOutput
}

// plain answers a non-streaming request once the whole output would have
// been generated.
func (st *stream) plain(ctx interface{ Done() <-chan struct{} }, id, created string, text func(int) string) {
	d := st.d
	total := st.ttft + time.Duration(float64(time.Duration(d.cfg.ITL)*time.Duration(max(st.output-1, 0)))*st.itlScale)
	wake := make(chan struct{}, 1)
	if !st.s.clock.sleepUntil(time.Now().Add(total), wake, ctx.Done()) {
		return
	}
	type choice struct {
		Index        int            `json:"index"`
		Message      map[string]any `json:"message"`
		FinishReason string         `json:"finish_reason"`
	}
	var choices []choice
	for i := range st.n {
		var b []byte
		for t := range st.output {
			if t > 0 {
				b = append(b, ' ')
			}
			b = append(b, text(t+i*st.output)...)
		}
		finish := "length"
		if st.output < st.limit() {
			finish = "stop"
		}
		choices = append(choices, choice{i, map[string]any{"role": "assistant", "content": string(b)}, finish})
	}
	c, _ := strconv.ParseInt(created, 10, 64)
	st.w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(st.w).Encode(map[string]any{
		"id": id, "object": "chat.completion", "created": c, "model": d.cfg.Model, "choices": choices,
		"usage": map[string]int{"prompt_tokens": st.prompt, "completion_tokens": st.output * st.n, "total_tokens": st.prompt + st.output*st.n},
	})
	st.done(total, 0, time.Time{}, time.Time{})
}

// done books a completed request: tokens, ground-truth timings, and the
// provisioned bucket's correction from estimate to real tokens.
func (st *stream) done(ttft, queued time.Duration, first, last time.Time) {
	d := st.d
	actual := st.prompt + st.output*st.n
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ptu != nil {
		d.ptu.correct(time.Now(), st.est, actual)
	}
	x := &d.stats
	x.Completed++
	x.PromptTokens += int64(st.prompt)
	x.CompletionTokens += int64(st.output * st.n)
	key := fmt.Sprintf("p%d_o%d", st.prompt, st.output)
	c := x.classes[key]
	if c == nil {
		c = newClassStats(st.prompt, st.output)
		x.classes[key] = c
	}
	c.add(st, ttft, queued, first, last)
}
