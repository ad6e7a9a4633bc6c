package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TrafficOptions configure the workload comparison.
type TrafficOptions struct {
	Exe           string
	Rate          float64       // requests per minute of every step
	Step          time.Duration // how long each step sends
	Conversations int           // of the generated ShareGPT file
	Dataset       string        // a dataset to use instead of the generated one
	Dir           string        // scratch directory
}

// Traffic measures what each kind of workload costs the load generator
// at the same rate against the same simulator: the fixed shape (the
// ladder's), --synthetic distributions, a ShareGPT dataset, and
// three-turn conversations. Each is a separate aoaibench process; its
// CPU per 1,000 requests and peak RSS are its own. The dataset step also
// gives the time from the process's start to its first request.
func Traffic(ctx context.Context, o TrafficOptions, w io.Writer) error {
	ds := o.Dataset
	if ds == "" {
		ds = filepath.Join(o.Dir, "sharegpt.json")
		t0 := time.Now()
		size, err := WriteShareGPT(ds, o.Conversations, 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "dataset: %d ShareGPT conversations, %.1f MB, written in %.1f s\n", o.Conversations, float64(size)/1e6, time.Since(t0).Seconds())
	}
	base := Options{Exe: o.Exe, Step: o.Step, TTFT: 200 * time.Millisecond, ITL: 20 * time.Millisecond, Tokens: 50, Dir: o.Dir}
	steps := []struct {
		name string
		args []string
	}{
		{"fixed shape", nil},
		{"synthetic", []string{"--synthetic", "prompt_tokens=100,prompt_tokens_stdev=30,prompt_tokens_min=20,prompt_tokens_max=200,output_tokens=50"}},
		{"dataset", []string{"--dataset", ds, "--max-tokens", "50"}},
		{"dataset shuffled", []string{"--dataset", ds, "--max-tokens", "50", "--dataset-shuffle"}},
		{"3-turn chats", []string{"--turns", "3", "-p", "100", "-m", "50"}},
	}
	fmt.Fprintf(w, "at %.0f RPM for %v each, against a simulator of %v TTFT, %v per token, 50 output tokens:\n", o.Rate, o.Step, base.TTFT, base.ITL)
	fmt.Fprintf(w, "%-17s %9s %9s %8s %9s %7s %7s %9s\n", "workload", "sent", "done", "lag99ms", "cpu/1k s", "ratio", "rssMB", "firstreq")
	var fixed float64
	for _, st := range steps {
		var s Step
		if err := loadStep(ctx, base, o.Rate, &s, st.args...); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		if fixed == 0 {
			fixed = s.CPUPer1K
		}
		fmt.Fprintf(w, "%-17s %9.1f %9.1f %8.3f %9.3f %7.2f %7.1f %7.0fms\n", st.name, s.SendRPM, s.DoneRPM, s.LagP99*1e3,
			s.CPUPer1K, s.CPUPer1K/fixed, s.PeakRSSMB, s.FirstReq*1e3)
	}
	fmt.Fprintln(w, "ratio: CPU per request against the fixed shape's; firstreq: from the process's start to the simulator's first request")
	return nil
}

// shareWords are the words of generated conversations: common English,
// with the punctuation, numbers and code that make a tokenizer work as
// it does on real chats.
var shareWords = strings.Fields(`the of and to a in is that for it as was with be by on not he I this are or his
from at which but have an they you were her she there been one all we their has would when if so can what
about more will out up no into do could time only other new some very my also than its how our first after
well way many where even most like because much any those work through long may should down world still
over such make back years state good great people use system data model request token latency throughput
deployment capacity quota region function return value error string number table query server client
Please explain why. Can you write a short story? What is the difference between TCP and UDP? Translate:
bonjour le monde, ¿qué tal? 数据 模型 東京 München naïve café résumé 1234 42 3.14159 2026-12-02 $19.99 100%
func main() { fmt.Println("hello") } for i in range(10): print(i) SELECT * FROM users WHERE id = 7;
<div class="x"> {"key": [1, 2, 3]} x += 1; // comment # heading - bullet * item (note) [link] e.g. i.e.`)

// WriteShareGPT writes n generated ShareGPT conversations of one to four
// turns, with human turns of 10 to 400 words and answers of 20 to 600,
// and returns the file's size.
func WriteShareGPT(path string, n int, seed uint64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, 0x5a4e))
	text := func(lo, hi int) string {
		k := lo + r.IntN(hi-lo+1)
		var b strings.Builder
		for i := range k {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(shareWords[r.IntN(len(shareWords))])
			if r.IntN(12) == 0 {
				b.WriteString(".\n")
			}
		}
		return b.String()
	}
	bw.WriteString("[\n")
	type msg struct {
		From  string `json:"from"`
		Value string `json:"value"`
	}
	for i := range n {
		var c struct {
			ID            string `json:"id"`
			Conversations []msg  `json:"conversations"`
		}
		c.ID = "gen" + strconv.Itoa(i)
		for range 1 + r.IntN(4) {
			c.Conversations = append(c.Conversations, msg{"human", text(10, 400)}, msg{"gpt", text(20, 600)})
		}
		b, _ := json.Marshal(c)
		bw.Write(b)
		if i+1 < n {
			bw.WriteString(",\n")
		}
	}
	bw.WriteString("\n]\n")
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("bench: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return fi.Size(), nil
}
