// Package client sends streaming requests to one endpoint and reports what
// happened on the wire (metrics.Wire): when each output event arrived, of
// which choice, with what text, and the status, headers and usage. It is
// net/http plus the sse package: no SDK, so no hidden retries and no
// per-chunk overhead beyond what is measured. Deriving the metrics is
// metrics.Record.Derive's job.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/http2"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/sse"
)

// Retry policies.
const (
	RetryNone        = "none"
	RetryExponential = "exponential"
)

// Config configures a Client.
type Config struct {
	Endpoint api.Endpoint
	// Header is added to every request: the API key's header, gateway
	// headers. Its values are secrets: never logged.
	Header http.Header
	// Bearer, if set, gives the Authorization header of each attempt: a
	// token that is refreshed while the run goes on.
	Bearer   func() string
	Retry    string        // RetryNone or RetryExponential
	RetryFor time.Duration // give up retrying this long after the first attempt (default 60 s)
	Timeout  time.Duration // per attempt, headers to end of stream (default 10 min)
	MaxConns int           // idle connections kept per host
	// HTTP2 negotiates HTTP/2 over TLS when the server offers it; the
	// default is HTTP/1.1, one connection per stream in flight, as the
	// OpenAI SDKs do. Connections spreads HTTP/2 streams over that many
	// connections (default 1).
	HTTP2       bool
	Connections int
	// TLS configures TLS (tests: the test server's root).
	TLS *tls.Config
	// Redact removes secrets from every error text the client makes:
	// servers may echo request headers, keys included.
	Redact func(string) string
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Client sends requests to one endpoint. It is safe for concurrent use.
type Client struct {
	cfg     Config
	hcs     []*http.Client // one per HTTP/2 connection group; one for HTTP/1.1
	next    atomic.Uint64
	now     func() time.Time
	noUsage atomic.Bool // the server rejected stream_options
	states  sync.Pool   // *streamState
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.RetryFor == 0 {
		cfg.RetryFor = 60 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Redact == nil {
		cfg.Redact = func(s string) string { return s }
	}
	c := &Client{cfg: cfg, now: cfg.Now}
	groups := 1
	if cfg.HTTP2 && cfg.Connections > 1 {
		groups = cfg.Connections
	}
	for range groups {
		tr := cfg.Transport
		if tr == nil {
			tr = transport(cfg)
		}
		c.hcs = append(c.hcs, &http.Client{Transport: tr, CheckRedirect: NoRedirect})
	}
	return c
}

// transport is the HTTP transport for cfg: compression off (it would hide
// when bytes really arrive), idle connections kept for every client.
// HTTP/2 uses x/net's transport directly: it dials one connection for
// concurrent first requests, where net/http's upgrade path dials one per
// request until the first connection is up, so that --connections N means
// N connections. It needs a server that offers HTTP/2 over TLS.
func transport(cfg Config) http.RoundTripper {
	if cfg.HTTP2 {
		return &http2.Transport{TLSClientConfig: cfg.TLS.Clone(), DisableCompression: true, ReadIdleTimeout: 30 * time.Second, MaxHeaderListSize: maxHeaderBytes}
	}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    max(cfg.MaxConns, 256),
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
		TLSClientConfig:        cfg.TLS.Clone(),
		// A non-nil, empty map turns HTTP/2 off.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// NoRedirect is an http.Client's CheckRedirect that follows no redirect:
// an API client has no business following one, and Go's client would send
// the api-key header (and any --header) on to another host; it drops only
// Authorization and cookies. A 3xx comes back as the answer.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// maxHeaderBytes bounds a response's headers (net/http's default is 10
// MB): every kept header is cut to 120 bytes anyway.
const maxHeaderBytes = 1 << 20

// Close closes idle connections, ending their goroutines.
func (c *Client) Close() {
	for _, hc := range c.hcs {
		hc.CloseIdleConnections()
	}
}

// Usage reports whether requests ask for a usage frame; it turns false once
// the server has rejected stream_options.
func (c *Client) Usage() bool { return !c.noUsage.Load() }

// Request is one request to send.
type Request struct {
	// Body builds the body; usage says whether to ask for a usage frame.
	Body func(usage bool) []byte
	// Choices is the n asked for (0 is 1).
	Choices int
	// Whole says the answer is not streamed: one JSON body (--no-stream,
	// embeddings), read to its end, with no output times.
	Whole bool
	// NoRetry sends one attempt whatever the retry policy: the run's
	// first request, whose answer checks the endpoint.
	NoRetry bool
	// Answered, if set, is called when an attempt's status line arrives.
	Answered func()
	// Stop, when closed, lets no new attempt leave: a retry that is
	// waiting ends as incomplete (the run is stopping: the first
	// interrupt stops retries as it stops dispatch).
	Stop <-chan struct{}
}

// Do runs one request to completion, with retries as configured, filling
// w (which it resets first). Latencies run from the first attempt. ctx
// cancelled means the run was cut off: the request is then classed
// incomplete.
func (c *Client) Do(ctx context.Context, req Request, w *metrics.Wire) {
	w.Reset()
	for {
		c.attempt(ctx, req, w)
		if w.Class == metrics.OK || req.NoRetry || c.cfg.Retry != RetryExponential || !retryable(w) || w.Attempts >= maxAttempts {
			return
		}
		wait := retryWait(w.Attempts, w.RetryAfter)
		if c.now().Add(wait).Sub(w.Send) > c.cfg.RetryFor {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			w.Class, w.Err, w.End = metrics.Incomplete, "run ended while waiting to retry", c.now()
			return
		case <-req.Stop:
			t.Stop()
			w.Class, w.Err, w.End = metrics.Incomplete, "run stopped while waiting to retry", c.now()
			return
		case <-t.C:
		}
		select {
		case <-req.Stop:
			// The run stopped as the wait ended: no new attempt.
			w.Class, w.Err, w.End = metrics.Incomplete, "run stopped while waiting to retry", c.now()
			return
		default:
		}
	}
}

// Fatal returns why a request's answer means the endpoint itself is wrong
// (nothing answers, or it answers 401, 403 or 404), so that a run stops at
// once instead of producing thousands of failures; nil for any other
// answer, 429 included.
func Fatal(w *metrics.Wire, target string) error {
	answered := func() string {
		msg := strings.TrimPrefix(w.Err, strconv.Itoa(w.Status)+" ")
		return fmt.Sprintf("endpoint answered %d %s: %s", w.Status, http.StatusText(w.Status), msg)
	}
	switch {
	case w.Class == metrics.Connection || w.Class == metrics.Timeout && w.Status == 0:
		return fmt.Errorf("endpoint %s did not answer: %s", target, w.Err)
	case w.Status == http.StatusUnauthorized || w.Status == http.StatusForbidden:
		return fmt.Errorf("%s (check the API key or credentials)", answered())
	case w.Status == http.StatusNotFound:
		return fmt.Errorf("%s (check the URL, --deployment or --model, --api and --api-version)", answered())
	case w.Status >= 300 && w.Status < 400:
		return fmt.Errorf("%s (give the URL it points to: aoaibench follows no redirect, which would take the key to another host)", answered())
	}
	return nil
}

func retryable(w *metrics.Wire) bool {
	switch w.Class {
	case metrics.Throttled, metrics.Connection:
		return true
	case metrics.HTTPStatus:
		return w.Status >= 500
	}
	return false
}

// maxAttempts bounds one request's attempts: a server answering 429
// with retry-after-ms: 1 is honoured, but not thousands of times a
// second for a minute.
const maxAttempts = 30

// maxWait bounds any wait a server asks for: a retry-after of 1e20 must
// not overflow into a negative duration and a hot loop.
const maxWait = time.Hour

// retryWait is the server's retry-after when given, else exponential
// backoff with full jitter: uniform in [0, min(30 s, 0.5 s * 2^attempt)).
func retryWait(attempt int, after time.Duration) time.Duration {
	if after > 0 {
		return min(after, maxWait)
	}
	ceil := min(500*time.Millisecond<<min(attempt, 10), 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceil)))
}

// drainWait and drainMax bound the read after a stream's end: the HTTP
// chunked terminator (or HTTP/2 END_STREAM) usually follows [DONE] at
// once, in a write of its own. Reading it lets the transport reuse the
// connection; closing before it would drop the connection, and the next
// request would pay a new TCP (and TLS) handshake inside its TTFT.
const (
	drainWait = time.Second
	drainMax  = 64 << 10
)

// attempt sends one attempt and fills w with its outcome.
func (c *Client) attempt(ctx context.Context, req Request, w *metrics.Wire) {
	usage := c.Usage()
	b := req.Body(usage)
	w.Attempts++
	w.ResetAttempt()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			w.NewConns++
		}
	}}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), http.MethodPost, c.cfg.Endpoint.URL, bytes.NewReader(b))
	if err != nil {
		c.fail(w, metrics.Connection, err.Error())
		return
	}
	hreq.Header.Set("Content-Type", "application/json")
	if req.Whole {
		hreq.Header.Set("Accept", "application/json")
	} else {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	if c.cfg.Bearer != nil {
		hreq.Header.Set("Authorization", c.cfg.Bearer())
	}
	for k, v := range c.cfg.Header {
		hreq.Header[k] = v
	}
	if w.Send.IsZero() {
		w.Send = c.now()
	}
	hc := c.hcs[0]
	if len(c.hcs) > 1 {
		hc = c.hcs[c.next.Add(1)%uint64(len(c.hcs))]
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		class := c.errClass(ctx, actx, metrics.Connection)
		c.fail(w, class, c.errMessage(class, err))
		return
	}
	defer resp.Body.Close()
	w.Hdr = c.now()
	w.Status, w.Proto = resp.StatusCode, resp.Proto
	if req.Answered != nil {
		req.Answered()
	}
	c.readHeaders(&w.Headers, resp.Header)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		c.fail(w, metrics.HTTPStatus, fmt.Sprintf("%d %s", resp.StatusCode, redirected(hreq.URL, resp.Header.Get("Location"))))
		return
	}
	if resp.StatusCode != http.StatusOK {
		msg := "Switching Protocols: an upgrade, not an answer"
		if resp.StatusCode != http.StatusSwitchingProtocols {
			// A 101's body is the raw connection, which the request's
			// context no longer governs: it would be read until the
			// server closes it, past --request-timeout.
			msg = errorBody(resp.Body)
		}
		if resp.StatusCode == http.StatusBadRequest && usage && strings.Contains(msg, "stream_options") {
			// Older API versions and some servers reject stream_options:
			// remember, and send this request again without it.
			// The refused attempt reached the server: it counts.
			c.noUsage.Store(true)
			c.attempt(ctx, req, w)
			return
		}
		class := metrics.HTTPStatus
		if resp.StatusCode == http.StatusTooManyRequests {
			class = metrics.Throttled
			w.Throttles++
		}
		c.fail(w, class, fmt.Sprintf("%d %s", resp.StatusCode, msg))
		return
	}
	if req.Whole {
		c.whole(ctx, actx, w, resp.Body, resp.Header, max(req.Choices, 1))
		return
	}
	if c.stream(ctx, actx, req, w, resp.Body, c.serverText(bodyKind(resp.Header, resp.ContentLength), 160)) {
		t := time.AfterFunc(drainWait, cancel)
		io.CopyN(io.Discard, resp.Body, drainMax)
		t.Stop()
	}
}

