package api

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
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
	}
	for _, c := range cases {
		e, err := Resolve(c.raw, c.api, c.dep, c.mod, "2024-10-21")
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
	e, _ := Resolve("http://127.0.0.1:1", OpenAI, "", "m", "")
	if !e.Loopback {
		t.Error("127.0.0.1 not loopback")
	}
	for _, bad := range []struct {
		raw string
		api API
		dep string
	}{{"not a url", "", "d"}, {"ftp://x", "", "d"}, {"http://", "", "d"}, {"https://x.openai.azure.com", "", ""}, {"http://h", "bogus", "d"}, {"http://h?x=1", "", "d"}, {"http://127.0.0.1:99999", "", "d"}, {"http://127.0.0.1:0", OpenAI, "d"}, {"http://:80", "", "d"}} {
		if _, err := Resolve(bad.raw, bad.api, bad.dep, "", "v"); err == nil {
			t.Errorf("Resolve(%q, %q): want error", bad.raw, bad.api)
		}
	}
}

func TestUserInfoNeverShown(t *testing.T) {
	e, err := Resolve("http://user:hunter2@127.0.0.1:8000", OpenAI, "", "m", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Target(), "hunter2") || strings.Contains(e.Target(), "user") {
		t.Errorf("Target() = %s", e.Target())
	}
	if Secret("http://user:hunter2@h") != "hunter2" || Secret("http://h") != "" {
		t.Error("Secret")
	}
	if _, err := Resolve("http://user:hunter2@h:99999", OpenAI, "", "m", ""); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}
