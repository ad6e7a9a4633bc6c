package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Whole answers: a request that does not stream gets its answer when the
// whole output would have been generated, written as it is made.

// plainBuffer is the buffer a whole answer is written through.
const plainBuffer = 32 << 10

// plain answers a non-streaming request once the whole output would have
// been generated. The answer is written as it is made, through a buffer of
// plainBuffer bytes: its text (up to n choices of a context window each,
// 100 MB of JSON for 128 of 128,000 tokens) is never in memory whole. An
// answer the client did not take is not counted as completed.
func (st *stream) plain(ctx context.Context) {
	d := st.d
	total := st.ttft + time.Duration(float64(time.Duration(d.cfg.ITL)*time.Duration(max(st.output-1+st.lead, 0)))*st.itlScale)
	wake := make(chan struct{}, 1)
	if !st.s.clock.sleepUntil(time.Now().Add(total), wake, ctx.Done()) {
		return
	}
	st.w.Header().Set("Content-Type", "application/json")
	w := bufio.NewWriterSize(st.w, plainBuffer)
	var err error
	switch {
	case st.req.kind == kindEmbeddings:
		err = st.writeEmbeddings(w)
	case st.ans != nil:
		err = st.writeAgent(w)
	default:
		err = st.writeAnswer(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return
	}
	st.done(total, 0, time.Time{}, time.Time{})
}

// writeEmbeddings writes an embeddings answer: the same vector for each
// input.
func (st *stream) writeEmbeddings(w *bufio.Writer) error {
	w.WriteString(`{"object":"list","data":[`)
	for i := range st.req.texts {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`{"object":"embedding","index":`)
		w.WriteString(strconv.Itoa(i))
		w.WriteString(`,"embedding":`)
		if _, err := w.WriteString(st.s.vector); err != nil {
			return err
		}
		w.WriteByte('}')
	}
	model, _ := json.Marshal(st.d.cfg.Model)
	_, err := fmt.Fprintf(w, `],"model":%s,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`+"\n", model, st.prompt, st.prompt)
	return err
}

// writeAnswer writes a whole chat, completions or Responses answer. The
// JSON is made with a marker where each choice's text goes, a random one
// no request can forge; the text is written in its place, word by word.
func (st *stream) writeAnswer(w *bufio.Writer) error {
	d := st.d
	finish := st.finish()
	nonce := newID(16)
	marker := func(i int) string { return "\x00" + nonce + "-" + strconv.Itoa(i) + "\x00" }
	created, _ := strconv.ParseInt(st.created, 10, 64)
	usage := st.usage()
	var body any
	texts := st.n
	switch st.req.kind {
	case kindResponses:
		status := "completed"
		if finish == "length" {
			status = "incomplete"
		}
		body, texts = st.response(status, finish, true, marker(0)), 1
	case kindCompletions:
		var choices []map[string]any
		for i := range st.n {
			choices = append(choices, map[string]any{"text": marker(i), "index": i, "logprobs": nil, "finish_reason": finish})
		}
		delete(usage, "completion_tokens_details")
		delete(usage, "prompt_tokens_details")
		body = map[string]any{"id": st.id, "object": "text_completion", "created": created, "model": d.cfg.Model, "choices": choices, "usage": usage}
	default:
		var choices []map[string]any
		for i := range st.n {
			choices = append(choices, map[string]any{"index": i, "message": map[string]any{"role": "assistant", "content": marker(i)}, "finish_reason": finish})
		}
		body = map[string]any{"id": st.id, "object": "chat.completion", "created": created, "model": d.cfg.Model, "choices": choices, "usage": usage}
	}
	rest, err := json.Marshal(body)
	if err != nil {
		return err
	}
	rest = append(rest, '\n')
	for i := range texts {
		// JSON writes the marker's NULs as \u0000.
		enc := `\u0000` + nonce + "-" + strconv.Itoa(i) + `\u0000`
		at := bytes.Index(rest, []byte(enc))
		if at < 0 {
			return fmt.Errorf("simulator: no place for text %d in the answer", i) // cannot happen
		}
		w.Write(rest[:at])
		// A chat message's content has no leading space.
		if err := st.writeText(w, i, st.req.kind == kindChat); err != nil {
			return err
		}
		rest = rest[at+len(enc):]
	}
	_, err = w.Write(rest)
	return err
}

// usage is a whole answer's usage.
func (st *stream) usage() map[string]any {
	return map[string]any{"prompt_tokens": st.prompt, "completion_tokens": st.completion(), "total_tokens": st.prompt + st.completion(),
		"completion_tokens_details": map[string]int{"reasoning_tokens": st.reasoning * st.n},
		"prompt_tokens_details":     map[string]int{"cached_tokens": st.cached}}
}

// writeAgent writes an agent's whole answer, chat or Responses: a tool
// call (content null, the call in tool_calls; a function_call item), or
// the JSON text. It is small: made whole.
func (st *stream) writeAgent(w *bufio.Writer) error {
	finish := st.finish()
	created, _ := strconv.ParseInt(st.created, 10, 64)
	var body any
	if st.req.kind == kindResponses {
		status := "completed"
		if finish == "length" {
			status = "incomplete"
		}
		body = st.response(status, finish, true, st.ans.text)
	} else {
		msg := map[string]any{"role": "assistant", "content": st.ans.text, "refusal": nil}
		if st.ans.call != nil {
			msg = st.chatCall()
		}
		choices := make([]map[string]any, st.n)
		for i := range choices {
			choices[i] = map[string]any{"index": i, "message": msg, "finish_reason": finish, "logprobs": nil}
		}
		body = map[string]any{"id": st.id, "object": "chat.completion", "created": created, "model": st.d.cfg.Model,
			"choices": choices, "usage": st.usage(), "system_fingerprint": "fp_aoaibench"}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	w.Write(b)
	return w.WriteByte('\n')
}

// writeText writes choice i's whole output, the words the chunks carry,
// without the first space when trim is set.
func (st *stream) writeText(w *bufio.Writer, i int, trim bool) error {
	for t := range st.output {
		if t > 0 || !trim {
			w.WriteByte(' ')
		}
		if _, err := w.WriteString(st.word(t + i*st.output)); err != nil {
			return err
		}
	}
	return nil
}
