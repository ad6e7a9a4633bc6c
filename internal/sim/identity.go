package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Identity configures the simulator as a Microsoft Entra ID issuer: it
// serves managed identity's App Service token endpoint, and requests must
// carry one of its tokens, unexpired. Point a client at it with
// IDENTITY_ENDPOINT=<url>/msi/token and IDENTITY_HEADER=<Header>.
type Identity struct {
	Header   string        // the X-IDENTITY-HEADER secret the endpoint checks
	Lifetime time.Duration // of each token
}

// Resource is the audience of Azure OpenAI's tokens.
const Resource = "https://cognitiveservices.azure.com"

// issuer hands out and checks tokens.
type issuer struct {
	cfg      Identity
	mu       sync.Mutex
	tokens   map[string]time.Time // token -> expiry
	issued   int64
	rejected int64
}

func newIssuer(cfg Identity) *issuer {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = time.Hour
	}
	return &issuer{cfg: cfg, tokens: map[string]time.Time{}}
}

// serveToken is GET /msi/token, as App Service answers it.
func (is *issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-IDENTITY-HEADER") != is.cfg.Header {
		http.Error(w, `{"statusCode":401,"message":"Unauthorized: X-IDENTITY-HEADER is missing or wrong"}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	if res := strings.TrimSuffix(q.Get("resource"), "/"); res != Resource {
		http.Error(w, fmt.Sprintf(`{"statusCode":400,"message":"resource %q is not %s"}`, res, Resource), http.StatusBadRequest)
		return
	}
	now := time.Now()
	exp := now.Add(is.cfg.Lifetime)
	tok := newToken(exp)
	is.mu.Lock()
	for t, e := range is.tokens {
		if now.After(e) {
			delete(is.tokens, t)
		}
	}
	is.tokens[tok] = exp
	is.issued++
	is.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10), "resource": Resource,
		"token_type": "Bearer", "client_id": "00000000-0000-0000-0000-00000000a0a0",
	})
}

// newToken makes a token shaped like Entra's: a JSON Web Token (header,
// claims, signature), unique and unguessable.
func newToken(exp time.Time) string {
	b64 := base64.RawURLEncoding
	var nonce [16]byte
	rand.Read(nonce[:])
	claims := fmt.Sprintf(`{"aud":%q,"exp":%d,"iss":"aoaibench-simulator","jti":%q}`, Resource, exp.Unix(), hex.EncodeToString(nonce[:]))
	var sig [32]byte
	rand.Read(sig[:])
	return b64.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + b64.EncodeToString([]byte(claims)) + "." + b64.EncodeToString(sig[:])
}

// valid reports whether an Authorization header carries a token this
// issuer gave and that has not expired.
func (is *issuer) valid(authz string) bool {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return false
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	exp, ok := is.tokens[tok]
	if !ok || time.Now().After(exp) {
		is.rejected++
		return false
	}
	return true
}
