package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// fakeCred hands out tokens as next says; it counts the calls.
type fakeCred struct {
	calls atomic.Int64
	next  func(n int64) (azcore.AccessToken, error)
}

func (f *fakeCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return f.next(f.calls.Add(1))
}

// TestEntraRefreshes: a token is replaced a tenth of its life before it
// expires (or at the SDK's RefreshOn), in the background, while requests
// read the current one.
func TestEntraRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cred := &fakeCred{next: func(n int64) (azcore.AccessToken, error) {
			return azcore.AccessToken{Token: fmt.Sprintf("token-number-%04d", n), ExpiresOn: time.Now().Add(100 * time.Second)}, nil
		}}
		r := NewRedactor()
		e, err := NewEntra(t.Context(), cred, Scope, r, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if e.Header() != "Bearer token-number-0001" {
			t.Fatalf("header %q", e.Header())
		}
		time.Sleep(89 * time.Second)
		synctest.Wait()
		if e.Refreshes.Load() != 0 {
			t.Errorf("refreshed at 89 s of a 100 s token")
		}
		time.Sleep(2 * time.Second) // 91 s: past 90
		synctest.Wait()
		if e.Refreshes.Load() != 1 || e.Header() != "Bearer token-number-0002" {
			t.Errorf("at 91 s: %d refreshes, header %q", e.Refreshes.Load(), e.Header())
		}
		if got := r.Redact("echo token-number-0002 and token-number-0001"); strings.Contains(got, "token-number") {
			t.Errorf("tokens not redacted: %s", got)
		}
	})
}

// TestEntraNoSpin: a credential that keeps handing back the token it had
// (the SDK's cached token when its own refresh failed, with a refresh
// time already past), or one already expired, is asked again with
// backoff, not in a loop.
func TestEntraNoSpin(t *testing.T) {
	for name, next := range map[string]func(n int64) (azcore.AccessToken, error){
		"same token": func(n int64) (azcore.AccessToken, error) {
			return azcore.AccessToken{Token: "the-cached-token", ExpiresOn: time.Now().Add(time.Hour), RefreshOn: time.Now().Add(-time.Minute)}, nil
		},
		"expired": func(n int64) (azcore.AccessToken, error) {
			return azcore.AccessToken{Token: fmt.Sprintf("token-%06d", n), ExpiresOn: time.Now().Add(-time.Second)}, nil
		},
		"failing": func(n int64) (azcore.AccessToken, error) {
			if n == 1 {
				return azcore.AccessToken{Token: "first-token-ok", ExpiresOn: time.Now().Add(2 * time.Second)}, nil
			}
			return azcore.AccessToken{}, errors.New("IMDS unavailable")
		},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cred := &fakeCred{next: next}
				var logs atomic.Int64
				e, err := NewEntra(t.Context(), cred, Scope, NewRedactor(), func(string) { logs.Add(1) })
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(60 * time.Second)
				e.Close()
				// Backoff of 1, 2, 4 ... 30 s (or a second at least between
				// tokens): at most one call a second.
				if n := cred.calls.Load(); n > 62 || n < 3 {
					t.Errorf("%d calls in a minute", n)
				}
				if logs.Load() > 1 {
					t.Errorf("%d warnings: want one", logs.Load())
				}
			})
		})
	}
}

// TestRedactorTokens: the latest tokens are kept (eight), older ones
// dropped; keys last.
func TestRedactorTokens(t *testing.T) {
	r := NewRedactor("a-lasting-key-123")
	for i := range 12 {
		r.AddToken(fmt.Sprintf("opaque-token-%02d", i))
	}
	got := r.Redact("opaque-token-11 opaque-token-04 opaque-token-03 a-lasting-key-123")
	if got != Redacted+" "+Redacted+" opaque-token-03 "+Redacted {
		t.Errorf("got %q", got)
	}
}

func TestScopeFor(t *testing.T) {
	for host, want := range map[string]string{
		"r.openai.azure.com":      Scope,
		"r.openai.azure.us":       "https://cognitiveservices.azure.us/.default",
		"R.OpenAI.Azure.CN":       "https://cognitiveservices.azure.cn/.default",
		"x.services.ai.azure.com": Scope,
	} {
		if got := ScopeFor(host); got != want {
			t.Errorf("ScopeFor(%s) = %s, want %s", host, got, want)
		}
	}
}
