package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// The scripts and the process tests run aoaibench as the process
	// does, signals included (testscript puts it on the PATH).
	testscript.Main(m, map[string]func(){
		"aoaibench": func() { os.Exit(Main(os.Args[1:], ProcessEnv(""))) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Cmds: map[string]func(*testscript.TestScript, bool, []string){
		"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
			d, err := time.ParseDuration(args[0])
			ts.Check(err)
			time.Sleep(d)
		},
		// waitfor FILE REGEXP waits (up to a minute) until the file
		// holds a match: a background run's progress, read from its
		// files, instead of a sleep a busy machine outlasts.
		"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: waitfor FILE REGEXP")
			}
			re := regexp.MustCompile(args[1])
			for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if b, err := os.ReadFile(ts.MkAbs(args[0])); err == nil && re.Match(b) {
					return
				}
			}
			ts.Fatalf("%s never held %q", args[0], args[1])
		},
		// ran runs a command as exec does, and lets it exit 3 when only
		// a busy machine's late requests made its figures not valid
		// (see worked): for scripts that do not test the schedule.
		"ran": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg {
				ts.Fatalf("unsupported: ! ran")
			}
			err := ts.Exec(args[0], args[1:]...)
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && worked(ee.ExitCode(), ts.ReadFile("stderr"))) {
				ts.Fatalf("%v", err)
			}
		},
	}})
}

// run calls Main in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, Env{
		Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e,
		Getenv: func(k string) string { return env[k] },
	})
	return code, o.String(), e.String()
}

// worked reports whether a run worked: exit 0, or, on a machine too busy
// to send on time, exit 3 because its requests left late (the figures
// are then not valid for the rate, and the run says so). Tests whose
// subject is not the schedule accept both; a busy CI machine must not
// fail them.
func worked(code int, stderr string) bool {
	if code == ExitOK {
		return true
	}
	if code != ExitInvalid {
		return false
	}
	for _, l := range strings.Split(stderr, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(l), "- "); ok && !strings.HasPrefix(r, "schedule lag") && !strings.HasPrefix(r, "sent ") {
			return false // not valid for a reason of its own
		}
	}
	return true
}

