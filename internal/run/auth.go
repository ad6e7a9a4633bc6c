package run

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// authMode is the plan's --auth, or the one it implies: key when the
// key's variable is set, else Microsoft Entra ID for an Azure host, else
// none (a loopback server, a gateway that takes a --header).
func authMode(mode, key, rawURL string) string {
	if mode != "" {
		return mode
	}
	if key != "" {
		return "key"
	}
	u, err := url.Parse(rawURL)
	if err == nil {
		host := strings.ToLower(u.Hostname())
		for _, suffix := range []string{".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"} {
			if strings.HasSuffix(host, suffix) {
				return "entra"
			}
		}
	}
	return "none"
}

// credentials sets up how the run proves who it is: the API key's
// header, a Microsoft Entra ID token kept fresh in the background, and
// the --header values. Every secret goes to the redactor.
func (r *Run) credentials(header http.Header) (func() string, error) {
	t := &r.plan.Target
	if r.sim != nil {
		if t.Auth != "" && t.Auth != "none" {
			return nil, plan.Errorf("--auth %s needs an endpoint URL: the built-in simulator takes none", t.Auth)
		}
	}
	key := ""
	if t.KeyEnv != "" && r.sim == nil {
		key = r.opts.Getenv(t.KeyEnv)
	}
	var bearer func() string
	mode := "none"
	if r.sim == nil {
		mode = authMode(t.Auth, key, t.URL)
	}
	r.auth = mode
	switch mode {
	case "key":
		if key == "" && (t.Auth == "key" || !r.ep.Loopback) {
			return nil, plan.Errorf("--api-key-env: environment variable %s is empty or not set (a key is needed for %s)", t.KeyEnv, r.ep.Target())
		}
		r.redact.Add(key)
		for k, v := range auth.KeyHeader(r.ep.API, key) {
			header[k] = v
		}
	case "entra":
		newEntra := r.opts.Entra
		if newEntra == nil {
			newEntra = auth.NewDefaultEntra
		}
		e, err := newEntra(context.Background(), r.redact, r.opts.Log)
		if err != nil {
			why := ""
			if t.Auth == "" {
				why = fmt.Sprintf(" (chosen because $%s is empty and %s is an Azure host; set the key, or sign in: az login, a managed or workload identity, AZURE_CLIENT_ID/SECRET/TENANT_ID)", t.KeyEnv, r.ep.Target())
			}
			return nil, plan.Errorf("--auth entra%s: %v", why, err)
		}
		r.entra = e
		bearer = e.Header
	}
	for _, h := range t.Headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = http.CanonicalHeaderKey(strings.TrimSpace(name)), strings.TrimSpace(value)
		if v, ok := strings.CutPrefix(value, "env:"); ok {
			value = r.opts.Getenv(v)
			if value == "" {
				return nil, plan.Errorf("--header %s: environment variable %s is empty or not set", name, v)
			}
		}
		r.redact.Add(value)
		header.Set(name, value)
	}
	if t.Spillover != "" {
		header.Set("X-Ms-Spillover-Deployment", t.Spillover)
	}
	return bearer, nil
}
