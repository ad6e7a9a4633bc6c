package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

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
// server's: it goes through the redactor, as error texts do. The names
// are written canonical: Get would allocate each one's canonical form on
// every request.
func (c *Client) readHeaders(h *metrics.Headers, hd http.Header) {
	if v := hd.Get("Apim-Request-Id"); v != "" {
		h.RequestID = c.serverText(v, 80)
	} else if v := hd.Get("X-Request-Id"); v != "" {
		h.RequestID = c.serverText(v, 80)
	}
	if v := hd.Get("Azure-Openai-Deployment-Utilization"); v != "" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%")), 64); err == nil && f >= 0 && f <= 1e6 {
			h.Util = f
		}
	}
	for _, f := range []struct {
		dst  *int
		name string
	}{{&h.RemainingRequests, "X-Ratelimit-Remaining-Requests"}, {&h.RemainingTokens, "X-Ratelimit-Remaining-Tokens"},
		{&h.LimitRequests, "X-Ratelimit-Limit-Requests"}, {&h.LimitTokens, "X-Ratelimit-Limit-Tokens"}} {
		// An absent header is no number, and no error to allocate.
		if v := hd.Get(f.name); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				*f.dst = n
			}
		}
	}
	h.Region = c.serverText(hd.Get("X-Ms-Region"), 80)
	h.Deployment = c.serverText(hd.Get("X-Ms-Deployment-Name"), 120)
	h.SpilledFrom = c.serverText(hd.Get("X-Ms-Spillover-From-Deployment"), 120)
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
	if v := h.Get("Retry-After-Ms"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			if d := dur(f, float64(time.Millisecond)); d > 0 {
				return d
			}
		}
	}
	if v := h.Get("Retry-After"); v != "" {
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
	if len(s) <= n && plainLine(s) {
		return s // a request ID, a region: kept as it is, without a copy
	}
	return oneLine(s, n)
}

// oneLine is truncate's work on a string that is not plain.
func oneLine(s string, n int) string {
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

// plainLine reports whether truncate leaves s as it is: printable ASCII,
// its words one space apart.
func plainLine(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		case b < 0x21 || b > 0x7e:
			return false
		}
	}
	return true
}
