package sim

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/ptu"
)

// TestProvisionedUnits: a provisioned deployment counts an output token as
// the model's output ratio (4 for gpt-4o) at admission, from max_tokens,
// and corrects to the tokens generated at completion, at the same ratio.
func TestProvisionedUnits(t *testing.T) {
	// 15 PTUs of gpt-4o's published 2,500: 37,500 units a minute.
	d := simconfig.Deployment{Name: "d", Model: "gpt-4o", Type: "provisioned", PTU: 15, TTFT: simconfig.Duration(time.Millisecond),
		ITL: simconfig.Duration(time.Microsecond), OutputMin: 10}
	run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
		const path = "/openai/deployments/d/chat/completions?api-version=2024-10-21"
		pct := func(s string) float64 { v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64); return v }
		send := func() (util float64, prompt, output int) {
			resp := e.post(path, chat(1000, false))
			body := readAll(resp)
			var v struct {
				Usage struct {
					Prompt     int `json:"prompt_tokens"`
					Completion int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			return pct(resp.Header.Get("azure-openai-deployment-utilization")), v.Usage.Prompt, v.Usage.Completion
		}
		u1, p, out := send()
		// Admission: prompt + 4 x 1,000 max tokens.
		if want := 100 * float64(p+4*1000) / 37_500; math.Abs(u1-want) > 0.1 {
			t.Errorf("first request at %.1f%%, want %.1f%% (output tokens at 4 units each)", u1, want)
		}
		if out >= 1000 {
			t.Fatalf("output %d: output_min did not stop it early", out)
		}
		// The first corrected to its real output (at 4 each), then the
		// second's estimate on top; a few ms of draining are under 0.1%.
		u2, _, _ := send()
		if want := 100 * float64(p+4*out+p+4*1000) / 37_500; math.Abs(u2-want) > 0.15 {
			t.Errorf("second request at %.1f%%, want %.1f%% (the first corrected to %d output tokens at 4 each)", u2, want, out)
		}
	})
}

func TestProvisionedFill(t *testing.T) {
	prov := func(model string, n int, set ...string) error {
		d := simconfig.Deployment{Name: "p", Model: model, Type: "provisioned", PTU: n}
		if err := d.Set(strings.Join(set, ",")); err != nil {
			return err
		}
		return d.Fill()
	}
	for _, c := range []struct {
		model string
		n     int
		set   []string
		want  string // "": fills
	}{
		{"gpt-4o", 15, nil, ""},
		{"gpt-4o", 10, nil, "deployment p: ptu: 10 PTUs cannot be deployed as Global provisioned gpt-4o: it takes at least 15, in steps of 5 (15, 20, 25, ...)"},
		{"gpt-4o", 17, []string{"deployment_type=datazone"}, "deployment p: ptu: 17 PTUs cannot be deployed as Data Zone provisioned gpt-4o"},
		{"gpt-4o", 25, []string{"deployment_type=regional"}, "deployment p: ptu: 25 PTUs cannot be deployed as Regional provisioned gpt-4o: it takes at least 50, in steps of 50"},
		{"gpt-4o", 100, []string{"deployment_type=regional"}, ""},
		{"gpt-4o-mini", 25, []string{"deployment_type=regional"}, ""},
		{"gpt-4o", 15, []string{"deployment_type=zonal"}, `deployment p: deployment_type: deployment type must be global, datazone or regional, got "zonal"`},
		{"gpt-4o", 0, nil, "deployment p: ptu must be positive"},
		{"gpt-4o", 15, []string{"output_ratio=-1"}, "deployment p: output_ratio must be from 0 to 1000"},
		// A model with no published figures needs its own.
		{"gpt-35-turbo", 15, nil, "deployment p: model gpt-35-turbo has no provisioned figures in azure-ptu-models.tsv"},
		{"gpt-35-turbo", 15, []string{"tpm_per_ptu=1000", "output_ratio=3"}, ""},
		{"gpt-35-turbo", 12, []string{"tpm_per_ptu=1000", "output_ratio=3"}, "deployment p: ptu: 12 PTUs cannot be deployed as Global provisioned gpt-35-turbo"},
		{"gpt-35-turbo", 50, []string{"tpm_per_ptu=1000", "output_ratio=3", "deployment_type=regional"}, "deployment p: model gpt-35-turbo has no Regional provisioned figures"},
	} {
		err := prov(c.model, c.n, c.set...)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)) {
			t.Errorf("%s %d %v: %v, want %q", c.model, c.n, c.set, err, c.want)
		}
	}
	// The published figures fill what is not given: gpt-4o's 2,500 TPM a
	// PTU, its ratio 4, and 40 ms a token (its 25 tokens/s target).
	d := simconfig.Deployment{Name: "p", Model: "gpt-4o-2024-08-06", Type: "provisioned", PTU: 50}
	if err := d.Fill(); err != nil || d.TPMPerPTU != 2500 || d.OutputRatio != 4 || d.ITL != simconfig.Duration(40*time.Millisecond) || d.DeploymentType != "global" {
		t.Errorf("%v: %+v", err, d)
	}
	if s := d.Describe(); !strings.Contains(s, "Global provisioned, 50 PTU") || !strings.Contains(s, "40 ms an output token") {
		t.Errorf("describe: %s", s)
	}
	// --sim type=provisioned from the standard default takes the latency
	// target, unless itl is given.
	d = simconfig.DefaultDeployment()
	if err := d.Set("type=provisioned,ptu=15"); err != nil || d.Fill() != nil || d.ITL != simconfig.Duration(time.Second/33) {
		t.Errorf("type=provisioned: ITL %v", time.Duration(d.ITL))
	}
	d = simconfig.DefaultDeployment()
	if err := d.Set("type=provisioned,ptu=15,itl=5ms"); err != nil || d.Fill() != nil || d.ITL != simconfig.Duration(5*time.Millisecond) {
		t.Errorf("type=provisioned,itl=5ms: ITL %v", time.Duration(d.ITL))
	}
	// Provisioned keys on a standard deployment are a mistake.
	d = simconfig.DefaultDeployment()
	if err := d.Set("deployment_type=regional"); err != nil || d.Fill() == nil {
		t.Error("deployment_type on a standard deployment was accepted")
	}
	// A table of newer figures replaces the published one.
	tb, err := ptu.Parse("new.tsv", strings.NewReader("model\tinput_tpm_per_ptu\toutput_ratio\tglobal_min\tglobal_increment\tregional_min\tregional_increment\tlatency_tps\ngpt-4o\t3000\t5\t10\t10\t20\t20\t100\n"))
	if err != nil {
		t.Fatal(err)
	}
	d = simconfig.Deployment{Name: "p", Model: "gpt-4o", Type: "provisioned", PTU: 10}
	if err := d.FillFrom(tb); err != nil || d.TPMPerPTU != 3000 || d.OutputRatio != 5 || d.ITL != simconfig.Duration(10*time.Millisecond) {
		t.Errorf("%v: %+v", err, d)
	}
	if _, err := New(Config{Deployments: []simconfig.Deployment{{Name: "p", Model: "gpt-4o", Type: "provisioned", PTU: 10}}, PTUTable: tb}); err != nil {
		t.Errorf("New with the table: %v", err)
	}
}
