package api

import (
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/plan"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw      string
		api      API
		dep, mod string
		wantAPI  API
		wantURL  string
		wantMod  string
	}{
		{"https://res.openai.azure.com/", "", "gpt4o", "", Azure, "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", ""},
		{"https://res.openai.azure.com", "", "gpt4o", "", Azure, "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", ""},
		{"https://res.cognitiveservices.azure.com//", "", "d", "", Azure, "https://res.cognitiveservices.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21", ""},
		{"https://res.openai.azure.com/openai/v1/", "", "d", "", AzureV1, "https://res.openai.azure.com/openai/v1/chat/completions", "d"},
		{"https://res.openai.azure.com", AzureV1, "d", "", AzureV1, "https://res.openai.azure.com/openai/v1/chat/completions", "d"},
		{"https://api.openai.com/v1", "", "", "gpt-4o", OpenAI, "https://api.openai.com/v1/chat/completions", "gpt-4o"},
		{"http://127.0.0.1:8000", "", "", "llama", OpenAI, "http://127.0.0.1:8000/v1/chat/completions", "llama"},
		{"http://127.0.0.1:8000/", OpenAI, "", "m", OpenAI, "http://127.0.0.1:8000/v1/chat/completions", "m"},
		{"http://localhost:8080", Azure, "d", "", Azure, "http://localhost:8080/openai/deployments/d/chat/completions?api-version=2024-10-21", ""},
		// A name with / and # is one segment, escaped once.
		{"https://res.openai.azure.com", "", "a/b#c", "", Azure, "https://res.openai.azure.com/openai/deployments/a%2Fb%23c/chat/completions?api-version=2024-10-21", ""},
		{"https://gw.example.com/my%20api", Azure, "a b", "", Azure, "https://gw.example.com/my%20api/openai/deployments/a%20b/chat/completions?api-version=2024-10-21", ""},
	}
	for _, c := range cases {
		e, err := Resolve(c.raw, c.api, "", c.dep, c.mod, "2024-10-21")
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if e.API != c.wantAPI || e.URL != c.wantURL || e.Model != c.wantMod {
			t.Errorf("%s: got %s %s model %q, want %s %s %q", c.raw, e.API, e.URL, e.Model, c.wantAPI, c.wantURL, c.wantMod)
		}
		if strings.Contains(strings.SplitN(e.URL, "://", 2)[1], "//") {
			t.Errorf("%s: double slash in %s", c.raw, e.URL)
		}
	}
	types := []struct {
		raw, dep string
		api      API
		typ      plan.Endpoint
		version  string
		wantURL  string
		wantMod  string
	}{
		{"https://r.openai.azure.com", "d", "", plan.Responses, "2024-10-21", "https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview", "d"},
		{"https://r.openai.azure.com", "d", "", plan.Responses, "2025-05-01", "https://r.openai.azure.com/openai/responses?api-version=2025-05-01", "d"},
		{"https://r.openai.azure.com/openai/v1", "d", "", plan.Responses, "", "https://r.openai.azure.com/openai/v1/responses", "d"},
		{"https://r.openai.azure.com", "d", "", plan.Embeddings, "2024-10-21", "https://r.openai.azure.com/openai/deployments/d/embeddings?api-version=2024-10-21", ""},
		{"https://r.openai.azure.com", "d", "", plan.Completions, "2024-10-21", "https://r.openai.azure.com/openai/deployments/d/completions?api-version=2024-10-21", ""},
		{"https://gw.azure-api.net", "d", "", plan.Chat, "2024-10-21", "https://gw.azure-api.net/openai/deployments/d/chat/completions?api-version=2024-10-21", ""},
		{"https://x.services.ai.azure.com/openai/v1", "d", "", plan.Embeddings, "", "https://x.services.ai.azure.com/openai/v1/embeddings", "d"},
		{"http://127.0.0.1:8000/v1/chat/completions", "m", "", plan.Responses, "", "http://127.0.0.1:8000/v1/responses", "m"},
		{"http://127.0.0.1:8000", "m", "", plan.Completions, "", "http://127.0.0.1:8000/v1/completions", "m"},
		// A whole URL without /v1 keeps its base.
		{"https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini-2.5-flash", "", plan.Chat, "", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini-2.5-flash"},
		{"https://api.perplexity.ai/chat/completions", "sonar", "", plan.Chat, "", "https://api.perplexity.ai/chat/completions", "sonar"},
		{"https://api.perplexity.ai/chat/completions", "sonar", "", plan.Embeddings, "", "https://api.perplexity.ai/embeddings", "sonar"},
		{"http://127.0.0.1:8000/v1/embeddings", "m", "", plan.Chat, "", "http://127.0.0.1:8000/v1/chat/completions", "m"},
	}
	for _, c := range types {
		e, err := Resolve(c.raw, c.api, c.typ, c.dep, "", c.version)
		if err != nil || e.URL != c.wantURL || e.Model != c.wantMod || e.Type != c.typ {
			t.Errorf("%s %s: %v %s model %q, want %s %q", c.raw, c.typ, err, e.URL, e.Model, c.wantURL, c.wantMod)
		}
	}
	if _, err := Resolve("http://127.0.0.1:1", OpenAI, "speech", "", "m", ""); err == nil || !strings.Contains(err.Error(), "--endpoint-type") {
		t.Errorf("unknown type: %v", err)
	}
	e, _ := Resolve("http://127.0.0.1:1", OpenAI, "", "", "m", "")
	if !e.Loopback {
		t.Error("127.0.0.1 not loopback")
	}
	for _, bad := range []struct {
		raw string
		api API
		dep string
	}{{"not a url", "", "d"}, {"ftp://x", "", "d"}, {"http://", "", "d"}, {"https://x.openai.azure.com", "", ""}, {"http://h", "bogus", "d"}, {"http://h?x=1", "", "d"}, {"http://127.0.0.1:99999", "", "d"}, {"http://127.0.0.1:0", OpenAI, "d"}, {"http://:80", "", "d"}} {
		if _, err := Resolve(bad.raw, bad.api, "", bad.dep, "", "v"); err == nil {
			t.Errorf("Resolve(%q, %q): want error", bad.raw, bad.api)
		}
	}
}