func TestBadInput(t *testing.T) {
	// The Azure SDK reads the process environment; keep its chain to the
	// environment credential so no case reaches for a metadata endpoint.
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
	t.Setenv("AZURE_TENANT_ID", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"load", "--rate", "0"}, "--rate must be a positive"},
		{[]string{"load", "--rate=-1"}, "--rate must be a positive"},
		{[]string{"load", "--rate", "abc"}, "--rate"},
		{[]string{"load", "--shape-profile", "huge"}, "--shape-profile"},
		{[]string{"load", "--shape", "custom"}, "custom needs --context-tokens"},
		{[]string{"load", "--shape", "balanced", "-p", "100"}, "need --shape-profile custom"},
		{[]string{"load", "--frequency-penalty", "3"}, "--frequency-penalty must be between -2 and 2"},
		{[]string{"load", "--presence-penalty=-2.5"}, "--presence-penalty must be between -2 and 2"},
		{[]string{"load", "--temperature", "2.1"}, "--temperature must be between 0 and 2"},
		{[]string{"load", "--top-p", "1.5"}, "--top-p must be between 0 and 1"},
		{[]string{"load", "--clients", "0"}, "--clients must be at least 1"},
		{[]string{"load", "--requests=-1"}, "--requests must not be negative"},
		{[]string{"load", "--duration=-5"}, `--duration: "-5" is negative`},
		{[]string{"load", "--aggregation-window", "0"}, "--aggregation-window"},
		{[]string{"load", "-p", "3"}, "--context-tokens must be at least"},
		{[]string{"load", "-m", "0"}, "--max-tokens must be at least 1"},
		{[]string{"load", "--completions", "0"}, "--completions must be between 1 and 128"},
		{[]string{"load", "-f", "xml"}, "--output-format"},
		{[]string{"load", "--retry", "always"}, "--retry"},
		{[]string{"load", "--bogus"}, "unknown flag --bogus"},
		{[]string{"load", "not a url"}, "malformed endpoint URL"},
		{[]string{"load", "ftp://example.com"}, "malformed endpoint URL"},
		{[]string{"load", "--auth", "key", "-e", "dep", "https://res.openai.azure.com"}, "--api-key-env: environment variable OPENAI_API_KEY is empty"},
		{[]string{"load", "--auth", "key", "-k", "MY_KEY", "-e", "dep", "https://res.openai.azure.com"}, "environment variable MY_KEY is empty"},
		// No key and an Azure host: Microsoft Entra ID, which finds no
		// credential here (only the environment's is tried: no network).
		{[]string{"load", "-e", "dep", "https://res.openai.azure.com"}, "no credential for res.openai.azure.com: set $OPENAI_API_KEY, or sign in to Microsoft Entra ID"},
		{[]string{"load", "--auth", "entra", "-e", "dep", "https://res.openai.azure.com"}, "--auth entra: getting a Microsoft Entra ID token"},
		{[]string{"load", "--auth", "token"}, "--auth"},
		{[]string{"load", "--auth", "entra"}, "needs an endpoint URL"},
		{[]string{"load", "--header", "NoColon"}, "--header"},
		{[]string{"load", "--header", "X-Key: env:NOPE", "--model", "m", "http://127.0.0.1:9"}, "--header X-Key: environment variable NOPE is empty"},
		{[]string{"load", "--endpoint-type", "images"}, "--endpoint-type"},
		{[]string{"load", "--embedding-batch=-1"}, "--embedding-batch"},
		{[]string{"load", "https://res.openai.azure.com"}, "--deployment is required"},
		{[]string{"load", "--api", "bogus", "http://127.0.0.1:9"}, "--api"},
		{[]string{"load", "--tokenizer", "p50k_base"}, "--tokenizer"},
		{[]string{"load", "--request-timeout", "0"}, "--request-timeout"},
		{[]string{"load", "--sim", "tpm=lots"}, "--sim"},
		{[]string{"load", "--sim", "nonsense"}, "not key=value"},
		{[]string{"load", "--sim", "jitter=2"}, "jitter"},
		{[]string{"load", "--sim-config", "/nonexistent.yaml"}, "--sim-config"},
		{[]string{"load", "--rate", "-1"}, "--rate must be a positive number"},
		{[]string{"load", "-r", "-2.5"}, "--rate must be a positive number"},
		{[]string{"load", "--temperature", "-0.5"}, "--temperature must be between 0 and 2"},
		{[]string{"load", "-d", "1e-9"}, "--duration 1ns is under a millisecond"},
		{[]string{"load", "--request-timeout", "1e-9"}, "--request-timeout 1ns is under a millisecond"},
		{[]string{"load", "--rpm", "60"}, "unknown flag --rpm: aoaibench's is --rate (-r)"},
		{[]string{"load", "--concurrency", "5"}, "unknown flag --concurrency: aoaibench's is --clients (-c)"},
		{[]string{"load", "--deployment-name", "x"}, "unknown flag --deployment-name: aoaibench's is --deployment (-e)"},
		{[]string{"load", "-duration", "5s"}, "-duration: a long flag takes two dashes: --duration"},
		{[]string{"tokenize", "-m", "llama-3", "hi"}, "--model"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, nil, c.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "aoaibench: error: ") || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 2 and one line with %q", c.args, code, errOut, out, c.want)
		}
	}
}

