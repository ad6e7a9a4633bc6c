package plan

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestValidateNamesTheFlag: every value Validate refuses is refused with
// one line that names its flag, as a *Error (exit 2 on the command line).
func TestValidateNamesTheFlag(t *testing.T) {
	t.Parallel()
	nan, big := math.NaN(), 3.0
	cases := []struct {
		name   string
		change func(p *Plan)
		window int
		want   string
	}{
		{"clients", func(p *Plan) { p.Load.Clients = -1 }, 0, "--clients must be at least 1"},
		{"clients max", func(p *Plan) { p.Load.Clients = 2_000_000 }, 0, "--clients must be at most"},
		{"requests", func(p *Plan) { p.Load.Requests = -3 }, 0, "--requests must not be negative"},
		{"rate NaN", func(p *Plan) { p.Load.Rate = &nan }, 0, "--rate must be a positive number"},
		{"rate zero", func(p *Plan) { p.Load.Rate = rate(0) }, 0, "--rate must be a positive number"},
		{"rate huge", func(p *Plan) { p.Load.Rate = rate(1e12) }, 0, "--rate must be a positive number"},
		{"rate and stages", func(p *Plan) { p.Load.Rate = rate(1); p.Load.Stages = []Stage{{Duration(time.Second), 1}} }, 0, "give one"},
		{"start rate", func(p *Plan) { p.Load.StartRate = -1 }, 0, "--start-rate"},
		{"warmup", func(p *Plan) { p.Load.Duration = Duration(time.Minute); p.Load.Warmup = Duration(time.Minute) }, 0, "--warmup"},
		{"arrival", func(p *Plan) { p.Load.Arrival = "burst" }, 0, "--arrival must be"},
		{"start at", func(p *Plan) { p.Load.StartAt = "tomorrow" }, 0, "--start-at"},
		{"duration tiny", func(p *Plan) { p.Load.Duration = Duration(time.Microsecond) }, 0, "--duration"},
		{"request timeout", func(p *Plan) { p.Load.RequestTimeout = Duration(time.Microsecond) }, 0, "--request-timeout"},
		{"drain timeout", func(p *Plan) { p.Load.DrainTimeout = -1 }, 0, "--drain-timeout"},
		{"retry", func(p *Plan) { p.Load.Retry = "always" }, 0, "--retry must be"},
		{"shard", func(p *Plan) { p.Load.Shard = &Shard{Index: 2, Count: 2} }, 0, "--shard 2/2"},
		{"shard turns", func(p *Plan) { p.Load.Shard = &Shard{0, 2}; p.Workload.Turns = 3 }, 0, "--shard: conversations"},
		{"connections", func(p *Plan) { p.Target.Connections = 4 }, 0, "--connections spreads"},
		{"http2 http", func(p *Plan) { p.Target.HTTP2 = true; p.Target.URL = "http://x" }, 0, "--http2 needs"},
		{"auth", func(p *Plan) { p.Target.Auth = "basic" }, 0, "--auth must be"},
		{"spillover", func(p *Plan) { p.Target.Spillover = "a\nb" }, 0, "--spillover-deployment"},
		{"no target", func(p *Plan) { p.Target.Sim = nil }, 0, "no endpoint URL"},
		{"window", func(p *Plan) { p.Output.Window = -1 }, 0, "--aggregation-window"},
		{"format", func(p *Plan) { p.Output.Format = "yaml" }, 0, "--output-format"},
		{"linger", func(p *Plan) { p.Output.MetricsLinger = Duration(2 * time.Hour) }, 0, "--metrics-linger"},
		{"server metrics", func(p *Plan) { p.Output.ServerMetrics = []string{"ftp://u:pw@x/m"} }, 0, "--server-metrics number 1"},
		{"context", func(p *Plan) { p.Workload.ContextTokens = 2 }, 0, "--context-tokens must be at least"},
		{"max tokens", func(p *Plan) { p.Workload.MaxTokens = -1 }, 0, "--max-tokens"},
		{"completions", func(p *Plan) { p.Workload.Completions = 129 }, 0, "--completions"},
		{"endpoint", func(p *Plan) { p.Workload.Endpoint = "images" }, 0, "--endpoint-type must be"},
		{"embedding batch", func(p *Plan) { p.Workload.EmbeddingBatch = 4 }, 0, "--embedding-batch needs"},
		{"prefixes", func(p *Plan) { p.Workload.Prefixes = 3 }, 0, "--prefixes 3 needs --prefix-tokens"},
		{"turns", func(p *Plan) { p.Workload.Turns = 10_001 }, 0, "--turns"},
		{"think time", func(p *Plan) { p.Workload.ThinkTime = "2s" }, 0, "--think-time"},
		{"temperature NaN", func(p *Plan) { p.Workload.Temperature = &nan }, 0, "--temperature"},
		{"top-p", func(p *Plan) { p.Workload.TopP = &big }, 0, "--top-p"},
		{"slo no stream", func(p *Plan) { p.Workload.NoStream = true; p.SLO.TTFT = Duration(time.Second) }, 0, "--slo"},
		{"dataset empty", func(p *Plan) { p.Workload.Dataset = &Dataset{Path: " "} }, 0, "--dataset: no file"},
		{"dataset format", func(p *Plan) { p.Workload.Dataset = &Dataset{Path: "d", Format: "xml"} }, 0, "--dataset-format"},
		{"trace speed", func(p *Plan) { p.Load.Trace = &Trace{Path: "t", Speed: math.Inf(1), Block: 1} }, 0, "--trace-speed"},
		{"trace block", func(p *Plan) { p.Load.Trace = &Trace{Path: "t", Speed: 1, Block: 0} }, 0, "--trace-block"},
		{"trace and rate", func(p *Plan) { p.Load.Trace = &Trace{Path: "t", Speed: 1, Block: 1}; p.Load.Rate = rate(1) }, 0, "--trace is the schedule"},
		{"header", func(p *Plan) { p.Target.Headers = []string{"no colon"} }, 0, "--header number 1"},
		{"header host", func(p *Plan) { p.Target.Headers = []string{"Host: x"} }, 0, "--header Host"},
		{"stages", func(p *Plan) { p.Load.Stages = []Stage{{0, 5}} }, 0, "--stages: stage 1"},
		{"window of the model", func(p *Plan) { p.Workload.ContextTokens = 8000 }, 8192, "over the model's context window of 8192"},
		{"no window", func(p *Plan) { p.Workload.ContextTokens = MaxPrompt }, 0, "more than any model takes"},
	}
	for _, c := range cases {
		p := barePlan()
		p.Normalize()
		c.change(p)
		err := p.Validate(c.window)
		var pe *Error
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.name)
		case !errors.As(err, &pe):
			t.Errorf("%s: %v is not a plan error (exit 2)", c.name, err)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: got %q, want it to say %q", c.name, err, c.want)
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: more than one line: %q", c.name, err)
		}
	}
}

// TestValidateKeepsSecrets: a refused header or metrics URL is not
// quoted back (it may be a secret).
func TestValidateKeepsSecrets(t *testing.T) {
	t.Parallel()
	for _, change := range []func(p *Plan){
		func(p *Plan) { p.Target.Headers = []string{"X-Key sk-secret"} },
		func(p *Plan) { p.Target.Headers = []string{"X-Key: sk-secret\x00"} },
		func(p *Plan) { p.Output.ServerMetrics = []string{"ftp://u:sk-secret@x/m"} },
	} {
		p := barePlan()
		p.Normalize()
		change(p)
		if err := p.Validate(0); err == nil || strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("got %v: want an error without the secret", err)
		}
	}
}