// fail ends the attempt as class, with msg as its error text: on one
// line, secrets redacted before it is cut to length (a cut could leave
// half a key the redactor no longer recognises).
func (c *Client) fail(w *metrics.Wire, class metrics.Class, msg string) {
	if len(msg) > 16<<10 {
		msg = msg[:16<<10]
	}
	w.Class, w.Err, w.End = class, truncate(c.cfg.Redact(msg), 300), c.now()
}

// errClass tells a run cut-off (ctx) from a request timeout (actx) from
// the given class.
func (c *Client) errClass(ctx, actx context.Context, other metrics.Class) metrics.Class {
	switch {
	case ctx.Err() != nil:
		return metrics.Incomplete
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return metrics.Timeout
	}
	return other
}

// errMessage says why an attempt ended in err: a cut-off or a timeout in
// words, anything else as the transport said it.
func (c *Client) errMessage(class metrics.Class, err error) string {
	switch class {
	case metrics.Incomplete:
		return "cut off: the run ended before the request did"
	case metrics.Timeout:
		return fmt.Sprintf("--request-timeout of %v passed", c.cfg.Timeout)
	}
	return errText(err)
}

var done = []byte("[DONE]")

// maxChoices is the most choices a stream may carry (the API's limit on
// n): an index past it is a broken stream, not a reason to allocate.
const maxChoices = 128

