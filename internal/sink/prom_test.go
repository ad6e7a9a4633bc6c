package sink

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// TestDashboardNamesMetrics: every metric deploy/grafana-dashboard.json
// queries is one this package serves.
func TestDashboardNamesMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	p := NewProm(ShardLabels(0, 2))
	mfs, _ := p.Registry().Gather()
	served := map[string]bool{}
	for _, mf := range mfs {
		served[mf.GetName()] = true
		if mf.GetType().String() == "HISTOGRAM" {
			served[mf.GetName()+"_bucket"] = true
		}
	}
	// Vector metrics with no sample yet are not gathered.
	served["aoaibench_requests_total"], served["aoaibench_tokens_total"] = true, true
	name := regexp.MustCompile(`aoaibench_[a-z0-9_]+`)
	n := 0
	for _, pn := range d.Panels {
		for _, tg := range pn.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				n++
				if !served[m] {
					t.Errorf("the dashboard queries %s, which aoaibench does not serve", m)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("%d metric names in the dashboard", n)
	}
}
