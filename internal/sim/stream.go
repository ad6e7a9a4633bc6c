package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stream writes one admitted request's response on the simulator's clock.
type stream struct {
	s         *Server
	d         *deployment
	w         http.ResponseWriter
	r         *http.Request
	req       *chatRequest
	prompt    int
	cached    int // prompt tokens served from the prompt cache
	output    int // visible tokens per choice
	reasoning int // hidden reasoning tokens per choice
	n         int // choices
	asked     int // output tokens the admission counted: max tokens x choices
	ttft      time.Duration
	itlScale  float64
	seed      uint64
	cut       bool
	arrived   time.Time

	// The content chunks' schedule and output, shared by the two ways of
	// writing them: the clock writes a stream straight to its socket
	// (tick); a stream whose socket it cannot write to without blocking,
	// or one it cannot reach, is written by its own goroutine (pace).
	id, created string
	tails       []string // end of a content event, per choice
	chunks      int
	c           int // next chunk
	sent        int // tokens per choice written
	due         time.Time
	gap         time.Duration // between chunks, before the load factor
	buf         []byte
	first, last time.Time
	lates       []time.Duration // write lateness not yet booked
	item        string          // the Responses API's output message id
	seq         int             // the Responses API's next sequence_number

	// Direct writes, by the clock: mu guards the stream from the clock's
	// tick to the goroutine's hand-back, or its leaving.
	mu   sync.Mutex
	clk  *clock // the clock that writes it
	rate int64  // its chunks per second, in the clock's load
	raw  syscall.RawConn
	conn net.Conn
	gone bool         // the handler is leaving: never write again
	back chan backWhy // the clock hands the stream back to its goroutine
	out  []byte       // the chunk being written
	rest []byte       // what the socket did not take of it
	wfn  func(uintptr) bool
	wn   int
	werr error
}

// backWhy is why the clock hands a stream back to its goroutine.
type backWhy int

const (
	backEnded  backWhy = iota // every chunk written
	backCut                   // the cut fault's turn
	backSlow                  // the socket took part of a chunk: rest
	backFailed                // the connection is gone
)

// hdrRoom is the room kept before a chunk's payload for the HTTP chunk
// header (hex size and CRLF).
const hdrRoom = 18

const contentFilter = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`

// promptFilterFrame is Azure's first frame: no choices, the prompt's
// content-filter results.
const promptFilterFrame = `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":` + contentFilter + `}]}` + "\n\n"

func (st *stream) run() {
	d, s := st.d, st.s
	ctx := st.r.Context()
	if d.slots != nil {
		// Beyond max-concurrency a request waits its turn: TTFT grows.
		d.waiting.Add(1)
		select {
		case d.slots <- struct{}{}:
			d.waiting.Add(-1)
			defer func() { <-d.slots }()
		case <-ctx.Done():
			d.waiting.Add(-1)
			return
		}
	}
	queued := time.Since(st.arrived)
	if s.scraped.Load() {
		d.prom.queue.Observe(queued.Seconds())
	}
	d.run.Add(1)
	defer d.run.Add(-1)

	st.created = strconv.FormatInt(time.Now().Unix(), 10)
	var buf []byte
	switch st.req.kind {
	case kindResponses:
		st.id, st.item = "resp_"+newID(48), "msg_"+newID(48)
		buf = st.responsesStart()
	case kindCompletions:
		st.id = "cmpl-" + newID(29)
		st.tails = make([]string, st.n)
		for i := range st.tails {
			st.tails[i] = `","index":` + strconv.Itoa(i) + `,"logprobs":null,"finish_reason":null}],"created":` + st.created +
				`,"id":"` + st.id + `","model":"` + d.cfg.Model + `","object":"text_completion"}` + "\n\n"
		}
	default:
		st.id = "chatcmpl-" + newID(29)
		st.tails = make([]string, st.n)
		for i := range st.tails {
			st.tails[i] = `,"finish_reason":null,"index":` + strconv.Itoa(i) + `,"logprobs":null}],"created":` + st.created +
				`,"id":"` + st.id + `","model":"` + d.cfg.Model + `","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}` + "\n\n"
		}
		buf = append(buf, promptFilterFrame...)
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"}`...)
			buf = append(buf, st.tails[i]...)
		}
	}
	if !st.req.Stream {
		st.plain(ctx)
		return
	}
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	st.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(st.w)
	if len(buf) > 0 {
		st.w.Write(buf)
	}
	if rc.Flush() != nil {
		return
	}
	k := d.cfg.TokensPerChunk
	st.chunks = (st.output + k - 1) / k // output is at least 1 (serve)
	st.gap = time.Duration(float64(time.Duration(d.cfg.ITL)*time.Duration(k)) * st.itlScale)
	st.due = time.Now().Add(st.ttft)
	st.lates = make([]time.Duration, 0, 64)
	st.buf = make([]byte, hdrRoom, 512)
	defer st.book()

	write := func(p []byte) error {
		if _, err := st.w.Write(p[hdrRoom:]); err != nil {
			return err
		}
		return rc.Flush()
	}
	// A plain HTTP/1.1 TCP connection is written by the clock itself:
	// net/http has sent the headers and flushed, and the chunks we write
	// to the socket follow its own in the same chunked body, which it
	// ends when the handler returns. Connections stay reusable.
	if st.direct() {
		s.directs.Add(1)
		st.rate = int64(time.Second / max(st.gap, time.Microsecond))
		st.clk = s.writer(st.rate)
		if !st.clk.write(st) {
			return
		}
		var why backWhy
		select {
		case why = <-st.back:
		case <-ctx.Done():
			st.leaveDone(queued)
			return
		case <-st.clk.done:
			st.leaveDone(queued)
			return
		}
		switch why {
		case backFailed:
			return
		case backCut:
			st.drop()
		case backSlow:
			// A reader that does not keep up: the rest waits for it here,
			// and so do the following chunks.
			if _, err := st.conn.Write(st.rest); err != nil {
				return
			}
			st.wrote(time.Now(), false)
		}
		write = func(p []byte) error {
			var out []byte
			st.buf, out = frame(p)
			_, err := st.conn.Write(out)
			return err
		}
	}
	if st.c < st.chunks && !st.pace(ctx, write) {
		return
	}
	st.done(st.first.Sub(st.arrived), queued, st.first, st.last)
}

