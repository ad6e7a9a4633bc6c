package run

import (
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/sink"
)

// TestPromMatchesSummary: the Prometheus metrics of a run count what its
// summary counts: each histogram's count, the requests by class and the
// tokens, warmup left out of both.
func TestPromMatchesSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := fast()
		d.TPM, d.Fail5xx = 120000, 0.1
		st := newStack(t, d)
		defer st.close()
		p := basePlan("d", 200, 20)
		p.Workload.Completions = 2
		p.Load.Rate, p.Load.Duration, p.Load.Warmup = rate(600), plan.Duration(30*time.Second), plan.Duration(5*time.Second)
		prom := sink.NewProm(sink.ShardLabels(1, 4))
		r, err := New(p, Options{Transport: counting{st.tr, st}, Sleep: TimerSleep})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		out, err := r.Execute(t.Context(), prom.Sink())
		if err != nil {
			t.Fatal(err)
		}
		res := out.Results
		mfs, err := prom.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			got[mf.GetName()] = mf
		}
		for name, key := range map[string]string{"aoaibench_ttft_seconds": "ttft", "aoaibench_tpot_seconds": "tpot",
			"aoaibench_e2e_seconds": "e2e", "aoaibench_schedule_lag_seconds": "lag", "aoaibench_headers_seconds": "headers"} {
			mf := got[name]
			if mf == nil {
				t.Fatalf("no %s", name)
			}
			m := mf.GetMetric()[0]
			if n := int64(m.GetHistogram().GetSampleCount()); n != res.Latency[key].Count || n == 0 {
				t.Errorf("%s: %d samples, the summary's %s has %d", name, n, key, res.Latency[key].Count)
			}
			if labels := m.GetLabel(); len(labels) != 2 || labels[0].GetValue() != "1" {
				t.Errorf("%s: labels %v", name, labels)
			}
		}
		classes := map[string]float64{}
		for _, m := range got["aoaibench_requests_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "class" {
					classes[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
		q := res.Requests
		if classes["ok"] != float64(q.OK) || classes["throttled"] != float64(q.Throttled) || classes["http"] != float64(q.HTTP) || q.HTTP == 0 {
			t.Errorf("requests by class %v, summary %+v", classes, q)
		}
		var prompt float64
		for _, m := range got["aoaibench_tokens_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "prompt" {
					prompt = m.GetCounter().GetValue()
				}
			}
		}
		if prompt != float64(res.Tokens.Prompt) {
			t.Errorf("prompt tokens %v, summary %d", prompt, res.Tokens.Prompt)
		}
	})
}
