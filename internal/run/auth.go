package run

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/aoaibench/aoaibench/internal/auth"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// authMode is the plan's --auth, or the one it implies: key when the
// key's variable is set; else Microsoft Entra ID for an Azure host; else
// none for a loopback server or a gateway given a --header; else key
// (whose empty variable is then an error before anything is sent).
func authMode(mode plan.Auth, key, rawURL string, loopback, headers bool) plan.Auth {
	if mode != "" {
		return mode
	}
	if key != "" {
		return plan.AuthKey
	}
	if u, err := url.Parse(rawURL); err == nil {
		host := strings.ToLower(u.Hostname())
		for _, suffix := range []string{".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com",
			".openai.azure.us", ".cognitiveservices.azure.us", ".openai.azure.cn", ".cognitiveservices.azure.cn"} {
			if strings.HasSuffix(host, suffix) {
				return plan.AuthEntra
			}
		}
	}
	if loopback || headers {
		return plan.AuthNone
	}
	return plan.AuthKey
}

// credentials sets up how the run proves who it is: the API key's
// header, the --header values, and a Microsoft Entra ID token kept fresh
// in the background (last: getting one may take seconds, and a bad
// --header should fail first). Every secret goes to the redactor.
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
	mode := plan.AuthNone
	if r.sim == nil {
		mode = authMode(t.Auth, key, t.URL, r.ep.Loopback, len(t.Headers) > 0)
	}
	r.auth = mode
	for _, h := range t.Headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = http.CanonicalHeaderKey(strings.TrimSpace(name)), strings.TrimSpace(value)
		if v, ok := strings.CutPrefix(value, "env:"); ok {
			value = r.opts.Getenv(v)
			if value == "" {
				return nil, plan.Errorf("--header %s: environment variable %s is empty or not set", name, v)
			}
			if !httpguts.ValidHeaderFieldValue(value) {
				return nil, plan.Errorf("--header %s: environment variable %s holds characters a header cannot carry", name, v)
			}
		}
		r.redact.Add(value)
		header.Set(name, value)
	}
	if t.Spillover != "" {
		header.Set("X-Ms-Spillover-Deployment", t.Spillover)
	}
	switch mode {
	case plan.AuthKey:
		if key == "" && (t.Auth == plan.AuthKey || !r.ep.Loopback) {
			return nil, plan.Errorf("--api-key-env: environment variable %s is empty or not set (a key is needed for %s; --auth none sends none)", t.KeyEnv, r.ep.Target())
		}
		r.redact.Add(key)
		for k, v := range auth.KeyHeader(r.ep.API, key) {
			header[k] = v
		}
	case plan.AuthEntra:
		newEntra := r.opts.Entra
		if newEntra == nil {
			newEntra = auth.NewDefaultEntra
		}
		host := ""
		if u, err := url.Parse(t.URL); err == nil {
			host = u.Hostname()
		}
		e, err := newEntra(context.Background(), auth.ScopeFor(host), r.redact, r.opts.Log)
		if err != nil {
			// The SDK's chain of tries runs to a thousand characters:
			// one line says what to do, --verbose shows the chain.
			detail := r.redact.Redact(err.Error())
			if t.Auth == "" {
				return nil, &plan.Error{Msg: fmt.Sprintf("no credential for %s: set $%s, or sign in to Microsoft Entra ID (az login, a managed identity); --verbose says more",
					host, t.KeyEnv), Detail: detail}
			}
			return nil, &plan.Error{Msg: "--auth entra: getting a Microsoft Entra ID token failed: sign in (az login, a managed or workload identity, AZURE_CLIENT_ID/SECRET/TENANT_ID); --verbose shows the Azure SDK's tries", Detail: detail}
		}
		r.entra = e
		return e.Header, nil
	}
	return nil, nil
}
