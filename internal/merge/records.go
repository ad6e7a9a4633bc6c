package merge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// A shard's records are held to its summary: a run writes every request
// it dispatched to requests.jsonl once, and its summary counts the same
// requests but those of the warmup. Shard i of n numbers its requests
// i, i+n, i+2n... in the order it dispatched them, so its ids are exactly
// i+k·n for k from 0 to its records less one, whatever order they ended
// in; the warmup's are the first.

// tally is what a shard's records add up to.
type tally struct {
	records, warmup int64
	// lastWarm and firstCounted are the k (id = i+k·n) of the warmup's
	// last record and the counted records' first (-1: none).
	lastWarm, firstCounted int64
	classes                [8]int64 // by classOf (OK first)
	// sums of the whole numbers: attempts, throttles and new_conns over
	// the counted records, the tokens, choices and events over the ok ones.
	sums                       [firstSeconds]int64
	protos                     int64 // counted records that name a protocol
	cachedReqs, cacheReported  int64
	lag, headers, failed       int64 // values of the histograms of every counted record
	ttft, ttftSched            int64 // ... and of the ok ones
	e2e, e2eSched              int64
	ttftCached, ttftUncached   int64
	ttftContent, ttftReasoning int64
	answers                    [3]int64 // ok records by answer kind (metrics.AnswerKinds)
}

// add counts one record.
func (t *tally) add(r *rec, k int64) {
	t.records++
	if r.warmup {
		t.warmup++
		t.lastWarm = max(t.lastWarm, k)
		return
	}
	if t.firstCounted < 0 || k < t.firstCounted {
		t.firstCounted = k
	}
	t.classes[r.class]++
	for _, key := range []int{kAttempts, kThrottles, kNewConns} {
		t.sums[key] += max(r.n[key], 0)
	}
	if r.proto {
		t.protos++
	}
	if r.has(kLag) {
		t.lag++
	}
	if r.has(kHeaders) {
		t.headers++
	}
	if r.class != 0 {
		if r.has(kE2E) {
			t.failed++ // time to failure
		}
		return
	}
	for _, key := range []int{kPrompt, kOutput, kVisible, kQuota, kReasoning, kCached, kChoices, kEvents} {
		t.sums[key] += max(r.n[key], 0)
	}
	if r.answer >= 0 {
		t.answers[r.answer]++
	}
	if r.n[kCached] >= 0 {
		t.cacheReported++
	}
	if r.has(kTTFT) {
		t.ttft++
		if r.n[kCached] > 0 {
			t.ttftCached++
		} else {
			t.ttftUncached++
		}
	}
	if r.has(kTTFTSched) {
		t.ttftSched++
	}
	if r.n[kCached] > 0 {
		t.cachedReqs++
	}
	if r.has(kTTFTReasoning) {
		// Only a stream that reasons has two first moments to tell apart.
		t.ttftReasoning++
		if r.has(kTTFTContent) {
			t.ttftContent++
		}
	}
	if r.has(kE2E) {
		t.e2e++
	}
	if r.has(kE2ESched) {
		t.e2eSched++
	}
}

