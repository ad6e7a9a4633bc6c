package sim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// Tools: a request's function definitions and tool_choice, read as the
// chat API (each tool's function object) and the Responses API (each
// tool flat) carry them; and a tool call's events, streamed as Azure
// streams them: the call's id and name first, then its arguments a token
// a chunk.

// toolSet is a request's tools, compiled: the definitions and the prompt
// tokens they add.
type toolSet struct {
	defs   []tools.Def
	tokens int
}

// badParam is bad input found while compiling a request's text.
type badParam struct{ param, msg string }

func (e *badParam) Error() string { return e.msg }

// writeBad writes err as a 400: a badParam's own, else about param.
func writeBad(w http.ResponseWriter, p string, err error) {
	if b, ok := err.(*badParam); ok {
		invalid(w, b.param, "%s", b.msg)
		return
	}
	invalid(w, p, "Invalid '%s': %v", p, err)
}

// readTools reads the request's tools into ag (compiled once per text,
// in the deployment's memo); it writes the error and returns false on
// bad input.
func (d *deployment) readTools(w http.ResponseWriter, req *chatRequest, ag *agentAsk) bool {
	set, err := d.toolSets.get(req.Tools, func() (toolSet, error) { return d.compileTools(req.Tools) })
	if err != nil {
		writeBad(w, "tools", err)
		return false
	}
	ag.defs, ag.toolTokens = set.defs, set.tokens
	return true
}

// toolWire is a tool as the chat API (function) or the Responses API
// (flat) carries it.
type toolWire struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Function    *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// compileTools reads a tools array of at most schema.MaxFile bytes: at
// most tools.MaxTools tools, each
// function's name given, its parameters a bounded JSON object; tools of
// other types are left out, as tools.Parse leaves them.
func (d *deployment) compileTools(raw json.RawMessage) (toolSet, error) {
	if len(raw) > schema.MaxFile {
		// Counting the definitions' tokens costs as counting a prompt does.
		return toolSet{}, &badParam{"tools", fmt.Sprintf("Invalid 'tools': over %d KB of definitions.", schema.MaxFile>>10)}
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return toolSet{}, &badParam{"tools", "Invalid type for 'tools': expected an array of tools."}
	}
	if len(list) > tools.MaxTools {
		return toolSet{}, &badParam{"tools", fmt.Sprintf("Invalid 'tools': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", tools.MaxTools, len(list))}
	}
	set := toolSet{defs: make([]tools.Def, 0, len(list))}
	for i, item := range list {
		var tw toolWire
		if err := json.Unmarshal(item, &tw); err != nil {
			return toolSet{}, &badParam{fmt.Sprintf("tools[%d]", i), fmt.Sprintf("Invalid type for 'tools[%d]': expected an object.", i)}
		}
		if tw.Type != "function" && tw.Type != "" {
			continue
		}
		def := tools.Def{Name: tw.Name, Description: tw.Description, Parameters: tw.Parameters}
		if f := tw.Function; f != nil {
			def = tools.Def{Name: f.Name, Description: f.Description, Parameters: f.Parameters}
		}
		if def.Name == "" {
			return toolSet{}, &badParam{fmt.Sprintf("tools[%d].function.name", i), fmt.Sprintf("Missing required parameter: 'tools[%d].function.name'.", i)}
		}
		if err := boundedSchema(def.Parameters); err != nil {
			p := fmt.Sprintf("tools[%d].function.parameters", i)
			return toolSet{}, &badParam{p, fmt.Sprintf("Invalid '%s': %v.", p, err)}
		}
		set.defs = append(set.defs, def)
	}
	set.tokens = tools.Tokens(d.tok, set.defs)
	return set, nil
}