// TestFirstRequestStopsAtOnce: no probe request; the run's first request
// checks the endpoint, and a 401 stops the run after that one request.
func TestFirstRequestStopsAtOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}`))
	}))
	defer srv.Close()
	env := map[string]string{"OPENAI_API_KEY": "sk-very-secret-value"}
	// The second request is due a second after the first: the 401 comes
	// long before, even on a busy machine. With one client, the second
	// waits for the first's slot, and never leaves after its 401.
	for _, clients := range []string{"20", "1"} {
		hits.Store(0)
		code, out, errOut := runCLI(t, env, "load", "--api", "azure", "-e", "dep", "-r", "60", "-d", "5", "-c", clients, srv.URL)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 1 || hits.Load() != 1 || !strings.Contains(lines[len(lines)-1], "401 Unauthorized") || strings.Contains(errOut, "Summary") {
			t.Fatalf("-c %s: exit %d after %d requests: %q", clients, code, hits.Load(), errOut)
		}
		if strings.Contains(out+errOut, "sk-very-secret-value") {
			t.Fatal("the API key was printed")
		}
	}
	// -c 1 at a rate whose second request is due at once: it waits for
	// the first's slot, and does not leave (nor count as sent) after the
	// 401.
	hits.Store(0)
	dir := t.TempDir()
	code, out, errOut := runCLI(t, env, "load", "--api", "azure", "-e", "dep", "-r", "60000", "-n", "5", "-c", "1", "--output-dir", dir, srv.URL)
	recs, _ := os.ReadFile(dir + "/requests.jsonl")
	if code != 1 || hits.Load() != 1 || strings.Count(string(recs), "\n") != 1 {
		t.Fatalf("-c 1: exit %d after %d requests, records %q: %s", code, hits.Load(), recs, errOut)
	}
	if strings.Contains(out+errOut, "sk-very-secret-value") {
		t.Fatal("the API key was printed")
	}
	code, _, errOut = runCLI(t, nil, "load", "--model", "m", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "did not answer") {
		t.Fatalf("dead endpoint: exit %d %q", code, errOut)
	}
}

func TestKeyNeverWritten(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-very-secret-value" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	env := map[string]string{"OPENAI_API_KEY": "sk-very-secret-value"}
	code, out, errOut := runCLI(t, env, "load", "--model", "gpt-4o", "-n", "3", "--output-dir", dir, "-f", "jsonl", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	all := out + errOut
	for _, f := range []string{"run.json", "requests.jsonl", "summary.json"} {
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
	}
	if strings.Contains(all, "sk-very-secret-value") {
		t.Fatal("the API key was written")
	}
	if !strings.Contains(all, `"client_output_tokens":1`) {
		t.Errorf("records: %s", all)
	}
}

// echoServer streams a good answer to every second request and, to the
// others, an error that echoes every request header (as some gateways
// do), keys included: in a 500's body or in an SSE error event.
func echoServer(t *testing.T) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/msi/token" { // App Service managed identity
			fmt.Fprintf(w, `{"access_token":%q,"expires_on":"%d","resource":"https://cognitiveservices.azure.com","token_type":"Bearer"}`,
				echoedToken, time.Now().Add(time.Hour).Unix())
			return
		}
		var b strings.Builder
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s=%s ", k, strings.Join(v, ","))
		}
		if user, pass, ok := r.BasicAuth(); ok {
			fmt.Fprintf(&b, "basic %s:%s", user, pass)
		}
		// The token alone too, with nothing around it that says "bearer":
		// only the redactor's own list of tokens can catch it.
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			fmt.Fprintf(&b, " token %s;", tok)
		}
		switch n.Add(1) % 3 {
		case 1:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
		case 2:
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"error":{"message":"upstream failed for %s"}}`, b.String())
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"error\":{\"message\":%q}}\n\n", "bad request: "+b.String())
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// echoedToken is the Microsoft Entra ID token echoServer issues.
const echoedToken = "opaque-entra-token-0123456789abcdef"

// TestEchoedSecretsNeverWritten: neither the API key, a URL password, a
// --header value nor a Microsoft Entra ID token reaches stdout, stderr,
// the JSONL log or any results file, even from a server that echoes them
// back.
func TestEchoedSecretsNeverWritten(t *testing.T) {
	const key, pass, hdr = "sk-very-secret-value", "hunter2-url-password", "apim-subscription-secret"
	srv := echoServer(t)
	dir := t.TempDir()
	u := strings.Replace(srv.URL, "http://", "http://user:"+pass+"@", 1)
	// The Azure SDK reads its managed identity from the process.
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-secret")
	env := map[string]string{"OPENAI_API_KEY": key, "APIM_KEY": hdr}
	for _, api := range []string{"openai", "azure", "entra"} {
		args := []string{"load", "--api", api, "-e", "dep", "--model", "gpt-4o", "-n", "9", "-c", "1",
			"--output-dir", dir, "--log-file", dir + "/run.log", "-f", "jsonl",
			"--header", "Ocp-Apim-Subscription-Key: env:APIM_KEY", u}
		if api == "entra" {
			args = append(args, "--auth", "entra")
			args[2] = "azure"
		}
		code, out, errOut := runCLI(t, env, args...)
		if code != 1 { // two thirds fail: the run failed
			t.Fatalf("%s: exit %d: %s", api, code, errOut)
		}
		all := out + errOut
		for _, f := range []string{"run.json", "requests.jsonl", "summary.json", "histograms.json", "run.log"} {
			b, err := os.ReadFile(dir + "/" + f)
			if err != nil {
				t.Fatal(err)
			}
			all += string(b)
		}
		for _, secret := range []string{key, pass, key[:10], hdr, echoedToken, echoedToken[:12]} {
			if strings.Contains(all, secret) {
				t.Fatalf("%s: %q was written", api, secret)
			}
		}
		if api == "entra" && !strings.Contains(all, "Authorization=Bearer [REDACTED]") {
			t.Errorf("entra: no bearer token was sent (or it was not redacted): %s", all)
		}
		if !strings.Contains(all, "Ocp-Apim-Subscription-Key=[REDACTED]") {
			t.Errorf("%s: the --header was not sent (or not redacted): %s", api, all)
		}
		if !strings.Contains(all, "upstream failed for") || !strings.Contains(all, "[REDACTED]") {
			t.Errorf("%s: the echoed errors are not in the records: %s", api, all)
		}
	}
}

