package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/sse"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Retry policies.
const (
	RetryNone        = "none"
	RetryExponential = "exponential"
)

// Config configures a Client.
type Config struct {
	Endpoint  Endpoint
	Key       string        // API key; never logged
	Retry     string        // RetryNone or RetryExponential
	RetryFor  time.Duration // give up retrying this long after the first attempt (default 60 s)
	Timeout   time.Duration // per attempt, headers to end of stream (default 10 min)
	MaxConns  int           // idle connections kept per host
	Tokenizer *tokenizer.Tokenizer
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Client sends requests to one endpoint. It is safe for concurrent use.
type Client struct {
	cfg     Config
	hc      *http.Client
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
	tr := cfg.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          0,
			MaxIdleConnsPerHost:   max(cfg.MaxConns, 256),
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			// Compression would hide when bytes really arrive.
			DisableCompression: true,
		}
	}
	return &Client{cfg: cfg, hc: &http.Client{Transport: tr}, now: cfg.Now}
}

// Close closes idle connections, ending their goroutines.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Usage reports whether requests ask for a usage frame; it turns false once
// the server has rejected stream_options.
func (c *Client) Usage() bool { return !c.noUsage.Load() }

// Body builds the body of a request; usage says whether to ask for a usage
// frame.
type Body func(usage bool) []byte

// Probe sends one tiny request and returns an error if the endpoint does not
// answer, or answers 401, 403 or 404, so that a run stops at once instead of
// producing thousands of failures. Any other answer, 429 included, passes.
func (c *Client) Probe(ctx context.Context, body Body) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rec := metrics.NewRecord(-1, c.now())
	c.attempt(ctx, rec, body)
	switch {
	case rec.Status == 0:
		return fmt.Errorf("endpoint %s did not answer: %s", c.cfg.Endpoint.Target(), rec.Err)
	case rec.Status == http.StatusUnauthorized || rec.Status == http.StatusForbidden:
		return fmt.Errorf("endpoint answered %d %s: %s (check the API key in --api-key-env)",
			rec.Status, http.StatusText(rec.Status), rec.Err)
	case rec.Status == http.StatusNotFound:
		return fmt.Errorf("endpoint answered 404 Not Found: %s (check the URL, --deployment or --model, --api and --api-version)", rec.Err)
	}
	return nil
}

// Do runs one request to completion, with retries as configured, filling
// rec. Latencies run from the first attempt. ctx cancelled means the run
// was cut off: the request is then classed incomplete.
func (c *Client) Do(ctx context.Context, rec *metrics.Record, body Body) {
	for {
		c.attempt(ctx, rec, body)
		if rec.Class == metrics.OK || c.cfg.Retry != RetryExponential || !retryable(rec) {
			return
		}
		wait := retryWait(rec.Attempts, rec.RetryAfter)
		if c.now().Add(wait).Sub(rec.Send) > c.cfg.RetryFor {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			rec.Class, rec.Err, rec.End = metrics.Incomplete, "run ended while waiting to retry", c.now()
			return
		case <-t.C:
		}
	}
}

func retryable(r *metrics.Record) bool {
	switch r.Class {
	case metrics.Throttled, metrics.Connection:
		return true
	case metrics.HTTPStatus:
		return r.Status >= 500
	}
	return false
}

// retryWait is the server's retry-after when given, else exponential
// backoff with full jitter: uniform in [0, min(30 s, 0.5 s * 2^attempt)).
func retryWait(attempt int, after time.Duration) time.Duration {
	if after > 0 {
		return after
	}
	ceil := min(500*time.Millisecond<<min(attempt, 10), 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceil)))
}

