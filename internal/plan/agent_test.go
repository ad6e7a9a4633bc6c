package plan

import (
	"strings"
	"testing"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// simPlan is a plan of the built-in simulator's model, with w's agent
// fields.
func simPlan(model string, edit func(w *Workload, p *Plan)) *Plan {
	p := &Plan{Target: Target{Sim: []simconfig.Deployment{{Name: model, Model: model}}}, Load: Load{Requests: 1}}
	edit(&p.Workload, p)
	p.Normalize()
	return p
}

// TestAgentDefaults: images get a size and a detail, tools a choice, a
// conversation with tools a tool result's length; nothing else changes.
func TestAgentDefaults(t *testing.T) {
	p := simPlan("gpt-4o", func(w *Workload, _ *Plan) { w.Images, w.Tools, w.Turns = 2, 3, 3 })
	w := p.Workload
	if w.ImageSize != DefaultImageSize || w.ImageDetail != DefaultImageDetail || w.ToolChoice != "auto" || w.ToolResultTokens != DefaultToolResultTokens {
		t.Errorf("normalized: %+v", w)
	}
	if err := p.Validate(0); err != nil {
		t.Errorf("Validate: %v", err)
	}
	plain := simPlan("gpt-4o", func(w *Workload, _ *Plan) { w.Turns = 3 })
	if w := plain.Workload; w.ImageSize != "" || w.ImageDetail != "" || w.ToolChoice != "" || w.ToolResultTokens != 0 || w.Agent() {
		t.Errorf("a plain plan gained agent fields: %+v", w)
	}
}

// TestAgentBadInput: every bad agent or vision value is one error naming
// its flag.
func TestAgentBadInput(t *testing.T) {
	cases := []struct {
		model string
		edit  func(w *Workload, p *Plan)
		want  string
	}{
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Tools = 129 }, "--tools must be from 0 to 128"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Tools = -1 }, "--tools"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.ToolChoice = "required" }, "--tool-choice required needs --tools"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Tools, w.ToolChoice = 2, "sometimes" }, "--tool-choice must be auto, required or none"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.ToolResultTokens = 50 }, "--tool-result-tokens is the tool result"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Turns, w.ToolResultTokens = 2, -5 }, "--tool-result-tokens must be"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.ResponseFormat = "yaml" }, `--response-format must be json or schema:FILE, got "yaml"`},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.ResponseFormat = "schema:" }, "--response-format must be"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Images = 11 }, "--images must be from 0 to 10"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Images, w.ImageSize = 1, "0x0" }, "--image-size: each side must be from 1 to 8192"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Images, w.ImageSize = 1, "1024" }, "--image-size: want WIDTHxHEIGHT"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Images, w.ImageSize = 1, "9000x10" }, "--image-size: each side"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.ImageSize = "512x512" }, "--image-size 512x512 needs --images"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.ImageDetail = "low" }, "--image-detail low needs --images"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Images, w.ImageDetail = 1, "ultra" }, "--image-detail must be low, high or auto"},
		{"gpt-35-turbo", func(w *Workload, _ *Plan) { w.Images = 1 }, "--images: model gpt-35-turbo takes no image input"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Endpoint, w.Tools = Embeddings, 2 }, "--tools needs the chat or responses API: --endpoint-type embeddings"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Endpoint, w.Images = Completions, 2 }, "--images needs the chat or responses API: --endpoint-type completions"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Endpoint, w.ResponseFormat = Completions, "json" }, "--response-format needs the chat or responses API"},
		{"gpt-4o", func(w *Workload, p *Plan) { w.Tools, p.Load.Trace = 1, &Trace{Path: "t.jsonl"} }, "--trace gives each request's prompt length: --tools does not apply"},
		{"gpt-4o", func(w *Workload, _ *Plan) { w.Images, w.Dataset = 1, &Dataset{Path: "d.jsonl"} }, "a dataset's rows carry their own image parts"},
	}
	for _, c := range cases {
		p := simPlan(c.model, c.edit)
		err := p.Validate(0)
		var pe *Error
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with %q", c.want, err, c.want)
		} else if _, ok := err.(*Error); !ok {
			t.Errorf("%s: %T is not a *plan.Error (%v)", c.want, err, pe)
		}
	}
}

// TestAgentUnknownModel: images to a model aoaibench does not know are
// sent (the run counts them by the gpt-4o rule), not refused.
func TestAgentUnknownModel(t *testing.T) {
	p := &Plan{Target: Target{URL: "http://127.0.0.1:1", Deployment: "my-vision-deployment"}, Load: Load{Requests: 1}}
	p.Workload.Images = 2
	p.Normalize()
	if err := p.Validate(0); err != nil {
		t.Errorf("an unknown model's images: %v", err)
	}
	if got := p.ModelName(); got != "my-vision-deployment" {
		t.Errorf("ModelName = %q", got)
	}
	p.Target.Model = "gpt-4o"
	if got := p.ModelName(); got != "gpt-4o" {
		t.Errorf("ModelName with --model = %q", got)
	}
}

// TestParseImageSize reads sides and refuses the rest.
func TestParseImageSize(t *testing.T) {
	if w, h, err := ParseImageSize(" 2048X512 "); err != nil || w != 2048 || h != 512 {
		t.Errorf("2048X512: %d %d %v", w, h, err)
	}
	for _, s := range []string{"", "x", "0x10", "10x0", "-1x5", "8193x1", "axb", "10x10x10"} {
		if _, _, err := ParseImageSize(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}