// maxEvents bounds the output events one request keeps (each is a stamp
// kept to the end, and more once derived): a model streams at most a
// token an event, and no model writes a million tokens to one request,
// while a server writing tiny events as fast as loopback goes reached 20
// million events and 3.7 GB of heap in 10 s.
const maxEvents = 1 << 20

// streamState is the per-stream scratch space, pooled with the reader.
type streamState struct {
	sr    *sse.Reader
	ck    api.Chunk
	bytes []int // output bytes of each choice, kept or not
}

// stream reads an SSE body, stamping output-bearing events, and reports
// whether it ended cleanly. Nothing but reading, stamping and parsing
// happens until the stream ends: tokens per event are counted afterwards
// (metrics.Record.Derive), so the tokenizer never delays a read. kind
// names the body's Content-Type and encoding, for the message when no
// event came.
func (c *Client) stream(ctx, actx context.Context, req Request, w *metrics.Wire, body io.Reader, kind string) bool {
	st, _ := c.states.Get().(*streamState)
	if st == nil {
		st = &streamState{sr: sse.NewReader(body, c.now)}
	} else {
		st.sr.Reset(body)
	}
	defer c.states.Put(st)
	st.bytes = st.bytes[:0]
	ck := &st.ck
	want := max(req.Choices, 1)
	w.Grow(want - 1)
	sawDone, events := false, 0
	responses := c.cfg.Endpoint.Type == api.Responses
	for !sawDone {
		ev, err := st.sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			class := c.errClass(ctx, actx, metrics.Stream)
			c.fail(w, class, c.errMessage(class, err))
			return false
		}
		if bytes.Equal(ev.Data, done) {
			sawDone = true
			break
		}
		if len(ev.Data) == 0 {
			continue
		}
		events++
		if err := api.ParseChunk(ev.Data, ck); err != nil {
			c.fail(w, metrics.Stream, "malformed event: "+string(ev.Data[:min(len(ev.Data), 16<<10)]))
			return false
		}
		if ck.HasError || ev.Name == "error" {
			msg := "error event"
			if ck.ErrMessage != "" {
				msg = "error event: " + ck.ErrMessage
			}
			c.fail(w, metrics.Stream, msg)
			return false
		}
		// An endpoint of the other API would be timed by the wrong
		// events: say so instead of measuring nothing, or the wrong
		// thing.
		switch {
		case responses && ck.Choices:
			c.fail(w, metrics.Stream, "a chat completions chunk in a Responses API stream (is the URL a chat endpoint?)")
			return false
		case !responses && ck.Responses:
			c.fail(w, metrics.Stream, "a Responses API event in a "+string(c.cfg.Endpoint.Type)+" stream (is the URL a Responses endpoint?)")
			return false
		}
		if ck.BadUsage != "" {
			w.Warnf("usage %s: ignored", ck.BadUsage)
		}
		usage := int32(-1)
		if ck.HasUsage {
			mergeUsage(&w.Usage, ck.Usage)
			if ck.Usage.Completion >= 0 {
				usage = int32(ck.Usage.Completion)
			}
		}
		start, evStart := 0, len(w.Events)
		for _, d := range ck.Deltas {
			if msg := badIndex(d.Index, want); msg != "" {
				c.fail(w, metrics.Stream, msg)
				return false
			}
			w.Grow(d.Index)
			if f := w.Finish[d.Index]; f != "" {
				// The choice ended in an earlier event (this event's own
				// finish is filed below): output after it would stretch
				// TPOT past the end the server announced.
				c.fail(w, metrics.Stream, fmt.Sprintf("output after choice %d's finish_reason %q", d.Index, f))
				return false
			}
			for len(st.bytes) <= d.Index {
				st.bytes = append(st.bytes, 0)
			}
			text := ck.Text[start:d.End]
			start = d.End
			if d.Kind == metrics.ReasoningSummary {
				// A summary of hidden reasoning: timed, not counted (its
				// tokens are not the reasoning tokens the usage reports).
				text = nil
			}
			if room := metrics.MaxText - len(w.Text[d.Index]); room > 0 {
				w.Text[d.Index] = append(w.Text[d.Index], text[:min(len(text), room)]...)
			}
			st.bytes[d.Index] += len(text)
			if st.bytes[d.Index] > math.MaxInt32 {
				c.fail(w, metrics.Stream, "output of one choice passed 2 GB")
				return false
			}
			// One SSE event is one output event per choice, whatever it
			// carries (reasoning ending and the answer starting, several
			// tool calls): a gap is between two arrivals.
			merged := false
			for i := evStart; i < len(w.Events); i++ {
				if e := &w.Events[i]; e.Choice == int32(d.Index) {
					e.Kinds, e.End, merged = e.Kinds.With(d.Kind), int32(st.bytes[d.Index]), true
					break
				}
			}
			if !merged {
				if len(w.Events) >= maxEvents {
					c.fail(w, metrics.Stream, fmt.Sprintf("more than %d output events: no model streams that much", maxEvents))
					return false
				}
				w.Events = append(w.Events, metrics.Event{At: ev.At, Choice: int32(d.Index), Kinds: metrics.Kinds(0).With(d.Kind), End: int32(st.bytes[d.Index]), Usage: usage})
			}
		}
		for _, f := range ck.Finish {
			if msg := badIndex(f.Index, want); msg != "" {
				c.fail(w, metrics.Stream, msg)
				return false
			}
			w.Grow(f.Index)
			if w.Finish[f.Index] != "" {
				// Kept as the first said: a repeat is the server's slip,
				// not a reason to throw the answer away.
				w.Warnf("choice %d's finish_reason came twice (%s, then %s)", f.Index, w.Finish[f.Index], c.serverText(f.Reason, 40))
				continue
			}
			w.Finish[f.Index] = c.finishReason(f.Reason)
		}
	}
	// A clean end: [DONE], or the end of the body once every choice has
	// its finish_reason; with [DONE], every choice that has one means all
	// of them must (a server that sends none at all is let be, with a
	// warning). [DONE] alone is no answer.
	if sawDone && events == 0 {
		c.fail(w, metrics.Stream, "[DONE] came before any event")
		return false
	}
	finished := 0
	for _, f := range w.Finish {
		if f != "" {
			finished++
		}
	}
	if (!sawDone && finished < len(w.Finish)) || (sawDone && finished > 0 && finished < len(w.Finish)) {
		missing := 0
		for i, f := range w.Finish {
			if f == "" {
				missing = i
				break
			}
		}
		msg := "stream ended before finish_reason"
		if len(w.Finish) > 1 {
			msg = fmt.Sprintf("stream ended before choice %d's finish_reason", missing)
		}
		if events == 0 {
			// Nothing came that reads as an event: say what came instead
			// (a gzip body, an HTML page, a whole JSON answer, nothing).
			msg = "no event came: the answer was " + kind
		}
		c.fail(w, metrics.Stream, msg)
		return false
	}
	if finished == 0 {
		w.Warnf("no finish_reason came before [DONE]")
	}
	w.End = c.now()
	w.Class = metrics.OK
	return true
}

