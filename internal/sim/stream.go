package sim

import (
	"context"
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
	// An agent's answer (nil: words): its fragments are the output, after
	// lead chunks that carry no token (a tool call's id and name).
	ans  *answer
	lead int

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

// run answers the request: it waits for a slot, then writes the whole
// answer, or the stream on the clock.
func (st *stream) run() {
	ctx := st.r.Context()
	if !st.acquire(ctx) {
		return
	}
	defer st.release()
	d := st.d
	queued := time.Since(st.arrived)
	if st.s.scraped.Load() {
		d.prom.queue.Observe(queued.Seconds())
	}
	d.run.Add(1)
	defer d.run.Add(-1)

	head := st.open()
	if !st.req.Stream {
		st.plain(ctx)
		return
	}
	write, ok := st.start(head)
	if !ok {
		return
	}
	defer st.book()
	// A plain HTTP/1.1 TCP connection is written by the clock itself:
	// net/http has sent the headers and flushed, and the chunks we write
	// to the socket follow its own in the same chunked body, which it
	// ends when the handler returns. Connections stay reusable.
	if st.direct() {
		if write, ok = st.byClock(ctx, queued); !ok {
			return
		}
	}
	if st.c < st.chunks && !st.pace(ctx, write) {
		return
	}
	st.done(st.first.Sub(st.arrived), queued, st.first, st.last)
}

// acquire waits for one of the deployment's slots, if it has a
// concurrency limit; false if the client left first.
func (st *stream) acquire(ctx context.Context) bool {
	d := st.d
	if d.slots == nil {
		return true
	}
	// Beyond max-concurrency a request waits its turn: TTFT grows.
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	select {
	case d.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// release gives back the slot acquire took.
func (st *stream) release() {
	if st.d.slots != nil {
		<-st.d.slots
	}
}

// open names the answer (its ids and creation time) and makes the events
// that come before the content: Azure's prompt filter results and each
// choice's role, or the Responses API's opening events.
func (st *stream) open() []byte {
	model := st.d.cfg.Model
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
				`,"id":"` + st.id + `","model":"` + model + `","object":"text_completion"}` + "\n\n"
		}
	default:
		st.id = "chatcmpl-" + newID(29)
		st.tails = make([]string, st.n)
		for i := range st.tails {
			st.tails[i] = `,"finish_reason":null,"index":` + strconv.Itoa(i) + `,"logprobs":null}],"created":` + st.created +
				`,"id":"` + st.id + `","model":"` + model + `","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}` + "\n\n"
		}
		buf = append(buf, promptFilterFrame...)
		if st.lead > 0 {
			break // a tool call's first chunk says the role
		}
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"}`...)
			buf = append(buf, st.tails[i]...)
		}
	}
	return buf
}

// start sends the stream's headers and head (the events before the
// content), and schedules its chunks: the first is due TTFT from now. It
// returns how net/http writes a chunk, or false if the client is gone.
func (st *stream) start(head []byte) (func([]byte) error, bool) {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	st.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(st.w)
	if len(head) > 0 {
		st.w.Write(head)
	}
	if rc.Flush() != nil {
		return nil, false
	}
	k := st.d.cfg.TokensPerChunk
	st.chunks = st.lead + (st.output+k-1)/k // output is at least 1 (admission: outputLength), or a call's lead chunk
	st.gap = time.Duration(float64(time.Duration(st.d.cfg.ITL)*time.Duration(k)) * st.itlScale)
	st.due = time.Now().Add(st.ttft)
	st.lates = make([]time.Duration, 0, 64)
	st.buf = make([]byte, hdrRoom, 512)
	return func(p []byte) error {
		if _, err := st.w.Write(p[hdrRoom:]); err != nil {
			return err
		}
		return rc.Flush()
	}, true
}

// byClock has the clock write the stream straight to its socket until it
// hands the stream back. It returns how the stream's goroutine writes the
// chunks left, if any, or false when the stream is over: its connection
// failed, or its client or the server left (a stream written whole by
// then is booked as completed).
func (st *stream) byClock(ctx context.Context, queued time.Duration) (func([]byte) error, bool) {
	st.s.directs.Add(1)
	st.rate = int64(time.Second / max(st.gap, time.Microsecond))
	st.clk = st.s.writer(st.rate)
	if !st.clk.write(st) {
		return nil, false
	}
	var why backWhy
	select {
	case why = <-st.back:
	case <-ctx.Done():
		st.leaveDone(queued)
		return nil, false
	case <-st.clk.done:
		st.leaveDone(queued)
		return nil, false
	}
	switch why {
	case backFailed:
		return nil, false
	case backCut:
		st.drop()
	case backSlow:
		// A reader that does not keep up: the rest waits for it here,
		// and so do the following chunks.
		if _, err := st.conn.Write(st.rest); err != nil {
			return nil, false
		}
		st.wrote(time.Now(), false)
	}
	return st.writeConn, true
}

// writeConn writes a chunk to the connection: the stream's goroutine's
// way once the clock has handed it back.
func (st *stream) writeConn(p []byte) error {
	var out []byte
	st.buf, out = frame(p)
	_, err := st.conn.Write(out)
	return err
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

// wrote books the chunk just written at now and moves to the next. A
// chunk whose write completed later than the clock's attempt (a slow
// reader) is not a timing figure of the simulator's.
func (st *stream) wrote(now time.Time, timed bool) {
	d := st.d
	if st.c >= st.lead {
		nt := min(d.cfg.TokensPerChunk, st.output-st.sent)
		st.sent += nt
		d.streamed.Add(int64(nt * st.n))
	}
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
