package simconfig

import (
	"strings"
	"testing"
)

// TestToolFields: tool_call_share and tool_args_tokens have their
// defaults, an explicit 0 share stays 0, and values out of range are
// refused with the field's name.
func TestToolFields(t *testing.T) {
	d := Deployment{Name: "a", Model: "gpt-4o"}
	if err := d.Fill(); err != nil {
		t.Fatal(err)
	}
	if *d.ToolCallShare != 0.5 || d.ToolArgsTokens != 40 {
		t.Errorf("defaults: share %g, args %d; want 0.5, 40", *d.ToolCallShare, d.ToolArgsTokens)
	}
	z := Deployment{Name: "a", Model: "gpt-4o"}
	if err := z.Set("tool_call_share=0,tool_args_tokens=7"); err != nil {
		t.Fatal(err)
	}
	if err := z.Fill(); err != nil || *z.ToolCallShare != 0 || z.ToolArgsTokens != 7 {
		t.Errorf("set to 0 and 7: %v, share %g, args %d", err, *z.ToolCallShare, z.ToolArgsTokens)
	}
	for _, c := range []struct{ set, want string }{
		{"tool_call_share=1.5", "tool_call_share must be a share between 0 and 1"},
		{"tool_call_share=-0.1", "tool_call_share must be a share between 0 and 1"},
		{"tool_args_tokens=-1", "tool_args_tokens must be 1 to 100000"},
		{"tool_args_tokens=1e9", "tool_args_tokens must be 1 to 100000"},
	} {
		d := Deployment{Name: "a", Model: "gpt-4o"}
		err := d.Set(c.set)
		if err == nil {
			err = d.Fill()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.set, err, c.want)
		}
	}
}
