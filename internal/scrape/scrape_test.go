package scrape

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const vllmText = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} %d
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="m"} 0.25
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} %d
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} %d
vllm:time_to_first_token_seconds_sum{model_name="m"} %g
vllm:time_to_first_token_seconds_count{model_name="m"} %d
# TYPE go_goroutines gauge
go_goroutines 12
`

// TestScrape: the server's series are kept (others dropped), histograms
// as buckets, sum and count; the run's means come from the deltas
// between the first and the last scrape, the gauges' peaks from every
// scrape; a server that stops answering is named, not fatal.
func TestScrape(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/plain;version=0.0.4" {
			t.Errorf("Accept %q", r.Header.Get("Accept"))
		}
		k := n.Add(1)
		// 100 requests before the run (0.5 s of TTFT in all), then 10 of
		// 0.2 s each per scrape.
		c := 100 + 10*(k-1)
		fmt.Fprintf(w, vllmText, 3*k, c, c, 0.5+0.2*10*float64(k-1), c)
	}))
	defer srv.Close()
	var out strings.Builder
	sc := New([]string{srv.URL + "/metrics", "http://127.0.0.1:1/metrics"}, 10*time.Millisecond, &out, func(s string) string { return s })
	sc.Start(time.Now())
	for n.Load() < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := sc.Stop(); err != nil {
		t.Fatal(err)
	}
	figs := sc.Figures()
	f := figs[0]
	scrapes := n.Load()
	if math.Abs(f.TTFT-0.2) > 1e-9 || f.Requests != float64(10*(scrapes-1)) || f.Running != float64(3*scrapes) || f.KVCache != 0.25 || !math.IsNaN(f.ITL) {
		t.Errorf("figures %+v after %d scrapes", f, scrapes)
	}
	if figs[1].Err == "" || !math.IsNaN(figs[1].TTFT) {
		t.Errorf("dead target: %+v", figs[1])
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2*int(scrapes)-2 || !strings.Contains(lines[0], `"vllm:time_to_first_token_seconds_bucket{le=\"0.1\",model_name=\"m\"}":100`) || strings.Contains(out.String(), "go_goroutines") {
		t.Errorf("%d lines: %.400s", len(lines), out.String())
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	if _, err := Parse(strings.NewReader("vllm:x{ 1\n")); err == nil {
		t.Error("garbage parsed")
	}
}

// TestModelFilter: a server that serves several models gives the run's
// model's figures when it labels them.
func TestModelFilter(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Model a serves 10 requests of 1 s between scrapes; model b 10 of
		// 0.1 s.
		k := 10 * float64(n.Add(1))
		fmt.Fprintf(w, "# TYPE vllm:time_to_first_token_seconds histogram\n"+
			"vllm:time_to_first_token_seconds_sum{model_name=\"a\"} %g\nvllm:time_to_first_token_seconds_count{model_name=\"a\"} %g\n"+
			"vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"a\"} %g\n"+
			"vllm:time_to_first_token_seconds_sum{model_name=\"b\"} %g\nvllm:time_to_first_token_seconds_count{model_name=\"b\"} %g\n"+
			"vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"b\"} %g\n", k, k, k, k/10, k, k)
	}))
	defer srv.Close()
	for model, want := range map[string]float64{"b": 0.1, "": 0.55, "c": 0.55} {
		sc := New([]string{srv.URL}, time.Hour, nil, func(s string) string { return s })
		sc.Model = model
		sc.Start(time.Now())
		sc.Stop()
		f := sc.Figures()[0]
		if math.Abs(f.TTFT-want) > 1e-9 || (model == "b") != (f.Of == " of b") {
			t.Errorf("model %q: TTFT %v (%q), want %v", model, f.TTFT, f.Of, want)
		}
	}
}

// TestNoRedirectNoEcho: a scrape follows no redirect (the URL's password
// would go along as basic credentials), and a label value echoing a
// secret is redacted before it is written.
func TestNoRedirectNoEcho(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	redir := httptest.NewServer(http.RedirectHandler(other.URL+"/metrics", http.StatusTemporaryRedirect))
	defer redir.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		fmt.Fprintf(w, "vllm:num_requests_running{model_name=\"m\",auth=\"%s\"} 3\n", pass)
	}))
	defer echo.Close()
	const pass = "scrape-password-123"
	u := strings.Replace(echo.URL, "http://", "http://me:"+pass+"@", 1) + "/metrics"
	var out strings.Builder
	s := New([]string{redir.URL + "/metrics", u}, time.Hour, &out, func(s string) string { return strings.ReplaceAll(s, pass, "[REDACTED]") })
	s.Start(time.Now())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	if f := s.Figures(); !strings.Contains(f[0].Err, "307") || f[1].Running != 3 {
		t.Errorf("figures %+v", f)
	}
	if strings.Contains(out.String(), pass) || !strings.Contains(out.String(), "[REDACTED]") {
		t.Errorf("server-metrics.jsonl: %s", out.String())
	}
}
