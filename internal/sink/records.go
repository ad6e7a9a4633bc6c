package sink

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/aoaibench/aoaibench/internal/api"
	"github.com/aoaibench/aoaibench/internal/atomicfile"
	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
	"github.com/aoaibench/aoaibench/internal/schema"
)

var nan = math.NaN()

// RecordLine appends one request's JSON line to b. Times are seconds from
// the run's start; figures that do not exist are null. The keys are read
// back by the report, in this order: the first release's, then those
// added after it.
func RecordLine(b []byte, r *metrics.Record, start time.Time) []byte {
	o := newObj(b)
	firstKeys(o, r, start)
	laterKeys(o, r)
	return append(o.bytes(), '\n')
}

// firstKeys writes the keys of the first release.
func firstKeys(o *obj, r *metrics.Record, start time.Time) {
	o.int("id", r.ID)
	o.str("class", string(r.Class))
	o.int("status", int64(r.Status))
	o.int("attempts", int64(r.Attempts))
	o.int("throttles", int64(r.Throttles))
	o.num("sched", since(r.Sched, start), 6)
	o.num("send", since(r.Send, start), 6)
	o.num("end", since(r.End, start), 6)
	o.num("lag", seconds(r.Lag()), 6)
	o.num("headers", seconds(r.HeadersTime()), 6)
	o.num("ttft", seconds(r.TTFT()), 6)
	o.num("ttft_sched", seconds(r.TTFTSched()), 6)
	o.num("tpot", seconds(r.TPOT()), 6)
	o.num("e2e", seconds(r.E2E()), 6)
	o.num("e2e_sched", seconds(r.E2ESched()), 6)
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
}

// laterKeys writes the keys added after the first release; those of
// what most requests do not have (a spillover, a warning, a warmup, a
// session, the texts) only when the request has them.
func laterKeys(o *obj, r *metrics.Record) {
	o.int("visible_tokens", int64(r.VisibleTokens()))
	o.optInt("reasoning_tokens", r.ServerReasoning)
	o.optInt("cached_tokens", r.ServerCached)
	o.int("max_tokens", int64(r.MaxTokens))
	o.int("quota_tokens", int64(r.QuotaTokens()))
	o.int("choices", int64(max(len(r.Choices), 1)))
	o.num("ttft_content", seconds(r.TTFTContent()), 6)
	o.num("ttft_reasoning", seconds(r.TTFTReasoning()), 6)
	o.optInt("limit_requests", r.LimitRequests)
	o.optInt("limit_tokens", r.LimitTokens)
	o.str("region", r.Region)
	o.str("deployment", r.Deployment)
	if r.SpilledFrom != "" {
		o.str("spilled_from", r.SpilledFrom)
	}
	if r.Warn != "" {
		o.str("warning", r.Warn)
	}
	o.str("proto", r.Proto)
	o.int("new_conns", int64(r.NewConns))
	if r.Warmup {
		o.key("warmup")
		o.b = append(o.b, "true"...)
	}
	if r.Session >= 0 {
		o.int("session", r.Session)
		o.int("turn", int64(r.Turn))
	}
	answerKeys(o, r)
	if r.Text != nil {
		o.str("prompt_text", r.Text.Prompt)
		o.str("answer_text", r.Text.Answer)
	}
}

// answerKeys writes what the answer was, when it applies: its kind (of
// a successful request), its tool calls (how many, their names, the
// verdict on each one's arguments: null when not judged), a structured
// answer's verdict, the request's images (upload bytes, and tokens:
// null when not known).
func answerKeys(o *obj, r *metrics.Record) {
	if r.Answer != "" {
		o.str("answer", string(r.Answer))
	}
	if len(r.ToolNames) > 0 {
		o.int("tool_calls", int64(len(r.ToolNames)))
		o.key("tool_names")
		o.b = append(o.b, '[')
		for i, n := range r.ToolNames {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendString(o.b, n)
		}
		o.b = append(o.b, ']')
		o.key("tool_args")
		o.b = append(o.b, '[')
		for i, v := range r.ToolArgs {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendVerdict(o.b, v)
		}
		o.b = append(o.b, ']')
	}
	if r.Answer == metrics.StructuredAnswer {
		o.key("structured")
		o.b = appendVerdict(o.b, r.Structured)
	}
	if r.Images > 0 {
		o.int("images", int64(r.Images))
		o.int("image_bytes", int64(r.ImageBytes))
		o.optInt("image_tokens", r.ImageTokens)
	}
}