// readChoice reads the request's tool_choice: "auto", "required", "none",
// or a function named as the chat API names it ({"type":"function",
// "function":{"name":...}}) or the Responses API ({"type":"function",
// "name":...}), which must be one of the tools; it writes the error and
// returns false on bad input.
func readChoice(w http.ResponseWriter, req *chatRequest, ag *agentAsk) bool {
	if len(ag.defs) == 0 {
		invalid(w, "tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
		return false
	}
	var s string
	if json.Unmarshal(req.ToolChoice, &s) == nil {
		if c := tools.Choice(s); c != "" && c.Valid() {
			ag.choice = c
			return true
		}
		invalid(w, "tool_choice", "Invalid value for 'tool_choice': %q is not one of auto, required, none, or a function.", clip(s))
		return false
	}
	var named struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(req.ToolChoice, &named) != nil || named.Type != "function" {
		invalid(w, "tool_choice", "Invalid value for 'tool_choice': expected auto, required, none, or {\"type\": \"function\", ...}.")
		return false
	}
	name := named.Function.Name
	if name == "" {
		name = named.Name
	}
	for _, d := range ag.defs {
		if d.Name == name {
			ag.choice, ag.named = tools.Required, name
			return true
		}
	}
	invalid(w, "tool_choice", "Invalid value for 'tool_choice': no function named %q in 'tools'.", clip(name))
	return false
}

// paramsSchema is a tool's parameters compiled (in the memo), nil when
// they are not a schema the simulator can follow: the call's arguments
// are then an object of words.
func (d *deployment) paramsSchema(params json.RawMessage) *schema.Schema {
	if !present(params) {
		return nil
	}
	s, err := d.schemas.get(params, func() (*schema.Schema, error) { return schema.Parse(params) })
	if err != nil {
		return nil
	}
	return s
}

// callHead appends a tool call's first event, at TTFT: the chat API's
// delta with the call's id and name (and no arguments yet), the
// Responses API's function_call item added.
func (st *stream) callHead(buf []byte) []byte {
	an := st.ans
	if st.req.kind == kindResponses {
		return st.eventJSON(buf, "response.output_item.added", map[string]any{"output_index": 0, "item": st.callItem("in_progress", "")})
	}
	name, _ := json.Marshal(an.call.Name)
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{"content":null,"role":"assistant","tool_calls":[{"function":{"arguments":"","name":`...)
		buf = append(buf, name...)
		buf = append(buf, `},"id":"`...)
		buf = append(buf, an.callID...)
		buf = append(buf, `","index":0,"type":"function"}]}`...)
		buf = append(buf, st.tails[i]...)
	}
	return buf
}

// callArgs appends the events of the next nt argument fragments.
func (st *stream) callArgs(buf []byte, nt int) []byte {
	frags := st.ans.frags[st.sent : st.sent+nt]
	if st.req.kind == kindResponses {
		buf = st.event(buf, "response.function_call_arguments.delta")
		buf = append(buf, `,"item_id":"`...)
		buf = append(buf, st.ans.itemID...)
		buf = append(buf, `","output_index":0,"delta":"`...)
		for _, f := range frags {
			buf = append(buf, f...)
		}
		return append(buf, "\"}\n\n"...)
	}
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{"tool_calls":[{"function":{"arguments":"`...)
		for _, f := range frags {
			buf = append(buf, f...)
		}
		buf = append(buf, `"},"index":0}]}`...)
		buf = append(buf, st.tails[i]...)
	}
	return buf
}

// callItem is the Responses API's function_call output item.
func (st *stream) callItem(status, args string) map[string]any {
	an := st.ans
	return map[string]any{"id": an.itemID, "type": "function_call", "status": status,
		"arguments": args, "call_id": an.callID, "name": an.call.Name}
}

// callEnd appends the Responses API's events after a call's last
// argument fragment: the arguments done, the item done, the response.
func (st *stream) callEnd(buf []byte, finish string) []byte {
	an := st.ans
	status, typ := "completed", "response.completed"
	if finish == "length" {
		status, typ = "incomplete", "response.incomplete"
	}
	buf = st.eventJSON(buf, "response.function_call_arguments.done", map[string]any{"item_id": an.itemID, "output_index": 0, "arguments": an.text})
	buf = st.eventJSON(buf, "response.output_item.done", map[string]any{"output_index": 0, "item": st.callItem(status, an.text)})
	return st.eventJSON(buf, typ, map[string]any{"response": st.response(status, finish, true, an.text)})
}

// chatCall is a whole chat answer's message with a tool call.
func (st *stream) chatCall() map[string]any {
	an := st.ans
	return map[string]any{"role": "assistant", "content": nil, "refusal": nil, "tool_calls": []any{map[string]any{
		"id": an.callID, "type": "function", "function": map[string]any{"name": an.call.Name, "arguments": an.text}}}}
}
