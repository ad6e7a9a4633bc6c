package output

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
)

// RecordLine appends one request's JSON line to b. Times are seconds from
// the run's start; figures that do not exist are null. The keys are read
// back by Record (in this package) and by the report.
func RecordLine(b []byte, r *metrics.Record, start time.Time) []byte {
	at := func(t time.Time) float64 {
		if t.IsZero() {
			return nan
		}
		return t.Sub(start).Seconds()
	}
	d := func(v time.Duration, ok bool) float64 {
		if !ok {
			return nan
		}
		return v.Seconds()
	}
	o := newObj(b)
	o.int("id", r.ID)
	o.str("class", string(r.Class))
	o.int("status", int64(r.Status))
	o.int("attempts", int64(r.Attempts))
	o.int("throttles", int64(r.Throttles))
	o.num("sched", at(r.Sched), 6)
	o.num("send", at(r.Send), 6)
	o.num("end", at(r.End), 6)
	o.num("lag", d(r.Lag()), 6)
	o.num("headers", d(r.Headers()), 6)
	o.num("ttft", d(r.TTFT()), 6)
	o.num("ttft_sched", d(r.TTFTSched()), 6)
	o.num("tpot", d(r.TPOT()), 6)
	o.num("e2e", d(r.E2E()), 6)
	o.num("e2e_sched", d(r.E2ESched()), 6)
	tps, ok := r.TokensPerSec()
	if !ok {
		tps = nan
	}
	o.num("tokens_per_s", tps, 3)
	o.int("prompt_tokens", int64(r.PromptTokens()))
	o.int("output_tokens", int64(r.OutputTokens()))
	o.optInt("server_prompt_tokens", r.ServerPrompt)
	o.optInt("server_output_tokens", r.ServerOutput)
	o.optInt("client_prompt_tokens", r.ClientPrompt)
	o.optInt("client_output_tokens", r.ClientOutput)
	o.int("events", int64(r.Events))
	o.str("finish", r.Finish)
	o.str("request_id", r.RequestID)
	o.num("util", r.Util, 1)
	o.optInt("remaining_requests", r.RemainingRequests)
	o.optInt("remaining_tokens", r.RemainingTokens)
	o.num("retry_after", r.RetryAfter.Seconds(), 3)
	o.str("error", r.Err)
	return append(o.bytes(), '\n')
}

// RecordWriter writes records as JSON lines, flushing each, so a crash loses
// at most the line being written.
type RecordWriter struct {
	w     *bufio.Writer
	start time.Time
	buf   []byte
	err   error
}

// NewRecordWriter writes records of a run started at start to w.
func NewRecordWriter(w io.Writer, start time.Time) *RecordWriter {
	return &RecordWriter{w: bufio.NewWriterSize(w, 4096), start: start}
}

// Write writes one record. After a write error it writes nothing more and
// Err reports the error.
func (rw *RecordWriter) Write(r *metrics.Record) {
	if rw.err != nil {
		return
	}
	rw.buf = RecordLine(rw.buf[:0], r, rw.start)
	if _, err := rw.w.Write(rw.buf); err != nil {
		rw.err = fmt.Errorf("writing requests.jsonl: %w", err)
		return
	}
	if err := rw.w.Flush(); err != nil {
		rw.err = fmt.Errorf("writing requests.jsonl: %w", err)
	}
}

// Err returns the first write error.
func (rw *RecordWriter) Err() error { return rw.err }
