package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
	"github.com/aoaibench/aoaibench/internal/nap"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// ScaleOptions configure the simulator scale check.
type ScaleOptions struct {
	Exe      string
	Streams  int           // concurrent streams
	ITL      time.Duration // per token
	Chunk    int           // tokens per chunk
	Tokens   int           // output tokens per request
	Duration time.Duration
	Dir      string
	// Pin runs the simulator on CPU 0 and the load generator on CPU 1
	// (with taskset), so that they do not compete for a core.
	Pin bool
}

// taskset returns the command prefix that pins a process to cpu.
func taskset(pin bool, cpu string) ([]string, error) {
	if !pin {
		return nil, nil
	}
	p, err := exec.LookPath("taskset")
	if err != nil {
		return nil, fmt.Errorf("bench: --pin needs taskset (util-linux): %w", err)
	}
	return []string{p, "-c", cpu}, nil
}

// Scale runs the simulator as its own process and holds opts.Streams
// concurrent streams against it with aoaibench load (closed loop), then
// prints the streams it held, the tokens per second it streamed, and how
// late its chunk writes were against their schedule.
func Scale(ctx context.Context, o ScaleOptions, w io.Writer) error {
	simPin, err := taskset(o.Pin, "0")
	if err != nil {
		return err
	}
	loadPin, _ := taskset(o.Pin, "1")
	// The load generator only holds the streams open and reads them; run
	// it at the lowest priority, as if it were on other machines. At equal
	// priority, the reader each write wakes takes the simulator's core
	// for milliseconds (p99 11 ms against 4 ms niced, floor 2 to 3.5 ms).
	niced := ""
	if p, err := exec.LookPath("nice"); err == nil {
		loadPin = append([]string{p, "-n", "19"}, loadPin...)
		niced = "; load generator at nice 19"
	}
	sp, err := startSimSpec(o.Exe, fmt.Sprintf("tpm=0,ttft=100ms,itl=%s,jitter=0,prefill_per_token=0,max_concurrency=0,tokens_per_chunk=%d", o.ITL, o.Chunk), simPin...)
	if err != nil {
		return err
	}
	defer sp.stop()
	addr := sp.addr
	// Streams start evenly over a ramp, as independent users would (all at
	// once, every stream's tokens would fall due at the same instants);
	// the clients cap then holds them at opts.Streams, since none ends.
	// After the ramp the simulator's figures are reset and measured.
	ramp := 10 * time.Second
	total := ramp + 2*time.Second + o.Duration
	args := append(loadPin, o.Exe, "load", "http://"+addr, "--api", "azure", "-e", "bench", "--model", "gpt-4o-mini",
		"-c", strconv.Itoa(o.Streams), "-r", strconv.Itoa(o.Streams*6),
		"-d", strconv.FormatFloat(total.Seconds(), 'f', -1, 64), "-p", "20", "-m", strconv.Itoa(o.Tokens),
		"--no-probe", "--output-dir", filepath.Join(o.Dir, "scale"), "--drain-timeout", "1")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	pid := sp.cmd.Process.Pid
	select {
	case err := <-exited:
		exited <- err
		return fmt.Errorf("bench: load ended during the ramp: %v: %s", err, lastLine(stderr.String()))
	case <-time.After(ramp + 2*time.Second):
	}
	resp, err := http.Post("http://"+addr+"/sim/reset", "", nil)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	resp.Body.Close()
	t1, cpu0 := time.Now(), cpuOf(pid)
	// The machine's own floor, in the same window: a thread that only
	// naps to due times as dense as the simulator's chunks.
	every := o.ITL * time.Duration(o.Chunk) / time.Duration(o.Streams)
	floor := make(chan metrics.Dist, 1)
	go func() { floor <- bareClock(every, o.Duration) }()
	var peak int64
	for time.Since(t1) < o.Duration {
		time.Sleep(time.Second)
		if st, err := sp.stats(); err == nil {
			peak = max(peak, st.Deployments["bench"].Active)
		}
	}
	st, err := sp.stats()
	if err != nil {
		return err
	}
	span, cpuN := time.Since(t1).Seconds(), cpuOf(pid)
	te := st.Deployments["bench"].TimingError
	fl := <-floor
	pinned := ""
	if o.Pin {
		pinned = "simulator pinned to CPU 0, load generator to CPU 1"
	}
	if pinned += niced; pinned != "" {
		pinned = " (" + strings.TrimPrefix(pinned, "; ") + ")"
	}
	fmt.Fprintf(w, "simulator scale%s: %d streams asked, %d active at peak; %.0f tokens/s streamed (%d per chunk, %v per token); chunk writes late by p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms over %d chunks; simulator CPU %.2f cores\n",
		pinned, o.Streams, peak, float64(streamedTokens(st))/span, o.Chunk, o.ITL, val(te.P50)*1e3, val(te.P90)*1e3, val(te.P99)*1e3, val(te.Max)*1e3, te.Count, (cpuN-cpu0)/span)
	fmt.Fprintf(w, "machine floor, same window: a bare thread napping to a due time every %v (no writes) wakes late by p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		every, fl.P50.F()*1e3, fl.P90.F()*1e3, fl.P99.F()*1e3, fl.Max.F()*1e3)
	return nil
}

// bareClock is the simulator's clock with nothing to do: for d, it naps
// to due times every apart, as the clock does (naps of at most 200 µs),
// and returns how late it woke for each. No design of the simulator on
// this machine, under the same load, can beat it.
func bareClock(every, d time.Duration) metrics.Dist {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := metrics.NewDurations()
	start := time.Now()
	due, end := start, start.Add(d)
	for now := start; now.Before(end); now = time.Now() {
		for !due.After(now) {
			h.Add(now.Sub(due))
			due = due.Add(every)
		}
		nap.Sleep(min(due.Sub(now), 200*time.Microsecond))
	}
	return h.Stats()
}

// streamedTokens is the tokens the simulator has written so far.
func streamedTokens(st sim.Stats) int64 {
	var n int64
	for _, d := range st.Deployments {
		n += d.StreamedTokens
	}
	return n
}

// cpuOf reads a live process's CPU seconds from /proc.
func cpuOf(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks; 100 per second on Linux
}