// TestParamsFileWinsOverDefaults: the parameters file's key and retry
// policy apply unless the flag was typed (kong marks defaulted flags as
// set too).
func TestParamsFileWinsOverDefaults(t *testing.T) {
	var keys []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Api-Key"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	dir := t.TempDir()
	t.Chdir(dir) // TEST_NAME is a name: its files are made here
	params := dir + "/benchmark.parameters"
	os.WriteFile(params, []byte("OPENAI_API_KEY=from-the-file\nAOAI_ENDPOINT="+srv.URL+"\nAOAI_DEPLOYMENT=dep\nRETRY=exponential\nRATE=600\nDURATION=0.5\nTEST_NAME=t\n"), 0o644)
	code, _, errOut := runCLI(t, map[string]string{"OPENAI_API_KEY": "from-the-env"}, "load", "--api", "azure", "--params", params)
	if !worked(code, errOut) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if len(keys) == 0 || keys[0] != "from-the-file" {
		t.Errorf("keys sent %q, want the file's", keys)
	}
	b, _ := os.ReadFile(dir + "/t/run.json")
	if !strings.Contains(string(b), `"retry": "exponential"`) || strings.Contains(string(b), "from-the-file") {
		t.Errorf("run.json: %s", b)
	}
	// Typed, the flag wins.
	code, _, errOut = runCLI(t, map[string]string{"MYKEY": "typed"}, "load", "--api", "azure", "--params", params, "-k", "MYKEY", "--retry", "none")
	b, _ = os.ReadFile(dir + "/t/run.json")
	if !worked(code, errOut) || keys[len(keys)-1] != "typed" || !strings.Contains(string(b), `"retry": "none"`) {
		t.Errorf("exit %d, key %q, run.json %s", code, keys[len(keys)-1], b)
	}
}

