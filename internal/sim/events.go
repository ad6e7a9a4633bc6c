package sim

import (
	"fmt"
	"strconv"
)

// What a stream's chunks carry: the chat and completions APIs' SSE
// events, and the finish, usage and [DONE] after the last one (the
// Responses API's events are in responses.go).

// contentFilter is the content-filter results of a chunk that passed.
const contentFilter = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`

// promptFilterFrame is Azure's first frame: no choices, the prompt's
// content-filter results.
const promptFilterFrame = `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":` + contentFilter + `}]}` + "\n\n"

// emit appends the events of the next chunk to buf: one content event per
// choice, and after the last chunk the finish, usage and [DONE] events.
func (st *stream) emit(buf []byte) []byte {
	if st.ans != nil {
		return st.emitAnswer(buf)
	}
	nt := min(st.d.cfg.TokensPerChunk, st.output-st.sent)
	switch st.req.kind {
	case kindResponses:
		buf = st.event(buf, "response.output_text.delta")
		buf = append(buf, `,"item_id":"`...)
		buf = append(buf, st.item...)
		buf = append(buf, `","output_index":0,"content_index":0,"delta":"`...)
		for t := range nt {
			buf = append(buf, ' ')
			buf = append(buf, st.word(st.sent+t)...)
		}
		buf = append(buf, `","logprobs":[]}`+"\n\n"...)
	case kindCompletions:
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"text":"`...)
			for t := range nt {
				buf = append(buf, ' ')
				buf = append(buf, st.word(st.sent+t+i*st.output)...)
			}
			buf = append(buf, st.tails[i]...)
		}
	default:
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"content_filter_results":`...)
			buf = append(buf, contentFilter...)
			buf = append(buf, `,"delta":{"content":"`...)
			for t := range nt {
				buf = append(buf, ' ')
				buf = append(buf, st.word(st.sent+t+i*st.output)...)
			}
			buf = append(buf, `"}`...)
			buf = append(buf, st.tails[i]...)
		}
	}
	if st.c == st.chunks-1 {
		buf = st.end(buf)
	}
	return buf
}

// word is the output's token number tok (counted across choices).
func (st *stream) word(tok int) string {
	w := st.s.words
	return w[(st.seed+uint64(tok))%uint64(len(w))]
}

// end appends the events after the content: finish, usage, [DONE].
func (st *stream) end(buf []byte) []byte {
	finish := st.finish()
	model := st.d.cfg.Model
	switch st.req.kind {
	case kindResponses:
		if st.ans != nil && st.ans.call != nil {
			return st.callEnd(buf, finish)
		}
		return st.responsesEnd(buf, finish)
	case kindCompletions:
		for i := range st.n {
			buf = append(buf, `data: {"choices":[{"text":"","index":`+strconv.Itoa(i)+`,"logprobs":null,"finish_reason":"`+finish+`"}],"created":`+st.created+`,"id":"`+st.id+`","model":"`+model+`","object":"text_completion"}`+"\n\n"...)
		}
		if st.req.StreamOptions != nil && st.req.StreamOptions.IncludeUsage {
			buf = fmt.Appendf(buf, `data: {"choices":[],"created":%s,"id":"%s","model":"%s","object":"text_completion","usage":{"completion_tokens":%d,"prompt_tokens":%d,"total_tokens":%d}}`+"\n\n",
				st.created, st.id, model, st.completion(), st.prompt, st.prompt+st.completion())
		}
		return append(buf, "data: [DONE]\n\n"...)
	}
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"`+finish+`","index":`+strconv.Itoa(i)+`,"logprobs":null}],"created":`+st.created+`,"id":"`+st.id+`","model":"`+model+`","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench"}`+"\n\n"...)
	}
	if st.req.StreamOptions != nil && st.req.StreamOptions.IncludeUsage {
		details, pdetails := "", ""
		if st.reasoning > 0 {
			details = fmt.Sprintf(`,"completion_tokens_details":{"reasoning_tokens":%d}`, st.reasoning*st.n)
		}
		if st.d.cache != nil {
			pdetails = fmt.Sprintf(`,"prompt_tokens_details":{"cached_tokens":%d}`, st.cached)
		}
		buf = fmt.Appendf(buf, `data: {"choices":[],"created":%s,"id":"%s","model":"%s","object":"chat.completion.chunk","system_fingerprint":"fp_aoaibench","usage":{"completion_tokens":%d%s,"prompt_tokens":%d%s,"total_tokens":%d}}`+"\n\n",
			st.created, st.id, model, st.completion(), details, st.prompt, pdetails, st.prompt+st.completion())
	}
	return append(buf, "data: [DONE]\n\n"...)
}

// completion is the usage's completion_tokens: every choice's visible and
// reasoning tokens (an agent's answer's visible tokens are its text's
// count: a tool call's name and id count none).
func (st *stream) completion() int {
	if st.ans != nil {
		return (st.ans.tokens + st.reasoning) * st.n
	}
	return (st.output + st.reasoning) * st.n
}

// finish is the answer's finish_reason: an agent's answer's own, else
// length when the output reached the request's max tokens.
func (st *stream) finish() string {
	switch {
	case st.ans != nil:
		return st.ans.finish
	case st.output+st.reasoning < st.limit():
		return "stop"
	}
	return "length"
}

// limit is the request's max tokens, or the default.
func (st *stream) limit() int {
	switch {
	case st.req.MaxTokens != nil:
		return *st.req.MaxTokens
	case st.req.MaxCompletionTokens != nil:
		return *st.req.MaxCompletionTokens
	}
	return st.d.cfg.DefaultOutput
}