func TestUserInfoNeverShown(t *testing.T) {
	t.Parallel()
	e, err := Resolve("http://user:hunter2@127.0.0.1:8000", OpenAI, "", "", "m", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Target(), "hunter2") || strings.Contains(e.Target(), "user") {
		t.Errorf("Target() = %s", e.Target())
	}
	if Secret("http://user:hunter2@h") != "hunter2" || Secret("http://h") != "" {
		t.Error("Secret")
	}
	// Go sends the user info as basic auth: its base64 decodes to the
	// password, and a server may echo it alone.
	if got := Secrets("http://user:hunter2@h"); len(got) != 2 || got[0] != "hunter2" || got[1] != "dXNlcjpodW50ZXIy" {
		t.Errorf("Secrets = %q", got)
	}
	if got := Secrets("http://user@h"); got != nil {
		t.Errorf("Secrets of a short name without a password = %q", got)
	}
	// A key given as the user name alone (KEY@host) is a secret too.
	if got := Secrets("http://sk-0123456789ab@h"); len(got) != 2 || got[0] != "sk-0123456789ab" || got[1] != "c2stMDEyMzQ1Njc4OWFiOg==" {
		t.Errorf("Secrets of a key as the user name = %q", got)
	}
	if got := WithoutPassword("http://sk-0123456789ab@h/x"); got != "http://h/x" {
		t.Errorf("WithoutPassword = %q", got)
	}
	if _, err := Resolve("http://user:hunter2@h:99999", OpenAI, "", "", "m", ""); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}
