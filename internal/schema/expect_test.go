package schema

import (
	"testing"

	"github.com/aoaibench/aoaibench/internal/tools"
)

func TestExpect(t *testing.T) {
	t.Parallel()
	defs := tools.Synthetic(3, 1)
	defs = append(defs, tools.Def{Name: "loose"})
	e := &Expect{Tools: ForTools(defs)}
	s := e.Tools[defs[0].Name]
	if s == nil {
		t.Fatalf("%s: no schema", defs[0].Name)
	}
	good := s.Instance(nil, []string{"a", "b"}, 10, 1)
	for _, c := range []struct {
		name, args string
		want       Verdict
	}{
		{defs[0].Name, string(good), Valid},
		{defs[0].Name, `{"nope":1}`, Mismatch},
		{defs[0].Name, `{"trunc`, NotJSON},
		{"loose", `{"any":1}`, Valid},
		{"loose", `{`, NotJSON},
		{"unknown", `[1]`, Valid},
	} {
		if got := e.Call(c.name, []byte(c.args)); got != c.want {
			t.Errorf("Call(%s, %s) = %q, want %q", c.name, c.args, got, c.want)
		}
	}
	if (&Expect{}).Text([]byte("plain")) != Unchecked || (*Expect)(nil).Text(nil) != Unchecked {
		t.Error("no format asked: the text must be unchecked")
	}
	if (&Expect{JSON: true}).Text([]byte("plain")) != NotJSON || (&Expect{JSON: true}).Text([]byte(`{"a":1}`)) != Valid {
		t.Error("json_object: wrong verdicts")
	}
	a := &Expect{JSON: true, Answer: s}
	if a.Text(good) != Valid || a.Text([]byte(`{"a":1}`)) != Mismatch {
		t.Error("json_schema: wrong verdicts")
	}
}
