package ptu

import (
	"bytes"
	"strings"
	"testing"
)

const header = "model\tinput_tpm_per_ptu\toutput_ratio\tglobal_min\tglobal_increment\tregional_min\tregional_increment\tlatency_tps\n"

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", "t.tsv:1: no header row"},
		{"# only a comment\n", "t.tsv:1: no header row"},
		{header, "t.tsv:1: no models after the header"},
		{"model\tinput_tpm_per_ptu\n", "t.tsv:1: the header has no column \"output_ratio\""},
		{strings.TrimSuffix(header, "\n") + "\textra\n", "t.tsv:1: unknown column \"extra\""},
		{"model\tmodel\n", "t.tsv:1: column \"model\" twice"},
		{"# c\n" + header + "m\t1\t2\t3\n", "t.tsv:3: 4 tab-separated fields, want 8"},
		{header + "m\tx\t4\t15\t5\t50\t50\t80\n", "t.tsv:2: input_tpm_per_ptu \"x\" of m is not a number"},
		{header + "m\t-1\t4\t15\t5\t50\t50\t80\n", "t.tsv:2: input_tpm_per_ptu \"-1\""},
		{header + "m\tNaN\t4\t15\t5\t50\t50\t80\n", "t.tsv:2: input_tpm_per_ptu \"NaN\""},
		{header + "m\tInf\t4\t15\t5\t50\t50\t80\n", "t.tsv:2: input_tpm_per_ptu \"Inf\""},
		{header + "m\t100\t0\t15\t5\t50\t50\t80\n", "t.tsv:2: output_ratio \"0\""},
		{header + "m\t100\t4\t1.5\t5\t50\t50\t80\n", "t.tsv:2: global_min \"1.5\" of m is not a whole number"},
		{header + "m\t100\t4\t15\t0\t50\t50\t80\n", "t.tsv:2: global_increment \"0\""},
		{header + "m\t100\t4\t15\t5\t50\t50\t1e9\n", "t.tsv:2: latency_tps \"1e9\""},
		{header + "m\t100\t4\t15\t5\t50\t50\t80\n\nM\t1\t4\t15\t5\t50\t50\t80\n", "t.tsv:4: model m is also on line 2"},
		{header + "\t100\t4\t15\t5\t50\t50\t80\n", "t.tsv:2: model \"\" is not a model name"},
	} {
		_, err := Parse("t.tsv", strings.NewReader(c.in))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want %s...", c.in, err, c.want)
		}
	}
	// Columns in another order, CRLF and a BOM read as well.
	in := "\ufeff# Source: a test.\r\nlatency_tps\tmodel\tinput_tpm_per_ptu\toutput_ratio\tglobal_min\tglobal_increment\tregional_min\tregional_increment\r\n50\tNew-Model\t1000\t6\t15\t5\t50\t50\r\n"
	tb, err := Parse("t.tsv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := tb.Lookup("new-model-2027-01-01")
	if !ok || m.LatencyTPS != 50 || m.InputTPMPerPTU != 1000 || m.OutputRatio != 6 || tb.Source() != "Source: a test." {
		t.Errorf("%+v %v %q", m, ok, tb.Source())
	}
}

func FuzzParse(f *testing.F) {
	f.Add(published)
	f.Add([]byte(header + "m\t100\t4\t15\t5\t50\t50\t80\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := Parse("f.tsv", bytes.NewReader(b))
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "f.tsv:") {
				t.Fatalf("error not one line naming the file: %q", err)
			}
			return
		}
		for _, m := range tb.Models {
			for _, ty := range []Type{Global, Regional} {
				least, inc := m.Counts(ty)
				if n := m.RoundUp(ty, m.InputTPMPerPTU); m.Deployable(ty, n) != nil || least < 1 || inc < 1 {
					t.Fatalf("%+v: RoundUp gave %d", m, n)
				}
			}
		}
	})
}