// direct reports whether the clock can write this stream to its socket,
// and readies it to: an HTTP/1.1 response (chunked) on a connection that
// gives its file descriptor.
func (st *stream) direct() bool {
	if !canDirect || st.r.ProtoMajor != 1 || st.r.ProtoMinor != 1 {
		return false
	}
	conn, _ := st.r.Context().Value(connKey{}).(net.Conn)
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	st.conn, st.raw = conn, raw
	st.back = make(chan backWhy, 1)
	st.wfn = st.writeFD
	return true
}

// tick writes the stream's next chunk to its socket without blocking. It
// runs on the clock's goroutine and returns when the chunk after is due,
// or false when the stream goes back to its goroutine.
func (st *stream) tick() (time.Time, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone {
		return time.Time{}, false
	}
	if st.cutNow() {
		st.back <- backCut
		return time.Time{}, false
	}
	st.buf, st.out = frame(st.emit(st.buf[:hdrRoom]))
	st.wn, st.werr = 0, nil
	if err := st.raw.Write(st.wfn); err != nil || st.werr != nil {
		st.back <- backFailed
		return time.Time{}, false
	}
	if st.wn < len(st.out) {
		st.rest = append(st.rest[:0], st.out[st.wn:]...)
		st.back <- backSlow
		return time.Time{}, false
	}
	st.wrote(time.Now(), true)
	if st.c == st.chunks {
		st.back <- backEnded
		return time.Time{}, false
	}
	return st.due, true
}

// leave stops the clock from writing the stream again: its handler is
// returning and net/http will use the connection.
func (st *stream) leave() {
	st.mu.Lock()
	st.gone = true
	st.mu.Unlock()
}

// leaveDone is leave for a handler whose client went away (or whose
// server is closing) before the clock handed the stream back. A client
// that hangs up the moment it reads [DONE] leaves before the hand-back
// is seen: once the clock can no longer write, every chunk written means
// the stream was served whole, and it is counted as completed, exactly
// once, here.
func (st *stream) leaveDone(queued time.Duration) {
	st.leave()
	if st.c == st.chunks {
		st.done(st.first.Sub(st.arrived), queued, st.first, st.last)
	}
}

// pace writes the remaining chunks from the stream's own goroutine.
func (st *stream) pace(ctx context.Context, write func([]byte) error) bool {
	wake := make(chan struct{}, 1)
	for st.c < st.chunks {
		if !st.s.clock.sleepUntil(st.due, wake, ctx.Done()) {
			return false
		}
		if st.cutNow() {
			st.drop()
		}
		st.buf = st.emit(st.buf[:hdrRoom])
		if err := write(st.buf); err != nil {
			return false
		}
		st.wrote(time.Now(), true)
	}
	return true
}