// badIndex says why a choice index read from the wire is refused: past
// the API's 128 choices, not a count at all, or a choice the request did
// not ask for (want is its n): another request's answer, whose tokens
// would be counted as this one's; "" when it is fine.
func badIndex(i, want int) string {
	switch {
	case i == api.BadIndex:
		return "a choice's index is not a count"
	case i >= maxChoices:
		return fmt.Sprintf("choice index %d out of range", i)
	case i >= want:
		return fmt.Sprintf("output for choice %d, which was not asked for (n=%d)", i, want)
	}
	return ""
}

// finishReason is a finish_reason as kept: the API's words as they are,
// any other text cut short and cleared of secrets (it is the server's).
func (c *Client) finishReason(s string) string {
	switch s {
	case "stop", "length", "tool_calls", "content_filter", "function_call", "incomplete":
		return s
	}
	return c.serverText(s, 40)
}

// bodyKind describes what an answer's body is by its headers, for a
// message when it did not hold what was asked: "Content-Type text/html,
// Content-Encoding gzip, 0 bytes".
func bodyKind(h http.Header, length int64) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "none"
	}
	out := "Content-Type " + ct
	if e := h.Get("Content-Encoding"); e != "" {
		out += ", Content-Encoding " + e
	}
	if length == 0 {
		out += ", empty"
	}
	return out
}

