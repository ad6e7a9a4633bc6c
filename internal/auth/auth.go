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

// Redactor removes secrets from text. Its zero value redacts only bearer
// and basic credentials. It is safe for concurrent use once built.
type Redactor struct {
	secrets []string // longest first, so that a secret inside another goes last
}

// NewRedactor returns a redactor of the given secrets (empty and very
// short values are ignored).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets; call it before the redactor is shared.
func (r *Redactor) Add(secrets ...string) {
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) >= minSecret {
			r.secrets = append(r.secrets, s)
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Redact returns s with every secret, bearer token and basic credential
// replaced by [REDACTED].
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, sec := range r.secrets {
			if strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, Redacted)
			}
		}
	}
	if bearer.MatchString(s) {
		s = bearer.ReplaceAllString(s, "$1 "+Redacted)
	}
	return s
}
