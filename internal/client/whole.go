package client

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/aoaibench/aoaibench/internal/plan"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/metrics"
)

// maxWhole bounds a whole answer: an embeddings batch of 2,048 vectors of
// 3,072 floats is about 60 MB of JSON; any other answer, 16 MB (the
// longest SSE line the stream reader takes).
const (
	maxWhole      = 16 << 20
	maxEmbeddings = 128 << 20
)

// whole reads a JSON answer that is not streamed: its text for the
// tokenizer, its finish_reason and usage; no event, so no TTFT or TPOT is
// made up from one arrival. want is the n asked for.
func (c *Client) whole(ctx, actx context.Context, w *metrics.Wire, body io.Reader, h http.Header, want int) {
	most := int64(maxWhole)
	if c.cfg.Endpoint.Type == plan.Embeddings {
		most = maxEmbeddings
	}
	b, err := io.ReadAll(io.LimitReader(body, most+1))
	if err != nil {
		class := c.errClass(ctx, actx, metrics.Stream)
		c.fail(w, class, c.errMessage(class, err))
		return
	}
	if int64(len(b)) > most {
		c.fail(w, metrics.Stream, fmt.Sprintf("answer over %d MB", most>>20))
		return
	}
	var ck api.Chunk
	if err := api.ParseAnswer(b, &ck); err != nil {
		c.fail(w, metrics.Stream, fmt.Sprintf("malformed answer (%s): %s", bodyKind(h, int64(len(b))), b[:min(len(b), 16<<10)]))
		return
	}
	if ck.HasError {
		c.fail(w, metrics.Stream, "error answer: "+ck.ErrMessage)
		return
	}
	if ck.NotVectors > 0 {
		c.fail(w, metrics.Stream, fmt.Sprintf("answer held %d embeddings that are not vectors of numbers", ck.NotVectors))
		return
	}
	if ck.BadUsage != "" {
		w.Warnf("usage %s: ignored", ck.BadUsage)
	}
	if ck.HasUsage {
		mergeUsage(&w.Usage, ck.Usage)
	}
	start := 0
	for _, d := range ck.Deltas {
		if msg := badIndex(d.Index, want); msg != "" {
			c.fail(w, metrics.Stream, msg)
			return
		}
		w.Grow(d.Index)
		// Reasoning text is kept, as a stream's is; a summary of hidden
		// reasoning is not output.
		if d.Kind != metrics.ReasoningSummary {
			text := ck.Text[start:d.End]
			if room := metrics.MaxText - len(w.Text[d.Index]); room > 0 {
				w.Text[d.Index] = append(w.Text[d.Index], text[:min(len(text), room)]...)
			}
			w.Reasoned = w.Reasoned || d.Kind == metrics.Reasoning && d.End > start
		}
		start = d.End
	}
	if len(ck.Calls) > 0 {
		cs := &calls{}
		cs.reset()
		msg := cs.file(w, &ck)
		c.sealCalls(w)
		if msg != "" {
			c.fail(w, metrics.Stream, msg)
			return
		}
	}
	for _, f := range ck.Finish {
		if msg := badIndex(f.Index, want); msg != "" {
			c.fail(w, metrics.Stream, msg)
			return
		}
		w.Grow(f.Index)
		w.Finish[f.Index] = c.finishReason(f.Reason)
	}
	w.Embeddings = ck.Embeddings
	w.End = c.now()
	w.Class = metrics.OK
}