// maxWhole bounds a whole answer: an embeddings batch of 2,048 vectors of
// 3,072 floats is about 60 MB of JSON; any other answer, 16 MB (the
// longest SSE line the stream reader takes).
const (
	maxWhole      = 16 << 20
	maxEmbeddings = 128 << 20
)

// whole reads a JSON answer that is not streamed: its text for the
// tokenizer, its finish_reason and usage; no event, so no TTFT or TPOT is
// made up from one arrival. want is the n asked for.
func (c *Client) whole(ctx, actx context.Context, w *metrics.Wire, body io.Reader, h http.Header, want int) {
	most := int64(maxWhole)
	if c.cfg.Endpoint.Type == api.Embeddings {
		most = maxEmbeddings
	}
	b, err := io.ReadAll(io.LimitReader(body, most+1))
	if err != nil {
		class := c.errClass(ctx, actx, metrics.Stream)
		c.fail(w, class, c.errMessage(class, err))
		return
	}
	if int64(len(b)) > most {
		c.fail(w, metrics.Stream, fmt.Sprintf("answer over %d MB", most>>20))
		return
	}
	var ck api.Chunk
	if err := api.ParseAnswer(b, &ck); err != nil {
		c.fail(w, metrics.Stream, fmt.Sprintf("malformed answer (%s): %s", bodyKind(h, int64(len(b))), b[:min(len(b), 16<<10)]))
		return
	}
	if ck.HasError {
		c.fail(w, metrics.Stream, "error answer: "+ck.ErrMessage)
		return
	}
	if ck.NotVectors > 0 {
		c.fail(w, metrics.Stream, fmt.Sprintf("answer held %d embeddings that are not vectors of numbers", ck.NotVectors))
		return
	}
	if ck.BadUsage != "" {
		w.Warnf("usage %s: ignored", ck.BadUsage)
	}
	if ck.HasUsage {
		mergeUsage(&w.Usage, ck.Usage)
	}
	start := 0
	for _, d := range ck.Deltas {
		if msg := badIndex(d.Index, want); msg != "" {
			c.fail(w, metrics.Stream, msg)
			return
		}
		w.Grow(d.Index)
		// Reasoning text is kept, as a stream's is; a summary of hidden
		// reasoning is not output.
		if d.Kind != metrics.ReasoningSummary {
			text := ck.Text[start:d.End]
			if room := metrics.MaxText - len(w.Text[d.Index]); room > 0 {
				w.Text[d.Index] = append(w.Text[d.Index], text[:min(len(text), room)]...)
			}
			w.Reasoned = w.Reasoned || d.Kind == metrics.Reasoning && d.End > start
		}
		start = d.End
	}
	for _, f := range ck.Finish {
		if msg := badIndex(f.Index, want); msg != "" {
			c.fail(w, metrics.Stream, msg)
			return
		}
		w.Grow(f.Index)
		w.Finish[f.Index] = c.finishReason(f.Reason)
	}
	w.Embeddings = ck.Embeddings
	w.End = c.now()
	w.Class = metrics.OK
}