// cutNow reports whether the cut fault drops the stream before the next
// chunk: half-way through.
func (st *stream) cutNow() bool { return st.cut && st.c == st.chunks/2 }

// drop counts the cut and drops the connection mid-stream; it runs on the
// stream's goroutine and does not return.
func (st *stream) drop() {
	st.d.count(func(x *depStats) { x.Cut++ })
	panic(http.ErrAbortHandler)
}

// emit appends the events of the next chunk to buf: one content event per
// choice, and after the last chunk the finish, usage and [DONE] events.
func (st *stream) emit(buf []byte) []byte {
	nt := min(st.d.cfg.TokensPerChunk, st.output-st.sent)
	switch st.req.kind {
	case kindResponses:
		buf = st.event(buf, "response.output_text.delta")
		buf = append(buf, `,"item_id":"`...)
		buf = append(buf, st.item...)
		buf = append(buf, `","output_index":0,"content_index":0,"delta":"`...)
		for t := range nt {
			buf = append(buf, ' ')
			buf = append(buf, st.word(st.sent+t)...)
		}
		buf = append(buf, `","logprobs":[]}`+"\n\n"...)
	case kindCompletions:
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"text":"`...)
			for t := range nt {
				buf = append(buf, ' ')
				buf = append(buf, st.word(st.sent+t+i*st.output)...)
			}
			buf = append(buf, st.tails[i]...)
		}
	default:
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"content_filter_results":`...)
			buf = append(buf, contentFilter...)
			buf = append(buf, `,"delta":{"content":"`...)
			for t := range nt {
				buf = append(buf, ' ')
				buf = append(buf, st.word(st.sent+t+i*st.output)...)
			}
			buf = append(buf, `"}`...)
			buf = append(buf, st.tails[i]...)
		}
	}
	if st.c == st.chunks-1 {
		buf = st.end(buf)
	}
	return buf
}

// word is the output's token number tok (counted across choices).
func (st *stream) word(tok int) string {
	w := st.s.words
	return w[(st.seed+uint64(tok))%uint64(len(w))]
}

// end appends the events after the content: finish, usage, [DONE].
func (st *stream) end(buf []byte) []byte {
	finish := "length"
	if st.output+st.reasoning < st.limit() {
		finish = "stop"
	}
	model := st.d.cfg.Model
	switch st.req.kind {
	case kindResponses:
		return st.responsesEnd(buf, finish)
	case kindCompletions:
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"text":"","index":`+strconv.Itoa(i)+`,"logprobs":null,"finish_reason":"`+finish+`"}],"created":`+st.created+`,"id":"`+st.id+`","model":"`+model+`","object":"text_completion"}`+"\n\n"...)
		}
		if st.req.StreamOptions != nil && st.req.StreamOptions.IncludeUsage {
			buf = fmt.Appendf(buf, `data: {"choices":[],"created":%s,"id":"%s","model":"%s","object":"text_completion","usage":{"completion_tokens":%d,"prompt_tokens":%d,"total_tokens":%d}}`+"\n\n",
				st.created, st.id, model, st.completion(), st.prompt, st.prompt+st.completion())
		}
		return append(buf, "data: [DONE]\n\n"...)
	}
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"`+finish+`","index":`+strconv.Itoa(i)+`,"logprobs":null}],"created":`+st.created+`,"id":"`+st.id+`","model":"`+model+`","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}`+"\n\n"...)
	}
	if st.req.StreamOptions != nil && st.req.StreamOptions.IncludeUsage {
		details, pdetails := "", ""
		if st.reasoning > 0 {
			details = fmt.Sprintf(`,"completion_tokens_details":{"reasoning_tokens":%d}`, st.reasoning*st.n)
		}
		if st.d.cache != nil {
			pdetails = fmt.Sprintf(`,"prompt_tokens_details":{"cached_tokens":%d}`, st.cached)
		}
		buf = fmt.Appendf(buf, `data: {"choices":[],"created":%s,"id":"%s","model":"%s","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench","usage":{"completion_tokens":%d%s,"prompt_tokens":%d%s,"total_tokens":%d}}`+"\n\n",
			st.created, st.id, model, st.completion(), details, st.prompt, pdetails, st.prompt+st.completion())
	}
	return append(buf, "data: [DONE]\n\n"...)
}