// appendVerdict appends a verdict as a JSON string, null when there is
// none (not judged).
func appendVerdict(b []byte, v schema.Verdict) []byte {
	if v == schema.Unchecked {
		return append(b, "null"...)
	}
	return appendString(b, string(v))
}

// since is t in seconds from start, or NaN (null) when t is unset.
func since(t, start time.Time) float64 {
	if t.IsZero() {
		return nan
	}
	return t.Sub(start).Seconds()
}

// seconds is v in seconds, or NaN (null) when it does not exist.
func seconds(v time.Duration, ok bool) float64 {
	if !ok {
		return nan
	}
	return v.Seconds()
}

// RecordWriter writes records as JSON lines through a buffer its owner
// flushes once a second (a run's tick) and at the end: one write a record
// was a system call on the hot path (a third of a run's writes at 6,000
// RPM). A crash of the process (kill -9) loses at most the last second's
// lines, and at most one line is cut, which readers skip; a run that ends
// on a signal, a hangup or a closed stdout flushes them all.
type RecordWriter struct {
	w     *bufio.Writer
	start time.Time
	buf   []byte
	err   error
}

// NewRecordWriter writes records of a run started at start to w.
func NewRecordWriter(w io.Writer, start time.Time) *RecordWriter {
	return &RecordWriter{w: bufio.NewWriterSize(w, 64<<10), start: start}
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
	}
}

// Flush writes the buffered lines out.
func (rw *RecordWriter) Flush() {
	if rw.err != nil {
		return
	}
	if err := rw.w.Flush(); err != nil {
		rw.err = fmt.Errorf("writing requests.jsonl: %w", err)
	}
}

// Err returns the first write error.
func (rw *RecordWriter) Err() error { return rw.err }

// Dir writes a run's files to an output directory: run.json (the plan)
// before the first request, requests.jsonl as requests end, summary.json
// and histograms.json at the end. The directory and requests.jsonl are
// made now, so that a path that cannot be written fails before the run.
// command is the command line, already redacted.
func Dir(dir, version string, command []string) (Sink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Sink{}, fmt.Errorf("--output-dir: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		return Sink{}, fmt.Errorf("--output-dir: %w", err)
	}
	var rw *RecordWriter
	return Sink{
		Start: func(s Start) error {
			rw = NewRecordWriter(f, s.T0)
			// A password in the URL stays out of the file: a re-run of the
			// plan asks for it again.
			pl := *s.Plan
			pl.Target.URL = api.WithoutPassword(pl.Target.URL)
			// So does a header value given on the command line: only
			// env:VAR references are kept.
			pl.Target.Headers = plan.HeadersForFile(pl.Target.Headers)
			pl.Output.ServerMetrics = nil
			for _, u := range s.Plan.Output.ServerMetrics {
				pl.Output.ServerMetrics = append(pl.Output.ServerMetrics, api.WithoutPassword(u))
			}
			info := plan.RunFile{Plan: pl, Tool: "aoaibench", Version: version, Command: command,
				Start: s.T0.UTC().Format(time.RFC3339Nano), Described: s.Target, Tokenizer: s.Tokenizer}
			js, err := json.MarshalIndent(info, "", "  ")
			if err != nil {
				return fmt.Errorf("run.json: %w", err)
			}
			return atomicfile.Write(filepath.Join(dir, "run.json"), js)
		},
		Record: func(r *metrics.Record) {
			if rw != nil {
				rw.Write(r)
			}
		},
		Tick: func(Tick) {
			if rw != nil {
				rw.Flush()
			}
		},
		End: func(e End) error {
			if rw != nil {
				rw.Flush()
			}
			cerr := f.Close()
			if rw != nil && rw.Err() != nil {
				return rw.Err()
			}
			if cerr != nil {
				return fmt.Errorf("writing requests.jsonl: %w", cerr)
			}
			js, err := json.MarshalIndent(e.Results, "", "  ")
			if err != nil {
				return fmt.Errorf("summary.json: %w", err)
			}
			if err := atomicfile.Write(filepath.Join(dir, "summary.json"), js); err != nil {
				return err
			}
			hf, err := e.Summary.HistFile()
			if err != nil {
				return fmt.Errorf("histograms.json: %w", err)
			}
			js, err = json.MarshalIndent(hf, "", "  ")
			if err != nil {
				return fmt.Errorf("histograms.json: %w", err)
			}
			return atomicfile.Write(filepath.Join(dir, "histograms.json"), js)
		},
	}, nil
}
