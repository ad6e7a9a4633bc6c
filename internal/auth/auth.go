// Package auth holds how aoaibench proves who it is to an endpoint (API
// keys, headers) and the one redactor every writer goes through, so that
// no secret reaches the terminal, a log or a results file, even when a
// server echoes it back.
package auth

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aoaibench/aoaibench/internal/api"
)

// KeyHeader returns the header that carries an API key in a dialect:
// api-key for Azure's, Authorization: Bearer for OpenAI's.
func KeyHeader(dialect api.API, key string) http.Header {
	if key == "" {
		return http.Header{}
	}
	if dialect == api.OpenAI {
		return http.Header{"Authorization": {"Bearer " + key}}
	}
	return http.Header{"Api-Key": {key}}
}

// Redacted replaces a secret in text.
const Redacted = "[REDACTED]"

// minSecret is the shortest value treated as a secret: redacting every
// "1" or "ok" would mangle the text and protect nothing.
const minSecret = 4

// bearer matches a bearer token or basic credentials in any text: some
// servers echo the Authorization header they were sent.
var bearer = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`)

// jwt matches a JSON Web Token, as Microsoft Entra ID tokens are, wherever
// it appears: a server may echo one without its "Bearer".
var jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)

// maxTokens is how many of the latest tokens a redactor remembers: a
// token stops being sent a refresh after it is replaced.
const maxTokens = 8

// Redactor removes secrets from text. Its zero value redacts only bearer
// and basic credentials and JSON Web Tokens. It is safe for concurrent use:
// tokens are added while requests run.
type Redactor struct {
	mu      sync.Mutex
	secrets atomic.Pointer[[]string] // longest first, so that a secret inside another goes last
	keys    []string                 // under mu: the lasting secrets
	tokens  []string                 // under mu: the latest tokens
}

// NewRedactor returns a redactor of the given secrets (empty and very
// short values are ignored).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds lasting secrets: keys, passwords, header values.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if s = strings.TrimSpace(s); len(s) >= minSecret {
			r.keys = append(r.keys, s)
		}
	}
	r.publish()
}

// AddToken adds a token that replaces earlier ones: only the latest
// maxTokens are kept.
func (r *Redactor) AddToken(tok string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tok = strings.TrimSpace(tok); len(tok) >= minSecret {
		r.tokens = append(r.tokens, tok)
		if len(r.tokens) > maxTokens {
			r.tokens = append(r.tokens[:0], r.tokens[len(r.tokens)-maxTokens:]...)
		}
	}
	r.publish()
}

// publish makes the current secrets visible to Redact. Called under mu.
func (r *Redactor) publish() {
	all := append(append([]string(nil), r.keys...), r.tokens...)
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	r.secrets.Store(&all)
}

// Redact returns s with every secret, bearer token, basic credential and
// JSON Web Token replaced by [REDACTED].
func (r *Redactor) Redact(s string) string {
	if s == "" {
		return s
	}
	if r != nil {
		if secrets := r.secrets.Load(); secrets != nil {
			for _, sec := range *secrets {
				if strings.Contains(s, sec) {
					s = strings.ReplaceAll(s, sec, Redacted)
				}
			}
		}
	}
	// The regular expression only where its word is: Redact runs on every
	// header a server sends back, on the hot path.
	if hasSchemeWord(s) && bearer.MatchString(s) {
		s = bearer.ReplaceAllString(s, "$1 "+Redacted)
	}
	if strings.Contains(s, "eyJ") && jwt.MatchString(s) {
		s = jwt.ReplaceAllString(s, Redacted)
	}
	return s
}

// hasSchemeWord reports whether s holds "bearer" or "basic" in any case,
// the words the bearer expression starts with.
func hasSchemeWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != 'b' {
			continue
		}
		rest := s[i:]
		if len(rest) >= 6 && strings.EqualFold(rest[:6], "bearer") || len(rest) >= 5 && strings.EqualFold(rest[:5], "basic") {
			return true
		}
	}
	return false
}
