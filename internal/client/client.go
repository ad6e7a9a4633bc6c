// Package client sends streaming requests to one endpoint and reports what
// happened on the wire (metrics.Wire): when each output event arrived, of
// which choice, with what text, and the status, headers and usage. It is
// net/http plus the sse package: no SDK, so no hidden retries and no
// per-chunk overhead beyond what is measured. Deriving the metrics is
// metrics.Record.Derive's job.
package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/plan"

	"golang.org/x/net/http2"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
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
	Retry    plan.Retry    // plan.RetryNone or plan.RetryExponential
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
	values  headerValues
}

// headerValues are the values of the headers every request sends, made
// once.
type headerValues struct {
	json, eventStream []string
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
	c := &Client{cfg: cfg, now: cfg.Now, values: headerValues{json: []string{"application/json"}, eventStream: []string{"text/event-stream"}}}
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
		if w.Class == metrics.OK || req.NoRetry || c.cfg.Retry != plan.RetryExponential || !retryable(w) || w.Attempts >= maxAttempts {
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
