package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

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
	hreq, err := c.request(actx, req, w, b)
	if err != nil {
		c.fail(w, metrics.Connection, err.Error())
		return
	}
	if w.Send.IsZero() {
		w.Send = c.now()
	}
	resp, err := c.httpClient().Do(hreq)
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
	if resp.StatusCode != http.StatusOK {
		c.notOK(ctx, req, w, hreq.URL, resp, usage)
		return
	}
	if req.Whole {
		c.whole(ctx, actx, w, resp.Body, resp.Header, max(req.Choices, 1))
		return
	}
	if c.stream(ctx, actx, req, w, resp) {
		t := time.AfterFunc(drainWait, cancel)
		io.CopyN(io.Discard, resp.Body, drainMax)
		t.Stop()
	}
}

// request is an attempt's HTTP request of body b: its headers, and a
// trace that counts the connections it opens in w.
func (c *Client) request(actx context.Context, req Request, w *metrics.Wire, b []byte) (*http.Request, error) {
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			w.NewConns++
		}
	}}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), http.MethodPost, c.cfg.Endpoint.URL, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	// The values are the client's, shared by every request: Set would
	// allocate each anew, and nothing writes to a request's headers.
	hreq.Header["Content-Type"] = c.values.json
	if req.Whole {
		hreq.Header["Accept"] = c.values.json
	} else {
		hreq.Header["Accept"] = c.values.eventStream
	}
	if c.cfg.Bearer != nil {
		hreq.Header.Set("Authorization", c.cfg.Bearer())
	}
	for k, v := range c.cfg.Header {
		hreq.Header[k] = v
	}
	return hreq, nil
}

// httpClient is the client of the next attempt: HTTP/2's connection
// groups take turns.
func (c *Client) httpClient() *http.Client {
	if len(c.hcs) > 1 {
		return c.hcs[c.next.Add(1)%uint64(len(c.hcs))]
	}
	return c.hcs[0]
}

// notOK ends an attempt answered with any status but 200 (from, the
// request's URL, tells where a redirect pointed): a failure of its
// class, or, when the server refused stream_options (usage says they
// were sent), the request sent again without them.
func (c *Client) notOK(ctx context.Context, req Request, w *metrics.Wire, from *url.URL, resp *http.Response, usage bool) {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		c.fail(w, metrics.HTTPStatus, fmt.Sprintf("%d %s", resp.StatusCode, redirected(from, resp.Header.Get("Location"))))
		return
	}
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