// checkRecords reads the shard's requests.jsonl: every line a record of
// this shard's, each request once, the warmup first; it returns what they
// add up to.
func (s *shard) checkRecords() (*tally, error) {
	path := filepath.Join(s.dir, "requests.jsonl")
	fi, err := os.Stat(path)
	if err != nil {
		return nil, plan.Errorf("merge: %s: %v", path, errors.Unwrap(err))
	}
	s.checked = fi
	// A bit for each request the shard may have sent, as they come: a
	// shard of a million records takes 125 KB. No record line is shorter
	// than {"id":0,"class":"ok"} and its newline, so a shard's requests
	// number at most its file's size over 22; an id past twice that is
	// not the shard's (and one up to it is told as a missing record).
	bound := fi.Size()/11 + 64
	var seen []uint64
	i, n := int64(s.run.Load.Shard.Index), int64(s.run.Load.Shard.Count)
	warmup := s.run.Load.Warmup.Seconds()
	t := &tally{lastWarm: -1, firstCounted: -1}
	var r rec
	s.tidy, err = eachLine(path, func(no int64, b []byte) error {
		where := func(format string, a ...any) error {
			return plan.Errorf("merge: %s:%d: %s", path, no, fmt.Sprintf(format, a...))
		}
		if err := r.parse(b, false); err != nil {
			return where("not a record: %v", err)
		}
		if r.id%n != i {
			return where("id %d is shard %d's of %d, not this shard's (%d)", r.id, r.id%n, n, i)
		}
		k := r.id / n
		if k >= bound {
			return where("id %d is this shard's request %d, more than a file of %d bytes holds", r.id, k, fi.Size())
		}
		for int64(len(seen)) <= k/64 {
			seen = append(seen, 0)
		}
		if seen[k/64]&(1<<(k%64)) != 0 {
			return where("id %d is there twice", r.id)
		}
		seen[k/64] |= 1 << (k % 64)
		if r.warmup && warmup == 0 {
			return where("a record of the warmup, but the run had none")
		}
		if r.has(kSched) {
			// The warmup is what was scheduled before its end: a record
			// is of it or not by its sched (written to the µs).
			sched, _ := strconv.ParseFloat(string(b[r.at[0].from:r.at[0].to]), 64)
			switch {
			case r.warmup && sched > warmup+1e-6:
				return where("a record of the warmup scheduled at %g s, after the warmup's %g s", sched, warmup)
			case !r.warmup && sched < warmup-1e-6:
				return where("scheduled at %g s, in the warmup (%g s), but not marked warmup", sched, warmup)
			}
		}
		t.add(&r, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// As many distinct requests as records, each below the count: then
	// they are all of them.
	for k := range t.records {
		if k/64 >= int64(len(seen)) || seen[k/64]&(1<<(k%64)) == 0 {
			last := int64(len(seen))*64 - 1
			for seen[last/64]&(1<<(last%64)) == 0 {
				last--
			}
			return nil, plan.Errorf("merge: %s: no record of request %d (this shard's request %d) though there is one of request %d: a record is missing",
				path, k*n+i, k, last*n+i)
		}
	}
	if t.warmup > 0 && t.firstCounted >= 0 && t.lastWarm > t.firstCounted {
		return nil, plan.Errorf("merge: %s: request %d is of the warmup but request %d before it is not", path, t.lastWarm*n+i, t.firstCounted*n+i)
	}
	s.records = t.records
	return t, nil
}

// compare holds the shard's summary to its records: the requests by
// class, their attempts, tokens and connections, and the values of the
// histograms that the records tell.
func (s *shard) compare(t *tally) error {
	if err := s.compareCounts(t); err != nil {
		return err
	}
	if err := s.compareBounds(t); err != nil {
		return err
	}
	return s.compareRates(t)
}

// pastWarmup is what the counts of every counted record are said to be
// past, for a message: the warmup's records, if any.
func (t *tally) pastWarmup() string {
	if t.warmup > 0 {
		return fmt.Sprintf(" past the %d of the warmup", t.warmup)
	}
	return ""
}

// count is the summary's count of values of latency histogram name.
func (s *shard) count(name string) int64 { return s.results.Latency[name].Count }

// compareCounts holds the summary's counts to the records' where the
// records tell them exactly.
func (s *shard) compareCounts(t *tally) error {
	q, tk := s.results.Requests, s.results.Tokens
	counted := t.records - t.warmup
	warm := t.pastWarmup()
	for _, c := range []struct {
		field      string
		claim, got int64
		what       string
	}{
		{"requests.sent", q.Sent, counted, "records" + warm},
		{"requests.ok", q.OK, t.classes[0], "ok records" + warm},
		{"requests.throttled", q.Throttled, t.classes[1+classIndex(metrics.Throttled)], "throttled records" + warm},
		{"requests.http", q.HTTP, t.classes[1+classIndex(metrics.HTTPStatus)], "http records" + warm},
		{"requests.timeout", q.Timeout, t.classes[1+classIndex(metrics.Timeout)], "timeout records" + warm},
		{"requests.connection", q.Connection, t.classes[1+classIndex(metrics.Connection)], "connection records" + warm},
		{"requests.stream", q.Stream, t.classes[1+classIndex(metrics.Stream)], "stream records" + warm},
		{"requests.incomplete", q.Incomplete, t.classes[1+classIndex(metrics.Incomplete)], "incomplete records" + warm},
		{"requests.attempts", q.Attempts, t.sums[kAttempts], "attempts" + warm},
		{"requests.throttled_attempts", q.ThrottledAttempts, t.sums[kThrottles], "throttled attempts" + warm},
		{"connections.new", s.results.Connections.New, t.sums[kNewConns], "new connections" + warm},
		{"tokens.prompt", tk.Prompt, t.sums[kPrompt], "prompt tokens of ok records"},
		{"tokens.output", tk.Output, t.sums[kOutput], "output tokens of ok records"},
		{"tokens.visible", tk.Visible, t.sums[kVisible], "visible tokens of ok records"},
		{"tokens.reasoning", tk.Reasoning, t.sums[kReasoning], "reasoning tokens of ok records"},
		{"tokens.cached", tk.Cached, t.sums[kCached], "cached tokens of ok records"},
		{"tokens.cached_requests", tk.CachedRequests, t.cachedReqs, "ok records with cached tokens"},
		{"tokens.cache_reported", tk.CacheReported, t.cacheReported, "ok records that report cached tokens"},
		{"latency.lag.count", s.count("lag"), t.lag, "schedule lags" + warm},
		{"latency.headers.count", s.count("headers"), t.headers, "header times" + warm},
		{"latency.failed.count", s.count("failed"), t.failed, "times to failure" + warm},
		{"latency.ttft.count", s.count("ttft"), t.ttft, "TTFTs of ok records"},
		{"latency.ttft_sched.count", s.count("ttft_sched"), t.ttftSched, "ttft_sched of ok records"},
		{"latency.e2e.count", s.count("e2e"), t.e2e, "e2e of ok records"},
		{"latency.e2e_sched.count", s.count("e2e_sched"), t.e2eSched, "e2e_sched of ok records"},
		{"latency.ttft_cached.count", s.count("ttft_cached"), t.ttftCached, "TTFTs of ok records with cached tokens"},
		{"latency.ttft_uncached.count", s.count("ttft_uncached"), t.ttftUncached, "TTFTs of ok records without cached tokens"},
		{"latency.ttft_reasoning.count", s.count("ttft_reasoning"), t.ttftReasoning, "ttft_reasoning of ok records"},
		{"latency.ttft_content.count", s.count("ttft_content"), t.ttftContent, "ttft_content of ok records that reasoned"},
	} {
		if c.claim != c.got {
			return plan.Errorf("merge: %s/summary.json: %s is %d but requests.jsonl holds %d %s", s.dir, c.field, c.claim, c.got, c.what)
		}
	}
	return s.compareAnswers(t)
}

// compareAnswers holds the summary's answers by kind to the ok records'
// kinds: a summary without answers claims no tool call and no
// structured answer (its text answers it does not count).
func (s *shard) compareAnswers(t *tally) error {
	var a metrics.Answers
	if s.results.Answers != nil {
		a = *s.results.Answers
	}
	claims := []int64{a.Text, a.ToolCall, a.Structured}
	for i, k := range metrics.AnswerKinds {
		if s.results.Answers == nil && k == metrics.TextAnswer {
			continue
		}
		if claims[i] != t.answers[i] {
			return plan.Errorf("merge: %s/summary.json: answers.%s is %d but requests.jsonl holds %d ok records answering %s",
				s.dir, k, claims[i], t.answers[i], k)
		}
	}
	return nil
}

// compareBounds holds the summary's counts that the records bound but do
// not tell (a TPOT per choice at most, a chunk gap per event) to their
// bounds, and its connections by protocol to the records that name one.
func (s *shard) compareBounds(t *tally) error {
	q, tk := s.results.Requests, s.results.Tokens
	warm := t.pastWarmup()
	protos := int64(0)
	for name, n := range s.results.Connections.Protocols {
		if n < 0 {
			return plan.Errorf("merge: %s/summary.json: connections.protocols.%s is %d", s.dir, name, n)
		}
		protos += n
	}
	for _, c := range []struct {
		field       string
		claim, most int64
		what        string
	}{
		{"connections.protocols", protos, t.protos, "records that name a protocol" + warm},
		{"latency.tpot.count", s.count("tpot"), t.sums[kChoices], "choices of ok records"},
		{"latency.chunk_gap.count", s.count("chunk_gap"), t.sums[kEvents], "events of ok records"},
		{"tokens_per_s.count", s.results.TokensPerS.Count, s.count("tpot"), "TPOTs"},
		{"latency.not_sent_lag.count", s.count("not_sent_lag"), q.NotSent, "requests not sent"},
		{"tokens.mismatched", tk.Mismatched, tk.Compared, "compared"},
		{"tokens.compared", tk.Compared, q.OK, "ok requests"},
	} {
		if c.claim > c.most {
			return plan.Errorf("merge: %s/summary.json: %s is %d, more than its %d %s", s.dir, c.field, c.claim, c.most, c.what)
		}
	}
	if c := "connections.protocols"; protos != t.protos {
		return plan.Errorf("merge: %s/summary.json: %s add up to %d but requests.jsonl holds %d records that name a protocol%s", s.dir, c, protos, t.protos, warm)
	}
	return nil
}

// compareRates holds the totals the summary keeps as rates, back to
// counts as the merge takes them, to the records'.
func (s *shard) compareRates(t *tally) error {
	q := s.results.Requests
	minutes := s.results.Window.F() / 60
	if v := s.results.TPM.Quota.F() * minutes; !math.IsNaN(v) && int64(math.Round(v)) != t.sums[kQuota] {
		return plan.Errorf("merge: %s/summary.json: tpm.quota over window_s is %.0f tokens but requests.jsonl holds %d quota tokens of ok records", s.dir, v, t.sums[kQuota])
	}
	if v := s.results.RPM.Goodput.F() * minutes; !math.IsNaN(v) && int64(math.Round(v)) > q.OK {
		return plan.Errorf("merge: %s/summary.json: rpm.goodput over window_s is %.0f requests, more than its %d ok", s.dir, v, q.OK)
	}
	return nil
}

// classIndex is a failure class's index in metrics.Classes.
func classIndex(c metrics.Class) int { return classOf([]byte(c)) - 1 }

// eachLine calls f with every line of a file that is not blank, and its
// number from 1, without its newline; b is valid only during the call.
// It reports whether the file is tidy: every line a record, with nothing
// around it but its newline, as the writer writes them.
func eachLine(path string, f func(no int64, b []byte) error) (tidy bool, err error) {
	in, err := os.Open(path)
	if err != nil {
		return false, plan.Errorf("merge: %s: %v", path, errors.Unwrap(err))
	}
	defer in.Close()
	r := bufio.NewReaderSize(in, 1<<16)
	var long []byte // a line longer than the reader's buffer
	tidy = true
	for no := int64(1); ; no++ {
		b, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], b...)
			for err == bufio.ErrBufferFull {
				b, err = r.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if err != nil && err != io.EOF {
			return false, fmt.Errorf("merge: reading %s: %w", path, err)
		}
		line := bytes.TrimSpace(b)
		if len(line) > 0 {
			if ferr := f(no, line); ferr != nil {
				return false, ferr
			}
		}
		if err == io.EOF {
			return tidy && len(b) == 0, nil
		}
		tidy = tidy && len(line) > 0 && len(line) == len(b)-1
	}
}

// writeRecords writes every shard's records to path, their moments
// (sched, send, end: seconds from their shard's start) moved to the
// merged run's clock; durations stay as they are. The records were
// checked: each line is read only as far as its moments, and a file
// that is not as it was when checked is refused.
func writeRecords(path string, shards []*shard, start time.Time) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, plan.Errorf("merge -o: %v", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	var n int64
	var r rec
	var out []byte
	for _, s := range shards {
		in := filepath.Join(s.dir, "requests.jsonl")
		if fi, err := os.Stat(in); err != nil || fi.Size() != s.checked.Size() || !fi.ModTime().Equal(s.checked.ModTime()) {
			f.Close()
			return 0, plan.Errorf("merge: %s changed during the merge", in)
		}
		shift := s.start.Sub(start).Seconds()
		if shift == 0 && s.tidy {
			// Nothing to move or tidy: the file as it is (the system
			// copies it).
			in, err := os.Open(in)
			if err == nil {
				_, err = w.ReadFrom(in)
				in.Close()
			}
			if err != nil {
				f.Close()
				return 0, fmt.Errorf("merge: writing requests.jsonl: %w", err)
			}
			n += s.records
			continue
		}
		_, err := eachLine(in, func(no int64, b []byte) error {
			if err := r.parse(b, true); err != nil {
				return fmt.Errorf("merge: %s:%d changed during the merge: %v", in, no, err)
			}
			out = out[:0]
			prev := 0
			at := r.at
			slices.SortFunc(at[:], func(a, b span) int { return a.from - b.from }) // in the writer's order, but any order is JSON
			for _, at := range at {
				if at.to == 0 || shift == 0 {
					continue // null, or nothing to move
				}
				v, _ := strconv.ParseFloat(string(b[at.from:at.to]), 64)
				out = append(out, b[prev:at.from]...)
				out = strconv.AppendFloat(out, v+shift, 'f', 6, 64)
				prev = at.to
			}
			out = append(append(out, b[prev:]...), '\n')
			n++
			_, err := w.Write(out)
			return err
		})
		if err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("merge: writing requests.jsonl: %w", err)
	}
	return n, f.Close()
}
