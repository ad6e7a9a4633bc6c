package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Scope is the Microsoft Entra ID scope of Azure OpenAI in Azure's
// public cloud; ScopeFor gives a host's cloud's.
const Scope = "https://cognitiveservices.azure.com/.default"

// ScopeFor is the Azure OpenAI scope of host's cloud: Azure Government
// (*.azure.us) and Azure China (*.azure.cn) have their own audiences.
func ScopeFor(host string) string {
	host = strings.ToLower(host)
	switch {
	case strings.HasSuffix(host, ".azure.us"):
		return "https://cognitiveservices.azure.us/.default"
	case strings.HasSuffix(host, ".azure.cn"):
		return "https://cognitiveservices.azure.cn/.default"
	}
	return Scope
}

// Entra keeps a Microsoft Entra ID token for requests: it gets the first
// before the run starts and every next one in the background, ahead of the
// current one's expiry, so that no request ever waits for a token (a
// refresh inside a request would sit in its TTFT). Requests read the
// current token with one atomic load.
type Entra struct {
	cred   azcore.TokenCredential
	scope  string
	header atomic.Pointer[string] // "Bearer <token>"
	redact *Redactor
	log    func(string)

	// Refreshes and Failures count the background refreshes and the
	// attempts that failed (each retried).
	Refreshes, Failures atomic.Int64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewDefaultEntra returns an Entra of azidentity's default chain:
// environment (service principal), workload identity (AKS), managed
// identity (VMs, App Service, Container Apps), then the Azure CLI and
// Developer CLI sign-ins.
func NewDefaultEntra(ctx context.Context, scope string, redact *Redactor, log func(string)) (*Entra, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, err
	}
	return NewEntra(ctx, cred, scope, redact, log)
}

// NewEntra gets the first token of cred for scope (an error means no
// token can be had: the run must not start) and starts refreshing. Every
// token is added to redact, so that a server echoing it cannot put it in
// a file.
func NewEntra(ctx context.Context, cred azcore.TokenCredential, scope string, redact *Redactor, log func(string)) (*Entra, error) {
	e := &Entra{cred: cred, scope: scope, redact: redact, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	tok, err := e.get(ctx)
	if err != nil {
		return nil, err
	}
	go e.loop(tok)
	return e, nil
}

// Header returns the Authorization header's value.
func (e *Entra) Header() string { return *e.header.Load() }

// Close stops refreshing.
func (e *Entra) Close() {
	e.once.Do(func() { close(e.stop) })
	<-e.done
}

// get fetches a token and makes it current.
func (e *Entra) get(ctx context.Context) (azcore.AccessToken, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tok, err := e.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.scope}})
	if err != nil {
		return tok, fmt.Errorf("getting a Microsoft Entra ID token: %s", oneLine(e.redact.Redact(err.Error())))
	}
	e.redact.AddToken(tok.Token)
	h := "Bearer " + tok.Token
	e.header.Store(&h)
	return tok, nil
}

// refreshAt is when to replace tok: at the credential's RefreshOn when it
// gives one, else a tenth of its lifetime (at most 5 minutes) before it
// expires, so that a long token is replaced well ahead and a 10-second
// one about once per lifetime.
func refreshAt(tok azcore.AccessToken, got time.Time) time.Time {
	if !tok.RefreshOn.IsZero() && tok.RefreshOn.Before(tok.ExpiresOn) {
		return tok.RefreshOn
	}
	life := tok.ExpiresOn.Sub(got)
	return tok.ExpiresOn.Add(-min(max(life/10, time.Second), 5*time.Minute))
}

// loop refreshes until Close. A failed refresh is retried after 1, 2,
// 4... seconds (at most 30); the current token stays in use meanwhile.
func (e *Entra) loop(tok azcore.AccessToken) {
	defer close(e.done)
	at := refreshAt(tok, time.Now())
	backoff := time.Second
	for {
		t := time.NewTimer(time.Until(at))
		select {
		case <-e.stop:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-e.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		got := time.Now()
		next, err := e.get(ctx)
		cancel()
		if err == nil && next.Token == tok.Token {
			// The SDK hands back its cached token when its own refresh
			// failed: no new token, and the same refresh time, already
			// past. Asking again at once would spin.
			err = fmt.Errorf("getting a Microsoft Entra ID token: the credential returned the token it had")
		}
		if err != nil {
			if e.Failures.Add(1) == 1 {
				e.log("warning: " + err.Error() + " (retrying; requests keep the current token)")
			}
			at = time.Now().Add(backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		tok = next
		e.Refreshes.Add(1)
		backoff = time.Second
		// A token whose refresh time has passed (or that expires at once)
		// is taken, and the next asked for no sooner than a second later.
		at = refreshAt(next, got)
		if soonest := time.Now().Add(time.Second); at.Before(soonest) {
			at = soonest
		}
	}
}

// oneLine joins a multi-line error (azidentity's list every credential it
// tried) into one line.
func oneLine(s string) string {
	// The SDK's errors are made for a terminal: rules of dashes between
	// sections and a line per credential tried. One line keeps the
	// "exit 2 with one line" contract; the rules say nothing.
	fields := strings.Fields(s)
	kept := fields[:0]
	for _, f := range fields {
		if len(f) >= 5 && strings.Trim(f, "-") == "" {
			continue
		}
		kept = append(kept, f)
	}
	return strings.Join(kept, " ")
}
