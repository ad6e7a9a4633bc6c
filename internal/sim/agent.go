package sim

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"unicode/utf8"

	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tools"
)

// Agents' requests: what a request asks beyond plain text (tools, a
// tool_choice, a structured response format), the prompt tokens it adds,
// and the answer it gets: a tool call, or JSON, instead of words.

// agentAsk is what a request asks beyond plain text.
type agentAsk struct {
	defs         []tools.Def
	toolTokens   int          // the prompt tokens the definitions add
	choice       tools.Choice // Auto, Required or None; Required for a named function
	named        string       // the function tool_choice names
	format       string       // "" (text), "json_object" or "json_schema"
	schema       *schema.Schema
	schemaTokens int // the prompt tokens a json_schema format adds
}

// extra is the prompt tokens the request's tools and format add.
func (ag *agentAsk) extra() int {
	if ag == nil {
		return 0
	}
	return ag.toolTokens + ag.schemaTokens
}

// present reports whether a field was sent (and not null).
func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// agentParams reads a chat or Responses request's tools, tool_choice and
// response format into req.ag (left nil for a plain request); it writes
// the error and returns false on bad input.
func (d *deployment) agentParams(w http.ResponseWriter, req *chatRequest, body []byte) bool {
	if req.kind != kindChat && req.kind != kindResponses {
		return true
	}
	format := req.ResponseFormat
	if req.kind == kindResponses {
		format = responsesFormat(req.Text)
	}
	hasTools, hasChoice := present(req.Tools), present(req.ToolChoice)
	if !hasTools && !hasChoice && !present(format) {
		return true
	}
	ag := &agentAsk{choice: tools.Auto}
	if hasTools && !d.readTools(w, req, ag) {
		return false
	}
	if hasChoice && !readChoice(w, req, ag) {
		return false
	}
	if present(format) && !d.readFormat(w, format, ag) {
		return false
	}
	if len(ag.defs) == 0 && ag.format == "" {
		return true
	}
	if len(ag.defs) > 0 {
		h := fnv.New64a()
		h.Write(body)
		req.hash = h.Sum64()
	}
	req.ag = ag
	return true
}

// callFor is the tool a request's answer calls, by its tool_choice: the
// named one; under required, one picked by the request's hash; under
// auto, the same for share of requests (the hash decides which), else
// none; nil for no call.
func (ag *agentAsk) callFor(hash uint64, share float64) *tools.Def {
	if ag == nil || len(ag.defs) == 0 || ag.choice == tools.None {
		return nil
	}
	if ag.named != "" {
		for i := range ag.defs {
			if ag.defs[i].Name == ag.named {
				return &ag.defs[i]
			}
		}
		return nil // readChoice checked it is there
	}
	if ag.choice == tools.Auto && !callsTool(hash, share) {
		return nil
	}
	return &ag.defs[mix(hash^0x9e3779b97f4a7c15)%uint64(len(ag.defs))]
}

// callsTool decides, by a request's hash, whether an answer under auto
// is a tool call: for share of hashes, well spread.
func callsTool(hash uint64, share float64) bool {
	return float64(mix(hash)>>11)/(1<<53) < share
}

// mix is splitmix64's finalizer: a well-spread number from a hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// answer is an agent's answer: a tool call, or a structured (JSON) one.
type answer struct {
	call   *tools.Def // nil: a structured answer
	callID string     // the call's id (call_...)
	itemID string     // the Responses API's function_call item id (fc_...)
	text   string     // the call's arguments, or the JSON answer
	frags  []string   // text's tokens, JSON-escaped: a chunk's each
	tokens int        // text's tokens: the usage's completion tokens (a choice's)
	finish string     // tool_calls, stop, or length (cut by max tokens)
}

// kind is the answer's kind, as metrics.AnswerKind spells it.
func (an *answer) kind() string {
	if an.call != nil {
		return "tool_call"
	}
	return "structured"
}