// mergeUsage keeps every count a usage report gives.
func mergeUsage(u *metrics.Usage, v metrics.Usage) {
	for _, f := range []struct {
		dst *int
		src int
	}{{&u.Prompt, v.Prompt}, {&u.Completion, v.Completion}, {&u.Reasoning, v.Reasoning}, {&u.Cached, v.Cached}} {
		if f.src >= 0 {
			*f.dst = f.src
		}
	}
}

// redirected says where a redirect pointed: only the host, which is
// what a user needs to fix the URL (the path and query may hold
// secrets; the redactor clears the host too, in fail).
func redirected(from *url.URL, location string) string {
	if location == "" {
		return "redirect with no Location: redirects are not followed"
	}
	to, err := from.Parse(location)
	if err != nil || to.Host == "" {
		return "redirect to an unreadable Location: redirects are not followed"
	}
	return fmt.Sprintf("redirect to %s://%s: redirects are not followed", to.Scheme, to.Host)
}

// serverText is a string a server sent that is kept in a record: cut to
// n bytes on one line, with every secret the server may have echoed
// redacted first (a cut could leave half a key the redactor no longer
// recognises; what lies past the cut is dropped anyway).
func (c *Client) serverText(s string, n int) string {
	if s == "" {
		return ""
	}
	if len(s) > 16<<10 {
		s = s[:16<<10]
	}
	return truncate(c.cfg.Redact(s), n)
}

