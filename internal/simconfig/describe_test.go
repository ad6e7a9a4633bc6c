package simconfig

import (
	"testing"
	"time"
)

// TestDescribe: the line that says what a simulated deployment is gives
// its latencies in milliseconds, as reports do.
func TestDescribe(t *testing.T) {
	t.Parallel()
	d := DefaultDeployment()
	want := "gpt-4o-mini (model gpt-4o-mini, standard, 200000 TPM, TTFT 150 ms + 0.02 ms a prompt token, 10 ms an output token)"
	if got := d.Describe(); got != want {
		t.Errorf("default deployment:\n got %s\nwant %s", got, want)
	}
	p := Deployment{Name: "p", Model: "gpt-4o", Type: "provisioned", PTU: 50, DeploymentType: "global",
		TTFT: Duration(time.Second / 3), ITL: Duration(time.Second / 33)}
	want = "p (model gpt-4o, Global provisioned, 50 PTU, TTFT 333.333333 ms + 0 ms a prompt token, 30.30303 ms an output token)"
	if got := p.Describe(); got != want {
		t.Errorf("provisioned deployment:\n got %s\nwant %s", got, want)
	}
}