// attempt sends one attempt and fills rec with its outcome.
func (c *Client) attempt(ctx context.Context, rec *metrics.Record, body Body) {
	usage := c.Usage()
	b := body(usage)
	rec.Attempts++
	c.reset(rec)
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.cfg.Endpoint.URL, bytes.NewReader(b))
	if err != nil {
		c.fail(rec, metrics.Connection, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.cfg.Key != "" {
		if c.cfg.Endpoint.API == OpenAI {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
		} else {
			req.Header.Set("api-key", c.cfg.Key)
		}
	}
	if rec.Send.IsZero() {
		rec.Send = c.now()
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.fail(rec, c.errClass(ctx, actx, metrics.Connection), errText(err))
		return
	}
	defer resp.Body.Close()
	rec.Hdr = c.now()
	rec.Status = resp.StatusCode
	readHeaders(rec, resp.Header)
	if resp.StatusCode != http.StatusOK {
		msg := errorBody(resp.Body)
		if resp.StatusCode == http.StatusBadRequest && usage && strings.Contains(msg, "stream_options") {
			// Older API versions and some servers reject stream_options:
			// remember, and send this request again without it.
			c.noUsage.Store(true)
			rec.Attempts--
			c.attempt(ctx, rec, body)
			return
		}
		class := metrics.HTTPStatus
		if resp.StatusCode == http.StatusTooManyRequests {
			class = metrics.Throttled
			rec.Throttles++
		}
		c.fail(rec, class, fmt.Sprintf("%d %s", resp.StatusCode, msg))
		return
	}
	c.stream(ctx, actx, rec, resp.Body)
}

// reset clears what one attempt measures, keeping Send and counters.
func (c *Client) reset(r *metrics.Record) {
	r.Hdr, r.First, r.Last, r.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	r.Status, r.Class, r.Err, r.Events, r.Gaps, r.Finish = 0, "", "", 0, r.Gaps[:0], ""
	r.ServerPrompt, r.ServerOutput, r.ClientOutput = -1, -1, -1
	r.RetryAfter = 0
}

func (c *Client) fail(r *metrics.Record, class metrics.Class, msg string) {
	r.Class, r.Err, r.End = class, msg, c.now()
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

type apiError struct {
	Message string `json:"message"`
	Code    any    `json:"code"`
}

var done = []byte("[DONE]")

// event is one output-bearing event: when it arrived, where its text ends
// in the request's text, and the usage it reported (-1 if none).
type event struct {
	at    time.Time
	end   int
	usage int
}

// streamState is the per-stream scratch space, pooled with the reader.
type streamState struct {
	sr     *sse.Reader
	ck     chunk
	text   []byte
	events []event
}

// stream reads an SSE body, stamping output-bearing events. Nothing but
// reading, stamping and parsing happens until the stream ends: tokens per
// event are counted afterwards, so the tokenizer never delays a read.
func (c *Client) stream(ctx, actx context.Context, rec *metrics.Record, body io.Reader) {
	st, _ := c.states.Get().(*streamState)
	if st == nil {
		st = &streamState{sr: sse.NewReader(body, c.now)}
	} else {
		st.sr.Reset(body)
	}
	defer c.states.Put(st)
	st.text, st.events = st.text[:0], st.events[:0]
	ck := &st.ck
	for {
		ev, err := st.sr.Next()
		if err != nil {
			if err == io.EOF {
				if rec.Finish != "" {
					break // a missing [DONE] after finish_reason is a clean end
				}
				c.fail(rec, metrics.Stream, "stream ended before finish_reason")
				return
			}
			c.fail(rec, c.errClass(ctx, actx, metrics.Stream), errText(err))
			return
		}
		if bytes.Equal(ev.Data, done) {
			break
		}
		if len(ev.Data) == 0 {
			continue
		}
		if err := parseChunk(ev.Data, ck); err != nil {
			c.fail(rec, metrics.Stream, "malformed event: "+truncate(string(ev.Data), 120))
			return
		}
		if ck.hasError || ev.Name == "error" {
			msg := "error event"
			if ck.errMessage != "" {
				msg = "error event: " + ck.errMessage
			}
			c.fail(rec, metrics.Stream, truncate(msg, 200))
			return
		}
		if ck.finish != "" {
			rec.Finish = ck.finish
		}
		usage := -1
		if ck.hasUsage {
			rec.ServerPrompt, rec.ServerOutput = ck.prompt, ck.completion
			usage = ck.completion
		}
		if !ck.output {
			continue
		}
		st.text = append(st.text, ck.text...)
		st.events = append(st.events, event{at: ev.At, end: len(st.text), usage: usage})
	}
	rec.End = c.now()
	rec.Class = metrics.OK
	c.count(rec, st)
}

// count derives, after the stream, the events' timing and token counts:
// tokens per event from continuous usage when the server sends it, else the
// tokenizer's count of the event's text.
func (c *Client) count(rec *metrics.Record, st *streamState) {
	rec.Events = len(st.events)
	if len(st.events) == 0 {
		if c.cfg.Tokenizer != nil {
			rec.ClientOutput = 0
		}
		return
	}
	rec.First, rec.Last = st.events[0].at, st.events[len(st.events)-1].at
	for i := 1; i < len(st.events); i++ {
		e, prev := st.events[i], st.events[i-1]
		k := 0
		if e.usage >= 0 && prev.usage >= 0 {
			k = e.usage - prev.usage
		} else if c.cfg.Tokenizer != nil {
			k = c.cfg.Tokenizer.Count(string(st.text[prev.end:e.end]))
		}
		rec.Gaps = append(rec.Gaps, metrics.Gap{D: e.at.Sub(prev.at), Tokens: max(k, 1)})
	}
	if c.cfg.Tokenizer != nil {
		rec.ClientOutput = c.cfg.Tokenizer.Count(string(st.text))
	}
}

// readHeaders keeps the Azure headers a test cares about.
func readHeaders(r *metrics.Record, h http.Header) {
	if v := h.Get("apim-request-id"); v != "" {
		r.RequestID = v
	} else if v := h.Get("x-request-id"); v != "" {
		r.RequestID = v
	}
	if v := h.Get("azure-openai-deployment-utilization"); v != "" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%")), 64); err == nil {
			r.Util = f
		}
	}
	if v, err := strconv.Atoi(h.Get("x-ratelimit-remaining-requests")); err == nil {
		r.RemainingRequests = v
	}
	if v, err := strconv.Atoi(h.Get("x-ratelimit-remaining-tokens")); err == nil {
		r.RemainingTokens = v
	}
	r.RetryAfter = retryAfter(h)
}

// retryAfter reads retry-after-ms (milliseconds, possibly fractional), else
// retry-after (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	if v := h.Get("retry-after"); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0)
		}
	}
	return 0
}

// errorBody reads an error response and returns its message on one line.
func errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var e struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return truncate(e.Error.Message, 300)
	}
	return truncate(strings.TrimSpace(string(b)), 300)
}

func errText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	return truncate(err.Error(), 200)
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