// TestLab: -e names the deployment the lab sends to, and a lab whose
// requests fail prints no reading and exits 1.
func TestLab(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.WriteHeader(500)
		io.WriteString(w, `{"error":{"message":"boom"}}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, map[string]string{"OPENAI_API_KEY": "k"}, "lab", "--endpoint", srv.URL, "-e", "my-gpt35", "--duration", "1s", "--dir", dir)
	if code != 1 || strings.Contains(out, "requests throttled") || !strings.Contains(errOut, "no reading") {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	if len(paths) == 0 || paths[0] != "/openai/deployments/my-gpt35/chat/completions" {
		t.Errorf("paths %q", paths)
	}
}

// TestEchoedHeadersNeverWritten: a server that puts every credential it
// is sent (the key from the environment or from --params, --header values
// from env: and typed in full, the URL's password) into every response
// header aoaibench keeps and into finish_reason gets none of them into
// stdout, stderr, the log, any results file or the report; the
// deployments of summary.json are keyed by redacted names.
func TestEchoedHeadersNeverWritten(t *testing.T) {
	const key, fileKey, envHdr, litHdr, pass = "sk-env-key-0123456789", "sk-file-key-9876543210", "env-header-secret-42", "typed-header-secret-43", "url-password-44"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var all []string
		for _, k := range []string{"Api-Key", "X-Env", "X-Lit"} {
			all = append(all, r.Header.Get(k))
		}
		_, p, _ := r.BasicAuth()
		echo := strings.Join(append(all, p), "/")
		for _, h := range []string{"apim-request-id", "x-ms-region", "x-ms-deployment-name", "x-ms-spillover-from-deployment"} {
			w.Header().Set(h, "dep-"+echo)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%q},\"index\":0}]}\n\n", "hi "+echo)
		fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":%q,\"index\":0}]}\n\ndata: [DONE]\n\n", "stop "+echo)
	}))
	defer srv.Close()
	dir := t.TempDir()
	u := strings.Replace(srv.URL, "http://", "http://me:"+pass+"@", 1)
	params := filepath.Join(dir, "p.parameters")
	os.WriteFile(params, []byte("OPENAI_API_KEY="+fileKey+"\nAOAI_DEPLOYMENT=dep\nRATE=120\nDURATION=2\n"), 0o644)
	env := map[string]string{"OPENAI_API_KEY": key, "HDR": envHdr}
	for i, extra := range [][]string{{"-e", "dep", "-n", "6", "-c", "1"}, {"--params", params}} {
		out := filepath.Join(dir, fmt.Sprint("run", i))
		args := append([]string{"load", "--api", "azure", "--output-dir", out, "--log-file", out + ".log", "-f", "jsonl", "--log-request-content",
			"--header", "X-Env: env:HDR", "--header", "X-Lit: " + litHdr}, extra...)
		code, stdout, stderr := runCLI(t, env, append(args, u)...)
		if !worked(code, stderr) {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		if c, _, e := runCLI(t, nil, "report", out, "-o", out+".html"); c != 0 {
			t.Fatalf("report: %s", e)
		}
		all := stdout + stderr
		for _, f := range []string{"run.json", "requests.jsonl", "summary.json", "histograms.json"} {
			b, _ := os.ReadFile(filepath.Join(out, f))
			all += string(b)
		}
		for _, f := range []string{out + ".log", out + ".html"} {
			b, _ := os.ReadFile(f)
			all += string(b)
		}
		for _, s := range []string{key, fileKey, envHdr, litHdr, pass, key[:9], fileKey[:9], envHdr[:12], litHdr[:12], pass[:10]} {
			if strings.Contains(all, s) {
				t.Errorf("%v: %q was written", extra, s)
			}
		}
		b, _ := os.ReadFile(filepath.Join(out, "requests.jsonl"))
		for _, field := range []string{`"request_id":"dep-[REDACTED]`, `"region":"dep-[REDACTED]`, `"deployment":"dep-[REDACTED]`, `"spilled_from":"dep-[REDACTED]`, `"finish":"stop [REDACTED]`} {
			if !strings.Contains(string(b), field) {
				t.Errorf("%v: no %s in the records: %.400s", extra, field, b)
			}
		}
	}
}

// TestRedirectNotFollowed: a redirect to another host stops the run at
// its first request with one line naming where it pointed; the other
// host hears nothing, neither the key nor a --header.
func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, status := range []int{301, 302, 307, 308} {
		srv := httptest.NewServer(http.RedirectHandler(other.URL+"/openai/deployments/gpt-4o/chat/completions", status))
		env := map[string]string{"OPENAI_API_KEY": "sk-redirected-0123456789", "SEC": "header-secret-value"}
		code, out, errOut := runCLI(t, env, "load", "--api", "azure", "-e", "gpt-4o", "-n", "2", "--header", "X-Secret: env:SEC", srv.URL)
		srv.Close()
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		host := strings.TrimPrefix(other.URL, "http://")
		if code != 1 || !strings.Contains(lines[len(lines)-1], fmt.Sprintf("endpoint answered %d", status)) || !strings.Contains(lines[len(lines)-1], "redirect to http://"+host) {
			t.Errorf("%d: exit %d: %s", status, code, errOut)
		}
		if strings.Contains(out+errOut, "sk-redirected") || strings.Contains(out+errOut, "header-secret") {
			t.Errorf("%d: a secret was printed", status)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

// TestUnsolicitedAnswerNotLogged: a server that follows each answer with
// a second one nobody asked for, echoing the key, makes net/http log the
// unsolicited bytes to the standard logger (the process's stderr); they
// must not reach it.
func TestUnsolicitedAnswerNotLogged(t *testing.T) {
	const key = "sk-unsolicited-0123456789"
	var logged lockedBuffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	var wg sync.WaitGroup
	defer wg.Wait()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			body := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
			answer := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Echo: %s\r\nContent-Length: %d\r\n\r\n%s", r.Header.Get("Api-Key"), len(body), body)
			rw.WriteString(answer + answer)
			rw.Flush()
			io.Copy(io.Discard, rw) // until the client closes the connection
		})
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, map[string]string{"OPENAI_API_KEY": key}, "load", "--api", "azure", "-e", "d", "-n", "1", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if all := out + errOut + logged.String(); strings.Contains(all, key[:12]) {
		t.Errorf("the key was written: %s", all)
	}
}

// lockedBuffer is a buffer the standard logger may write to from any
// goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
