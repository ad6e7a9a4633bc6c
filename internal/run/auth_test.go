package run

import (
	"context"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sim"
	"github.com/aoaibench/aoaibench/internal/sink"
)

func TestAuthMode(t *testing.T) {
	for _, c := range []struct {
		mode              plan.Auth
		key, url          string
		loopback, headers bool
		want              plan.Auth
	}{
		{"", "k", "https://r.openai.azure.com", false, false, "key"},
		{"", "", "https://r.openai.azure.com", false, false, "entra"},
		{"", "", "https://r.cognitiveservices.azure.com", false, false, "entra"},
		{"", "", "https://x.services.ai.azure.com/openai/v1", false, false, "entra"},
		{"", "", "https://r.openai.azure.us", false, false, "entra"},
		// A gateway with its own header: none; without one, the key
		// (whose empty variable is an error before anything is sent).
		{"", "", "https://gw.azure-api.net", false, true, "none"},
		{"", "", "https://api.openai.com/v1", false, false, "key"},
		{"", "", "http://127.0.0.1:8000", true, false, "none"},
		{"none", "k", "https://r.openai.azure.com", false, false, "none"},
		{"entra", "k", "http://127.0.0.1:1", true, false, "entra"},
	} {
		if got := authMode(c.mode, c.key, c.url, c.loopback, c.headers); got != c.want {
			t.Errorf("authMode(%q, key %q, %s, loopback %v, headers %v) = %s, want %s", c.mode, c.key, c.url, c.loopback, c.headers, got, c.want)
		}
	}
}

// TestEntraRefresh: against the simulator as an Entra ID issuer of
// 2-second tokens, over real loopback TCP, through azidentity's default
// chain (managed identity, App Service form): the run keeps a fresh
// token by itself, every request succeeds, and the simulator refuses
// none for a stale token.
func TestEntraRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	id := &sim.Identity{Header: "h-0123456789", Lifetime: 2 * time.Second}
	s, err := sim.Start(sim.Config{Deployments: []simconfig.Deployment{fast()}, Identity: id}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	t.Setenv("IDENTITY_ENDPOINT", s.URL()+"/msi/token")
	t.Setenv("IDENTITY_HEADER", id.Header)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
	p := basePlan("d", 50, 5)
	p.Target.URL, p.Target.Auth = s.URL(), "entra"
	p.Load.Rate, p.Load.Duration = rate(1200), plan.Duration(6*time.Second)
	r, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []*metrics.Record
	out, err := r.Execute(context.Background(), sink.Sink{Record: func(rec *metrics.Record) { recs = append(recs, rec) }})
	if err != nil {
		t.Fatal(err)
	}
	q := out.Results.Requests
	st := s.Stats()
	if q.OK != q.Sent || q.Sent < 100 || st.TokensRejected != 0 {
		t.Fatalf("sent %d, ok %d; the simulator refused %d for their token", q.Sent, q.OK, st.TokensRejected)
	}
	// Tokens of 1 to 2 s (expiry in whole seconds) over 6 s: a refresh
	// every 1 to 2 s.
	if e := out.Results.Entra; e == nil || e.Refreshes < 3 || e.Failures != 0 || st.TokensIssued != e.Refreshes+1 {
		t.Errorf("entra %+v, issued %d", out.Results.Entra, st.TokensIssued)
	}
	for _, rec := range recs {
		if rec.Err != "" {
			t.Fatalf("request %d: %s", rec.ID, rec.Err)
		}
	}
}

// TestURLCredentialsRedacted: Go sends a URL's user info as basic auth;
// a server that echoes the credential alone, without its "Basic", gets
// neither it nor the password into any text the run writes.
func TestURLCredentialsRedacted(t *testing.T) {
	p := basePlan("d", 100, 10)
	p.Target.URL = "http://me:url-password-1234@127.0.0.1:1"
	p.Output.ServerMetrics = []string{"http://scraper:metrics-password-99@127.0.0.1:2/metrics"}
	r, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, s := range []string{"url-password-1234", "bWU6dXJsLXBhc3N3b3JkLTEyMzQ=", "metrics-password-99", "c2NyYXBlcjptZXRyaWNzLXBhc3N3b3JkLTk5"} {
		if got := r.Redact("echoed " + s + " back"); got != "echoed [REDACTED] back" {
			t.Errorf("%s: %q", s, got)
		}
	}
}
