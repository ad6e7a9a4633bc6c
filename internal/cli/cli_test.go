package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"aoaibench": func() {
			os.Exit(Main(os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
				Notify: func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) },
				Stop:   func(c chan<- os.Signal) { signal.Stop(c) },
			}))
		},
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Cmds: map[string]func(*testscript.TestScript, bool, []string){
		"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
			d, err := time.ParseDuration(args[0])
			ts.Check(err)
			time.Sleep(d)
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

func TestBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"load", "--rate", "0"}, "--rate must be a positive"},
		{[]string{"load", "--rate=-1"}, "--rate must be a positive"},
		{[]string{"load", "--rate", "-1"}, "--rate"},
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
		{[]string{"load", "-e", "dep", "https://res.openai.azure.com"}, "--api-key-env: environment variable OPENAI_API_KEY is empty"},
		{[]string{"load", "-k", "MY_KEY", "-e", "dep", "https://res.openai.azure.com"}, "environment variable MY_KEY is empty"},
		{[]string{"load", "https://res.openai.azure.com"}, "--deployment is required"},
		{[]string{"load", "--api", "bogus", "http://127.0.0.1:9"}, "--api"},
		{[]string{"load", "--tokenizer", "p50k_base"}, "--tokenizer"},
		{[]string{"load", "--request-timeout", "0"}, "--request-timeout"},
		{[]string{"load", "--sim", "tpm=lots"}, "--sim"},
		{[]string{"load", "--sim", "nonsense"}, "not key=value"},
		{[]string{"load", "--sim", "jitter=2"}, "jitter"},
		{[]string{"load", "--sim-config", "/nonexistent.yaml"}, "--sim-config"},
		{[]string{"tokenize", "-m", "llama-3", "hi"}, "--model"},
		{[]string{"tokenize", "hi"}, "--model"},
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
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}`))
	}))
	defer srv.Close()
	env := map[string]string{"OPENAI_API_KEY": "sk-very-secret-value"}
	code, out, errOut := runCLI(t, env, "load", "--api", "azure", "-e", "dep", "-r", "6000", "-d", "5", srv.URL)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 1 || hits != 1 || !strings.Contains(lines[len(lines)-1], "401 Unauthorized") || strings.Contains(errOut, "Summary") {
		t.Fatalf("exit %d after %d requests: %q", code, hits, errOut)
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