// wrote books the chunk just written at now and moves to the next. A
// chunk whose write completed later than the clock's attempt (a slow
// reader) is not a timing figure of the simulator's.
func (st *stream) wrote(now time.Time, timed bool) {
	d := st.d
	nt := min(d.cfg.TokensPerChunk, st.output-st.sent)
	st.sent += nt
	d.streamed.Add(int64(nt * st.n))
	if timed {
		if st.lates = append(st.lates, now.Sub(st.due)); len(st.lates) == cap(st.lates) {
			st.book()
		}
	}
	if st.first.IsZero() {
		st.first = now
	} else if st.s.scraped.Load() {
		d.prom.itl.Observe(now.Sub(st.last).Seconds())
	}
	st.last = now
	st.c++
	g := st.gap
	if d.cfg.MaxConcurrency > 0 && d.cfg.LoadFactor > 0 {
		// Decoding slows as the deployment fills up.
		g = time.Duration(float64(g) * (1 + d.cfg.LoadFactor*float64(d.run.Load())/float64(d.cfg.MaxConcurrency)))
	}
	st.due = st.due.Add(g)
}

// book adds the pending write lateness to the deployment's figures, in
// batches to keep its lock off the per-chunk path.
func (st *stream) book() {
	if len(st.lates) == 0 {
		return
	}
	d := st.d
	d.mu.Lock()
	for _, l := range st.lates {
		d.stats.timing.Add(max(l, 0))
	}
	d.mu.Unlock()
	st.lates = st.lates[:0]
}

// frame makes buf, whose payload follows hdrRoom reserved bytes, one HTTP
// chunk: its hex size before, CRLF after. It returns buf, grown, and the
// chunk within it.
func frame(buf []byte) (grown, chunk []byte) {
	n := len(buf) - hdrRoom
	buf = append(buf, '\r', '\n')
	var hex [16]byte
	h := strconv.AppendInt(hex[:0], int64(n), 16)
	start := hdrRoom - len(h) - 2
	copy(buf[start:], h)
	buf[hdrRoom-2], buf[hdrRoom-1] = '\r', '\n'
	return buf, buf[start:]
}

// completion is the usage's completion_tokens: every choice's visible and
// reasoning tokens.
func (st *stream) completion() int { return (st.output + st.reasoning) * st.n }

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

// plainBuffer is the buffer a whole answer is written through.
const plainBuffer = 32 << 10

// plain answers a non-streaming request once the whole output would have
// been generated. The answer is written as it is made, through a buffer of
// plainBuffer bytes: its text (up to n choices of a context window each,
// 100 MB of JSON for 128 of 128,000 tokens) is never in memory whole. An
// answer the client did not take is not counted as completed.
func (st *stream) plain(ctx context.Context) {
	d := st.d
	total := st.ttft + time.Duration(float64(time.Duration(d.cfg.ITL)*time.Duration(max(st.output-1, 0)))*st.itlScale)
	wake := make(chan struct{}, 1)
	if !st.s.clock.sleepUntil(time.Now().Add(total), wake, ctx.Done()) {
		return
	}
	st.w.Header().Set("Content-Type", "application/json")
	w := bufio.NewWriterSize(st.w, plainBuffer)
	var err error
	if st.req.kind == kindEmbeddings {
		err = st.writeEmbeddings(w)
	} else {
		err = st.writeAnswer(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return
	}
	st.done(total, 0, time.Time{}, time.Time{})
}

// writeEmbeddings writes an embeddings answer: the same vector for each
// input.
func (st *stream) writeEmbeddings(w *bufio.Writer) error {
	w.WriteString(`{"object":"list","data":[`)
	for i := range st.req.texts {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`{"object":"embedding","index":`)
		w.WriteString(strconv.Itoa(i))
		w.WriteString(`,"embedding":`)
		if _, err := w.WriteString(st.s.vector); err != nil {
			return err
		}
		w.WriteByte('}')
	}
	model, _ := json.Marshal(st.d.cfg.Model)
	_, err := fmt.Fprintf(w, `],"model":%s,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`+"\n", model, st.prompt, st.prompt)
	return err
}