// answerFor makes the answer to an admitted request of shape sh whose
// visible output may be limit tokens: a tool call, a structured answer,
// or nil for words. Its text is an instance of the tool's parameters (of
// about tool_args_tokens tokens) or of the format's schema (of about the
// shape's output length), cut at limit tokens (then it does not parse).
func (d *deployment) answerFor(req *chatRequest, words []string, limit, output int, seed uint64) *answer {
	ag := req.ag
	if ag == nil {
		return nil
	}
	an := &answer{finish: "stop"}
	target, sch := output, ag.schema
	if an.call = ag.callFor(req.hash, *d.cfg.ToolCallShare); an.call != nil {
		an.callID, an.itemID, an.finish = "call_"+newID(24), "fc_"+newID(48), "tool_calls"
		target, sch = d.cfg.ToolArgsTokens, d.paramsSchema(an.call.Parameters)
	} else if ag.format == "" {
		return nil
	}
	an.text = d.fit(sch, words, target, seed)
	offs := d.tok.Offsets(nil, an.text)
	for len(offs) > limit {
		// Cut by max tokens, as a model is: the JSON does not close.
		an.text, an.finish = an.text[:offs[limit-1]], "length"
		offs = d.tok.Offsets(offs[:0], an.text)
	}
	an.tokens = len(offs) // an offset a token
	if an.frags = fragments(an.text, offs); len(an.frags) == 0 {
		an.frags = []string{""} // an answer has a chunk
	}
	return an
}

// agent makes the stream's answer an agent's when its request asks for
// one: its output is then the answer's fragments, after a tool call's
// lead chunk. limit is the request's max tokens (a choice's).
func (st *stream) agent(limit int) {
	an := st.d.answerFor(st.req, st.s.words, max(limit-st.reasoning, 1), st.output, st.seed)
	if an == nil {
		return
	}
	st.ans, st.output = an, len(an.frags)
	if an.call != nil {
		st.lead = 1
	}
}

// emitAnswer is emit for an agent's answer: a tool call's head, or the
// next fragments of its arguments or of a JSON answer; after the last,
// the finish, usage and [DONE] events.
func (st *stream) emitAnswer(buf []byte) []byte {
	switch nt := min(st.d.cfg.TokensPerChunk, st.output-st.sent); {
	case st.c < st.lead:
		buf = st.callHead(buf)
	case st.ans.call != nil:
		buf = st.callArgs(buf, nt)
	default:
		buf = st.jsonText(buf, nt)
	}
	if st.c == st.chunks-1 {
		buf = st.end(buf)
	}
	return buf
}

// jsonText appends the content events of a structured answer's next nt
// fragments.
func (st *stream) jsonText(buf []byte, nt int) []byte {
	frags := st.ans.frags[st.sent : st.sent+nt]
	if st.req.kind == kindResponses {
		buf = st.event(buf, "response.output_text.delta")
		buf = append(buf, `,"item_id":"`...)
		buf = append(buf, st.item...)
		buf = append(buf, `","output_index":0,"content_index":0,"delta":"`...)
		for _, f := range frags {
			buf = append(buf, f...)
		}
		return append(buf, `","logprobs":[]}`+"\n\n"...)
	}
	for i := range st.n {
		buf = append(buf, `data: {"choices":[{"content_filter_results":`...)
		buf = append(buf, contentFilter...)
		buf = append(buf, `,"delta":{"content":"`...)
		for _, f := range frags {
			buf = append(buf, f...)
		}
		buf = append(buf, `"}`...)
		buf = append(buf, st.tails[i]...)
	}
	return buf
}

// outText is choice 0's whole output: an agent's answer's, or words.
func (st *stream) outText() string {
	if st.ans != nil {
		return st.ans.text
	}
	return st.text(0)
}

// fit is an instance of sch (a JSON object of words when nil) of about
// target tokens, at most target when the schema allows: its strings are
// filled with more or fewer words until it fits.
func (d *deployment) fit(sch *schema.Schema, words []string, target int, seed uint64) string {
	if sch == nil {
		sch = d.objectSchema()
	}
	fill, best, bestN, last, lastN := target, "", -1, "", -1
	for range 6 {
		out := string(sch.Instance(nil, words, fill, seed))
		n := d.tok.Count(out)
		if n <= target && n > bestN {
			best, bestN = out, n
		}
		if n == target || n == lastN {
			break // fits, or the strings do not change its size
		}
		last, lastN = out, n
		fill = max(fill+target-n, 1)
	}
	if bestN < 0 {
		return last
	}
	return best
}

// fragments splits text at its tokens' ends (offs), each piece
// JSON-escaped; a token that ends inside a character joins the next.
func fragments(text string, offs []int) []string {
	out := make([]string, 0, len(offs))
	start := 0
	for _, end := range offs {
		if !utf8.ValidString(text[start:end]) && end < len(text) {
			continue
		}
		b, _ := json.Marshal(text[start:end])
		out = append(out, string(b[1:len(b)-1]))
		start = end
	}
	return out
}