// readHeaders keeps the headers a capacity test reads. Their text is the
// server's: it goes through the redactor, as error texts do.
func (c *Client) readHeaders(h *metrics.Headers, hd http.Header) {
	if v := hd.Get("apim-request-id"); v != "" {
		h.RequestID = c.serverText(v, 80)
	} else if v := hd.Get("x-request-id"); v != "" {
		h.RequestID = c.serverText(v, 80)
	}
	if v := hd.Get("azure-openai-deployment-utilization"); v != "" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%")), 64); err == nil && f >= 0 && f <= 1e6 {
			h.Util = f
		}
	}
	for _, f := range []struct {
		dst  *int
		name string
	}{{&h.RemainingRequests, "x-ratelimit-remaining-requests"}, {&h.RemainingTokens, "x-ratelimit-remaining-tokens"},
		{&h.LimitRequests, "x-ratelimit-limit-requests"}, {&h.LimitTokens, "x-ratelimit-limit-tokens"}} {
		if v, err := strconv.Atoi(hd.Get(f.name)); err == nil && v >= 0 {
			*f.dst = v
		}
	}
	h.Region = c.serverText(hd.Get("x-ms-region"), 80)
	h.Deployment = c.serverText(hd.Get("x-ms-deployment-name"), 120)
	h.SpilledFrom = c.serverText(hd.Get("x-ms-spillover-from-deployment"), 120)
	h.RetryAfter = retryAfter(hd, c.now())
}

// retryAfter reads retry-after-ms (milliseconds, possibly fractional),
// else retry-after (seconds or an HTTP date), bounded by maxWait.
func retryAfter(h http.Header, now time.Time) time.Duration {
	dur := func(v, unit float64) time.Duration {
		if !(v > 0) {
			return 0
		}
		return time.Duration(min(v*unit, float64(maxWait)))
	}
	if v := h.Get("retry-after-ms"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			if d := dur(f, float64(time.Millisecond)); d > 0 {
				return d
			}
		}
	}
	if v := h.Get("retry-after"); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return dur(n, float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(t.Sub(now), 0), maxWait)
		}
	}
	return 0
}

type apiError struct {
	Message string `json:"message"`
}

// errorBody reads an error response and returns its message on one line.
func errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var e struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return string(b)
}

func errText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	return err.Error()
}

// truncate puts s on one line and cuts it to at most n bytes, at a rune
// boundary. Control characters (a terminal's escape sequences, NUL, C1
// codes) and bytes that are not UTF-8 become U+FFFD: the text is the
// server's, and is printed to a terminal (a 401's message, say).
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