// writeAnswer writes a whole chat, completions or Responses answer. The
// JSON is made with a marker where each choice's text goes, a random one
// no request can forge; the text is written in its place, word by word.
func (st *stream) writeAnswer(w *bufio.Writer) error {
	d := st.d
	finish := "length"
	if st.output+st.reasoning < st.limit() {
		finish = "stop"
	}
	nonce := newID(16)
	marker := func(i int) string { return "\x00" + nonce + "-" + strconv.Itoa(i) + "\x00" }
	created, _ := strconv.ParseInt(st.created, 10, 64)
	usage := map[string]any{"prompt_tokens": st.prompt, "completion_tokens": st.completion(), "total_tokens": st.prompt + st.completion(),
		"completion_tokens_details": map[string]int{"reasoning_tokens": st.reasoning * st.n},
		"prompt_tokens_details":     map[string]int{"cached_tokens": st.cached}}
	var body any
	texts := st.n
	switch st.req.kind {
	case kindResponses:
		status := "completed"
		if finish == "length" {
			status = "incomplete"
		}
		body, texts = st.response(status, finish, true, marker(0)), 1
	case kindCompletions:
		var choices []map[string]any
		for i := range st.n {
			choices = append(choices, map[string]any{"text": marker(i), "index": i, "logprobs": nil, "finish_reason": finish})
		}
		delete(usage, "completion_tokens_details")
		delete(usage, "prompt_tokens_details")
		body = map[string]any{"id": st.id, "object": "text_completion", "created": created, "model": d.cfg.Model, "choices": choices, "usage": usage}
	default:
		var choices []map[string]any
		for i := range st.n {
			choices = append(choices, map[string]any{"index": i, "message": map[string]any{"role": "assistant", "content": marker(i)}, "finish_reason": finish})
		}
		body = map[string]any{"id": st.id, "object": "chat.completion", "created": created, "model": d.cfg.Model, "choices": choices, "usage": usage}
	}
	rest, err := json.Marshal(body)
	if err != nil {
		return err
	}
	rest = append(rest, '\n')
	for i := range texts {
		// JSON writes the marker's NULs as \u0000.
		enc := `\u0000` + nonce + "-" + strconv.Itoa(i) + `\u0000`
		at := bytes.Index(rest, []byte(enc))
		if at < 0 {
			return fmt.Errorf("simulator: no place for text %d in the answer", i) // cannot happen
		}
		w.Write(rest[:at])
		// A chat message's content has no leading space.
		if err := st.writeText(w, i, st.req.kind == kindChat); err != nil {
			return err
		}
		rest = rest[at+len(enc):]
	}
	_, err = w.Write(rest)
	return err
}

// writeText writes choice i's whole output, the words the chunks carry,
// without the first space when trim is set.
func (st *stream) writeText(w *bufio.Writer, i int, trim bool) error {
	for t := range st.output {
		if t > 0 || !trim {
			w.WriteByte(' ')
		}
		if _, err := w.WriteString(st.word(t + i*st.output)); err != nil {
			return err
		}
	}
	return nil
}

// done books a completed request: tokens, ground-truth timings, and the
// provisioned bucket's correction from estimate to real tokens.
func (st *stream) done(ttft, queued time.Duration, first, last time.Time) {
	d := st.d
	if st.s.scraped.Load() {
		st.observe(ttft, first) // its observers need no lock
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ptu != nil {
		// The prompt less its cached part, as the admission counted it;
		// the output estimated (max tokens of each choice) becomes the
		// output generated, reasoning included.
		d.ptu.correct(time.Now(), st.prompt-st.cached, st.asked, st.completion())
	}
	x := &d.stats
	x.Completed++
	x.PromptTokens += int64(st.prompt)
	x.CachedTokens += int64(st.cached)
	x.CompletionTokens += int64(st.completion())
	key := fmt.Sprintf("p%d_o%d", st.prompt, st.output)
	c := x.classes[key]
	if c == nil {
		c = newClassStats(st.prompt, st.output)
		x.classes[key] = c
	}
	c.add(st, ttft, queued, first, last)
}

// observe adds a completed request to /metrics.
func (st *stream) observe(ttft time.Duration, first time.Time) {
	p := &st.d.prom
	if !first.IsZero() {
		p.ttft.Observe(ttft.Seconds())
	}
	p.e2e.Observe(time.Since(st.arrived).Seconds())
	p.prompt.Add(float64(st.prompt))
	p.generation.Add(float64(st.completion()))
	p.cacheQueries.Add(float64(st.prompt))
	p.cacheHits.Add(float64(st.cached))
	if st.output+st.reasoning < st.limit() {
		p.successStop.Inc()
	} else {
		p.successLimit.Inc()
	}
}
