// Package api knows the wire dialects aoaibench speaks: the URLs of Azure
// OpenAI and OpenAI-compatible endpoints, and what a streamed event says
// (which of it is output, of which choice, and the usage).
package api

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// API is a request dialect.
type API string

// The dialects aoaibench speaks.
const (
	Azure   API = "azure"    // /openai/deployments/{name}/chat/completions?api-version=
	AzureV1 API = "azure-v1" // /openai/v1/chat/completions, deployment in "model"
	OpenAI  API = "openai"   // /v1/chat/completions, Authorization: Bearer
)

// Endpoint is where and how to send requests.
type Endpoint struct {
	API        API
	URL        string // the full chat-completions URL
	Deployment string // Azure deployment name
	Model      string // sent in the body; empty for classic Azure
	Loopback   bool   // the host is this machine
}

// Target names what is being tested, for logs and run.json: the URL
// without its query and without any user name or password.
func (e Endpoint) Target() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// Secret returns the password of a URL with user info (Go sends it as
// basic auth), for the redactor; "" when there is none.
func Secret(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// Resolve builds the endpoint for a base URL. api may be empty to choose
// from the URL: Azure's hosts and paths ending in /openai/v1 are Azure,
// anything else is OpenAI-compatible.
func Resolve(raw string, api API, deployment, model, apiVersion string) (Endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.ContainsAny(strings.TrimSpace(raw), " \t\r\n") {
		return Endpoint{}, fmt.Errorf("malformed endpoint URL %q: want http(s)://host[:port][/path]", redactURL(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Endpoint{}, fmt.Errorf("malformed endpoint URL %q: give the base URL without query or fragment", redactURL(raw))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Endpoint{}, fmt.Errorf("malformed endpoint URL %q: port %s is not between 1 and 65535", redactURL(raw), p)
		}
	}
	host := strings.ToLower(u.Hostname())
	path := strings.TrimRight(u.Path, "/")
	if api == "" {
		switch {
		case strings.HasSuffix(path, "/openai/v1"):
			api = AzureV1
		case strings.HasSuffix(host, ".openai.azure.com"), strings.HasSuffix(host, ".cognitiveservices.azure.com"),
			strings.HasSuffix(host, ".services.ai.azure.com"):
			api = Azure
		default:
			api = OpenAI
		}
	}
	e := Endpoint{API: api, Deployment: deployment, Loopback: isLoopback(host)}
	switch api {
	case Azure:
		if deployment == "" {
			return Endpoint{}, fmt.Errorf("--deployment is required for an Azure endpoint")
		}
		if apiVersion == "" {
			return Endpoint{}, fmt.Errorf("--api-version must not be empty for an Azure endpoint")
		}
		path = strings.TrimSuffix(path, "/openai")
		u.Path = path + "/openai/deployments/" + url.PathEscape(deployment) + "/chat/completions"
		u.RawPath = ""
		u.RawQuery = url.Values{"api-version": {apiVersion}}.Encode()
	case AzureV1:
		e.Model = firstNonEmpty(deployment, model)
		if e.Model == "" {
			return Endpoint{}, fmt.Errorf("--deployment (or --model) is required for an Azure v1 endpoint")
		}
		if !strings.HasSuffix(path, "/openai/v1") {
			path += "/openai/v1"
		}
		u.Path = path + "/chat/completions"
	case OpenAI:
		e.Model = firstNonEmpty(model, deployment)
		if e.Model == "" {
			return Endpoint{}, fmt.Errorf("--model is required for an OpenAI-compatible endpoint")
		}
		switch {
		case strings.HasSuffix(path, "/chat/completions"):
		case strings.HasSuffix(path, "/v1"):
			path += "/chat/completions"
		default:
			path += "/v1/chat/completions"
		}
		u.Path = path
	default:
		return Endpoint{}, fmt.Errorf("unknown --api %q (want azure, azure-v1 or openai)", api)
	}
	e.URL = u.String()
	return e, nil
}

// WithoutPassword returns a URL with the password of its user info
// removed, for files that must not hold secrets.
func WithoutPassword(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// redactURL hides the password of a URL for an error message.
func redactURL(raw string) string {
	if p := Secret(raw); p != "" {
		return strings.ReplaceAll(raw, p, "xxxxx")
	}
	return raw
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
