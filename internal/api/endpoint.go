// Package api knows the wire dialects aoaibench speaks: the URLs of Azure
// OpenAI and OpenAI-compatible endpoints, and what a streamed event says
// (which of it is output, of which choice, and the usage).
package api

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/plan"
)

// API is a request dialect.
type API string

// The dialects aoaibench speaks.
const (
	Azure   API = "azure"    // /openai/deployments/{name}/chat/completions?api-version=
	AzureV1 API = "azure-v1" // /openai/v1/chat/completions, deployment in "model"
	OpenAI  API = "openai"   // /v1/chat/completions, Authorization: Bearer
)

// suffix is an endpoint type's path after the API's base (the type is
// the plan's: plan.Endpoint, AIPerf's --endpoint-type).
func suffix(t plan.Endpoint) string {
	switch t {
	case plan.Responses:
		return "/responses"
	case plan.Completions:
		return "/completions"
	case plan.Embeddings:
		return "/embeddings"
	}
	return "/chat/completions"
}

// ResponsesVersion is the Azure API version the Responses API needs at
// least, used when a classic Azure endpoint is given an older one.
const ResponsesVersion = "2025-04-01-preview"

// Endpoint is where and how to send requests.
type Endpoint struct {
	API        API
	Type       plan.Endpoint
	URL        string // the full URL requests go to
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
	if p, ok := u.User.Password(); ok {
		return p
	}
	// KEY@host: a user name alone is how some put a key in a URL; a
	// short one is a name (redacting "user" everywhere would mangle the
	// text and protect nothing).
	if name := u.User.Username(); len(name) >= minKey {
		return name
	}
	return ""
}

// minKey is the shortest user name given alone that is taken for a key.
const minKey = 12

// Secrets returns what a URL's user info gives away, for the redactor:
// its password (or a user name given alone, KEY@host), and the basic
// credential Go's client builds from it and sends (base64 of
// "user:password"), which decodes to it and which a server may echo
// without the "Basic" the redactor knows it by. None when the URL has no
// user info.
func Secrets(raw string) []string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return nil
	}
	s := Secret(raw)
	if s == "" {
		return nil
	}
	p, _ := u.User.Password()
	return []string{s, base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + p))}
}

// Resolve builds the endpoint of type typ ("" is chat) for a base URL.
// api may be empty to choose from the URL: Azure's hosts (and API
// Management's, which front Azure OpenAI with its paths) and paths ending
// in /openai/v1 are Azure, anything else is OpenAI-compatible.
func Resolve(raw string, api API, typ plan.Endpoint, deployment, model, apiVersion string) (Endpoint, error) {
	if typ == "" {
		typ = plan.Chat
	}
	switch typ {
	case plan.Chat, plan.Responses, plan.Completions, plan.Embeddings:
	default:
		return Endpoint{}, fmt.Errorf("unknown --endpoint-type %q (want chat, responses, completions or embeddings)", typ)
	}
	u, err := baseURL(raw)
	if err != nil {
		return Endpoint{}, err
	}
	host := strings.ToLower(u.Hostname())
	path := strings.TrimRight(u.Path, "/")
	if api == "" {
		api = apiOf(host, path)
	}
	e := Endpoint{API: api, Type: typ, Deployment: deployment, Loopback: isLoopback(host)}
	switch api {
	case Azure:
		err = e.azure(u, path, apiVersion)
	case AzureV1:
		err = e.azureV1(u, path, model)
	case OpenAI:
		err = e.openAI(u, path, model)
	default:
		err = fmt.Errorf("unknown --api %q (want azure, azure-v1 or openai)", api)
	}
	if err != nil {
		return Endpoint{}, err
	}
	e.URL = u.String()
	return e, nil
}

// baseURL reads a base URL: http(s), a host, a port if any in range, no
// query or fragment.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.ContainsAny(strings.TrimSpace(raw), " \t\r\n") {
		return nil, fmt.Errorf("malformed endpoint URL %q: want http(s)://host[:port][/path]", redactURL(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("malformed endpoint URL %q: give the base URL without query or fragment", redactURL(raw))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("malformed endpoint URL %q: port %s is not between 1 and 65535", redactURL(raw), p)
		}
	}
	return u, nil
}

// apiOf is the API a URL's host and path (its trailing slashes cut) say.
func apiOf(host, path string) API {
	switch {
	case strings.HasSuffix(path, "/openai/v1"):
		return AzureV1
	case strings.HasSuffix(host, ".openai.azure.com"), strings.HasSuffix(host, ".cognitiveservices.azure.com"),
		strings.HasSuffix(host, ".services.ai.azure.com"), strings.HasSuffix(host, ".azure-api.net"):
		return Azure
	}
	return OpenAI
}

// azure sets u to classic Azure's URL of e's deployment and type.
func (e *Endpoint) azure(u *url.URL, path, apiVersion string) error {
	if e.Deployment == "" {
		return fmt.Errorf("--deployment is required for an Azure endpoint")
	}
	if apiVersion == "" {
		return fmt.Errorf("--api-version must not be empty for an Azure endpoint")
	}
	path = strings.TrimSuffix(path, "/openai")
	if e.Type == plan.Responses {
		// The Responses API is not under a deployment: the
		// deployment is the body's model.
		u.Path, u.RawPath = path+"/openai/responses", ""
		e.Model = e.Deployment
		if apiVersion < "2025-03-01" {
			apiVersion = ResponsesVersion
		}
	} else {
		// The name is one path segment: a / or # in it is escaped
		// once (RawPath), not again by String.
		base := (&url.URL{Path: path}).EscapedPath()
		u.Path = path + "/openai/deployments/" + e.Deployment + suffix(e.Type)
		u.RawPath = base + "/openai/deployments/" + url.PathEscape(e.Deployment) + suffix(e.Type)
	}
	u.RawQuery = url.Values{"api-version": {apiVersion}}.Encode()
	return nil
}

// azureV1 sets u to Azure's v1 URL of e's type; the model is the
// deployment (or model).
func (e *Endpoint) azureV1(u *url.URL, path, model string) error {
	e.Model = cmp.Or(e.Deployment, model)
	if e.Model == "" {
		return fmt.Errorf("--deployment (or --model) is required for an Azure v1 endpoint")
	}
	if !strings.HasSuffix(path, "/openai/v1") {
		path += "/openai/v1"
	}
	u.Path = path + suffix(e.Type)
	return nil
}

// openAI sets u to an OpenAI-compatible URL of e's type. A URL given
// whole, up to an API's path, keeps its base as it is (Gemini's
// /v1beta/openai, Perplexity's none); a base URL gets /v1 unless it ends
// in it.
func (e *Endpoint) openAI(u *url.URL, path, model string) error {
	e.Model = cmp.Or(model, e.Deployment)
	if e.Model == "" {
		return fmt.Errorf("--model is required for an OpenAI-compatible endpoint")
	}
	given := false
	for _, t := range []plan.Endpoint{plan.Chat, plan.Responses, plan.Completions, plan.Embeddings} {
		if strings.HasSuffix(path, suffix(t)) {
			path, given = strings.TrimSuffix(path, suffix(t)), true
			break
		}
	}
	if !given && !strings.HasSuffix(path, "/v1") {
		path += "/v1"
	}
	u.Path = path + suffix(e.Type)
	return nil
}

// WithoutPassword returns a URL with the password of its user info
// removed (or a user name given alone, which may be a key), for files
// that must not hold secrets.
func WithoutPassword(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		if len(u.User.Username()) < minKey {
			return raw
		}
		// KEY@host: the user name alone is the secret.
		u.User = nil
		return u.String()
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

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
