package sim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The Responses API's stream: response.created, response.in_progress, the
// output message and its text part added, the text deltas, the text, part
// and message done, then response.completed (or response.incomplete when
// max_output_tokens cut it) with the whole response and its usage, in
// Azure's order. Each event is an SSE event: an event: line naming its
// type, and data that says it again with a sequence_number.

// event appends the start of a Responses API event of type typ: its
// event: line and its data up to the sequence number, the object left
// open for the event's own fields.
func (st *stream) event(buf []byte, typ string) []byte {
	buf = append(buf, "event: "...)
	buf = append(buf, typ...)
	buf = append(buf, "\ndata: {\"type\":\""...)
	buf = append(buf, typ...)
	buf = append(buf, `","sequence_number":`...)
	buf = strconv.AppendInt(buf, int64(st.seq), 10)
	st.seq++
	return buf
}

// eventJSON appends a whole event whose fields are v's (a JSON object).
func (st *stream) eventJSON(buf []byte, typ string, v map[string]any) []byte {
	buf = st.event(buf, typ)
	b, _ := json.Marshal(v)
	if len(b) > 2 {
		buf = append(buf, ',')
		buf = append(buf, b[1:]...)
	} else {
		buf = append(buf, '}')
	}
	return append(buf, "\n\n"...)
}

// text is choice i's whole output: the words the chunks carry.
func (st *stream) text(i int) string {
	var b strings.Builder
	for t := range st.output {
		b.WriteByte(' ')
		b.WriteString(st.word(t + i*st.output))
	}
	return b.String()
}

// message is the Responses API's output message item.
func (st *stream) message(status, text string, withText bool) map[string]any {
	content := []any{}
	if withText {
		content = append(content, map[string]any{"type": "output_text", "annotations": []any{}, "logprobs": []any{}, "text": text})
	}
	return map[string]any{"id": st.item, "type": "message", "status": status, "role": "assistant", "content": content}
}

// response is the Responses API's response object: in progress (no
// output, no usage), or done, with text as its output, and its usage.
func (st *stream) response(status, finish string, done bool, text string) map[string]any {
	created, _ := strconv.ParseInt(st.created, 10, 64)
	r := map[string]any{
		"id": st.id, "object": "response", "created_at": created, "status": status,
		"background": false, "error": nil, "incomplete_details": nil, "instructions": nil,
		"max_output_tokens": nil, "model": st.d.cfg.Model, "output": []any{},
		"parallel_tool_calls": true, "previous_response_id": nil, "store": true,
		"text": map[string]any{"format": map[string]string{"type": "text"}}, "tool_choice": "auto", "tools": []any{},
		"truncation": "disabled", "usage": nil, "metadata": map[string]any{},
	}
	if st.req.Instructions != "" {
		r["instructions"] = st.req.Instructions
	}
	if v := st.req.MaxCompletionTokens; v != nil {
		r["max_output_tokens"] = *v
	}
	if done {
		item := "completed"
		if finish == "length" {
			item = "incomplete"
			r["incomplete_details"] = map[string]string{"reason": "max_output_tokens"}
		}
		r["completed_at"] = time.Now().Unix()
		r["output"] = []any{st.message(item, text, true)}
		if st.ans != nil && st.ans.call != nil {
			r["output"] = []any{st.callItem(item, text)}
		}
		r["usage"] = map[string]any{
			"input_tokens": st.prompt, "input_tokens_details": map[string]int{"cached_tokens": st.cached},
			"output_tokens": st.completion(), "output_tokens_details": map[string]int{"reasoning_tokens": st.reasoning},
			"total_tokens": st.prompt + st.completion(),
		}
	}
	return r
}

// responsesStart is the events before the first delta (a tool call's
// item comes at TTFT: callHead).
func (st *stream) responsesStart() []byte {
	var buf []byte
	buf = st.eventJSON(buf, "response.created", map[string]any{"response": st.response("in_progress", "", false, "")})
	buf = st.eventJSON(buf, "response.in_progress", map[string]any{"response": st.response("in_progress", "", false, "")})
	if st.lead > 0 {
		return buf
	}
	buf = st.eventJSON(buf, "response.output_item.added", map[string]any{"output_index": 0, "item": st.message("in_progress", "", false)})
	buf = st.eventJSON(buf, "response.content_part.added", map[string]any{"item_id": st.item, "output_index": 0, "content_index": 0,
		"part": map[string]any{"type": "output_text", "annotations": []any{}, "logprobs": []any{}, "text": ""}})
	return buf
}

// responsesEnd appends the events after the last delta.
func (st *stream) responsesEnd(buf []byte, finish string) []byte {
	text := st.outText()
	item, status, typ := "completed", "completed", "response.completed"
	if finish == "length" {
		item, status, typ = "incomplete", "incomplete", "response.incomplete"
	}
	buf = st.eventJSON(buf, "response.output_text.done", map[string]any{"item_id": st.item, "output_index": 0, "content_index": 0, "text": text, "logprobs": []any{}})
	buf = st.eventJSON(buf, "response.content_part.done", map[string]any{"item_id": st.item, "output_index": 0, "content_index": 0,
		"part": map[string]any{"type": "output_text", "annotations": []any{}, "logprobs": []any{}, "text": text}})
	buf = st.eventJSON(buf, "response.output_item.done", map[string]any{"output_index": 0, "item": st.message(item, text, true)})
	return st.eventJSON(buf, typ, map[string]any{"response": st.response(status, finish, true, text)})
}

// embeddingVector is the vector every input gets, as JSON: the
// dimensions of text-embedding-3-small.
func embeddingVector() string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range 1536 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64((i*7919)%2000-1000)/40000, 'f', -1, 64))
	}
	b.WriteByte(']')
	return b.String()
}
