package run

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/aoaibench/aoaibench/internal/plan"
)

// TestEndpointTypes: the Responses API, legacy completions, whole chat
// answers and embeddings against the simulator: exact timings where the
// answer streams, none made up where it does not, and the server's token
// counts.
func TestEndpointTypes(t *testing.T) {
	for _, c := range []struct {
		typ      plan.Endpoint
		noStream bool
		batch    int
	}{{"responses", false, 0}, {"completions", false, 0}, {"chat", true, 0}, {"responses", true, 0}, {"embeddings", false, 4}} {
		name := string(c.typ)
		if c.noStream {
			name += "/no-stream"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := newStack(t, fast())
				defer st.close()
				p := basePlan("d", 100, 30)
				p.Workload.Endpoint, p.Workload.NoStream, p.Workload.EmbeddingBatch = c.typ, c.noStream, c.batch
				p.Load.Rate, p.Load.Requests = rate(600), 5
				out, recs := st.execute(t, p, nil, nil)
				res := out.Results
				ss := st.sim.Stats().Deployments["d"]
				if res.Requests.OK != 5 || ss.Completed != 5 || ss.Invalid != 0 {
					t.Fatalf("ok %d, simulator completed %d, invalid %d: %v", res.Requests.OK, ss.Completed, ss.Invalid, recs.recs[0].Err)
				}
				if res.Tokens.Prompt != ss.PromptTokens || res.Tokens.Output != ss.CompletionTokens {
					t.Errorf("tokens %d + %d, the simulator's %d + %d", res.Tokens.Prompt, res.Tokens.Output, ss.PromptTokens, ss.CompletionTokens)
				}
				streamed := !c.noStream && c.typ != "embeddings"
				for _, r := range recs.recs {
					ttft, hasTTFT := r.TTFT()
					tpot, hasTPOT := r.TPOT()
					e2e, _ := r.E2E()
					switch {
					case streamed && (ttft != 200*time.Millisecond || tpot != 20*time.Millisecond):
						t.Errorf("TTFT %v, TPOT %v; want 200ms, 20ms", ttft, tpot)
					case !streamed && (hasTTFT || hasTPOT):
						t.Errorf("not streamed, yet TTFT %v, TPOT %v", ttft, tpot)
					case c.typ == "embeddings" && (e2e != 200*time.Millisecond || r.OutputTokens() != 0):
						t.Errorf("embedding E2E %v, output %d", e2e, r.OutputTokens())
					case c.typ != "embeddings" && (r.VisibleTokens() != 30 || r.ClientOutput != 30):
						t.Errorf("visible %d, client %d; want 30", r.VisibleTokens(), r.ClientOutput)
					}
				}
				if c.typ == "embeddings" && ss.PromptTokens%4 != 0 {
					t.Errorf("prompt tokens %d are not four inputs' each", ss.PromptTokens)
				}
			})
		})
	}
}

// TestSpillover: a provisioned deployment that spills its overflow to a
// standard one: nothing is throttled, the spilled requests are counted
// as the simulator counts them, and the figures split by deployment.
func TestSpillover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ptu := fast()
		ptu.Name, ptu.Type, ptu.PTU, ptu.TPMPerPTU, ptu.Spillover = "ptu", "provisioned", 15, 1400, "paygo"
		paygo := fast()
		paygo.Name, paygo.TPM, paygo.TTFT = "paygo", 10_000_000, simconfig.Duration(400*time.Millisecond)
		st := newStack(t, ptu, paygo)
		defer st.close()
		p := basePlan("ptu", 1000, 100)
		p.Load.Rate, p.Load.Duration = rate(600), plan.Duration(30*time.Second)
		out, _ := st.execute(t, p, nil, nil)
		res := out.Results
		ss := st.sim.Stats().Deployments
		spilled := ss["ptu"].Spilled
		if res.Requests.Throttled != 0 || spilled == 0 || res.Requests.OK != res.Requests.Sent {
			t.Fatalf("requests %+v, spilled %d", res.Requests, spilled)
		}
		d := res.Deployments
		if d == nil || d["paygo"] == nil || d["ptu"] == nil || d["paygo"].Spilled != spilled || d["paygo"].From != "ptu" ||
			d["ptu"].Requests+d["paygo"].Requests != res.Requests.OK {
			t.Fatalf("deployments %+v", d)
		}
		if p50 := d["paygo"].TTFT.P50.F(); p50 < 0.399 || p50 > 0.402 {
			t.Errorf("spilled TTFT p50 %v s, want the standard deployment's 0.4", p50)
		}
		if p50 := d["ptu"].TTFT.P50.F(); p50 < 0.199 || p50 > 0.202 {
			t.Errorf("provisioned TTFT p50 %v s, want its own 0.2", p50)
		}
	})
}
