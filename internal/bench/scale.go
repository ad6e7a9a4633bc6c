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
	simPin, loadPin, niced, err := scalePrefixes(o.Pin)
	if err != nil {
		return err
	}
	sp, err := startSimSpec(o.Exe, fmt.Sprintf("tpm=0,ttft=100ms,itl=%s,jitter=0,prefill_per_token=0,max_concurrency=0,tokens_per_chunk=%d", o.ITL, o.Chunk), simPin...)
	if err != nil {
		return err
	}
	defer sp.stop()
	// Streams start evenly over a ramp, as independent users would (all at
	// once, every stream's tokens would fall due at the same instants);
	// the clients cap then holds them at opts.Streams, since none ends.
	// After the ramp the simulator's figures are reset and measured.
	ramp := 10 * time.Second
	load, err := startStreams(ctx, o, sp.addr, loadPin, ramp+2*time.Second+o.Duration)
	if err != nil {
		return err
	}
	defer load.kill()
	if err := load.outlast(ramp + 2*time.Second); err != nil {
		return err
	}
	m, err := measureScale(sp, o)
	if err != nil {
		return err
	}
	m.print(w, o, niced)
	return nil
}

// scalePrefixes returns the command prefixes of the simulator and of the
// load generator, and what the second says of the niceness, for the
// report.
func scalePrefixes(pin bool) (simPin, loadPin []string, niced string, err error) {
	simPin, err = taskset(pin, "0")
	if err != nil {
		return nil, nil, "", err
	}
	loadPin, _ = taskset(pin, "1")
	// The load generator only holds the streams open and reads them; run
	// it at the lowest priority, as if it were on other machines. At equal
	// priority, the reader each write wakes takes the simulator's core
	// for milliseconds (p99 11 ms against 4 ms niced, floor 2 to 3.5 ms).
	if p, err := exec.LookPath("nice"); err == nil {
		loadPin = append([]string{p, "-n", "19"}, loadPin...)
		niced = "; load generator at nice 19"
	}
	return simPin, loadPin, niced, nil
}

// streams is aoaibench load holding the scale check's streams open.
type streams struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	exited chan error // cmd.Wait's error, once
}

// startStreams starts aoaibench load against the simulator at addr,
// prefixed with pin: o.Streams closed-loop clients, started over the
// ramp, for total.
func startStreams(ctx context.Context, o ScaleOptions, addr string, pin []string, total time.Duration) (*streams, error) {
	args := append(pin, o.Exe, "load", "http://"+addr, "--api", "azure", "-e", "bench", "--model", "gpt-4o-mini",
		"-c", strconv.Itoa(o.Streams), "-r", strconv.Itoa(o.Streams*6),
		"-d", strconv.FormatFloat(total.Seconds(), 'f', -1, 64), "-p", "20", "-m", strconv.Itoa(o.Tokens),
		"--no-probe", "--output-dir", filepath.Join(o.Dir, "scale"), "--drain-timeout", "1")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	l := &streams{cmd: cmd, stderr: &strings.Builder{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, l.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { l.exited <- cmd.Wait() }()
	return l, nil
}

// outlast waits d, refusing a load that ended before.
func (l *streams) outlast(d time.Duration) error {
	select {
	case err := <-l.exited:
		l.exited <- err
		return fmt.Errorf("bench: load ended during the ramp: %v: %s", err, lastLine(l.stderr.String()))
	case <-time.After(d):
		return nil
	}
}

// kill ends the load and waits for it.
func (l *streams) kill() {
	l.cmd.Process.Kill()
	<-l.exited
}

// scaleFigures are what the scale check measured after the ramp.
type scaleFigures struct {
	peak  int64         // streams active at peak
	span  float64       // seconds measured
	cpu   float64       // the simulator's CPU seconds in the span
	st    sim.Stats     // the simulator's figures at the end
	every time.Duration // the bare clock's period
	floor metrics.Dist  // how late the bare clock woke
}

// measureScale resets the simulator's figures and measures it for
// o.Duration, with the machine's floor in the same window: a thread that
// only naps to due times as dense as the simulator's chunks.
func measureScale(sp *simProc, o ScaleOptions) (*scaleFigures, error) {
	resp, err := http.Post("http://"+sp.addr+"/sim/reset", "", nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	resp.Body.Close()
	pid := sp.cmd.Process.Pid
	t1, cpu0 := time.Now(), cpuOf(pid)
	m := &scaleFigures{every: o.ITL * time.Duration(o.Chunk) / time.Duration(o.Streams)}
	floor := make(chan metrics.Dist, 1)
	go func() { floor <- bareClock(m.every, o.Duration) }()
	for time.Since(t1) < o.Duration {
		time.Sleep(time.Second)
		if st, err := sp.stats(); err == nil {
			m.peak = max(m.peak, st.Deployments["bench"].Active)
		}
	}
	if m.st, err = sp.stats(); err != nil {
		return nil, err
	}
	m.span, m.cpu = time.Since(t1).Seconds(), cpuOf(pid)-cpu0
	m.floor = <-floor
	return m, nil
}

// print writes the scale check's two lines: the simulator's, and the
// machine's floor.
func (m *scaleFigures) print(w io.Writer, o ScaleOptions, niced string) {
	te := m.st.Deployments["bench"].TimingError
	pinned := ""
	if o.Pin {
		pinned = "simulator pinned to CPU 0, load generator to CPU 1"
	}
	if pinned += niced; pinned != "" {
		pinned = " (" + strings.TrimPrefix(pinned, "; ") + ")"
	}
	fl := m.floor
	fmt.Fprintf(w, "simulator scale%s: %d streams asked, %d active at peak; %.0f tokens/s streamed (%d per chunk, %v per token); chunk writes late by p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms over %d chunks; simulator CPU %.2f cores\n",
		pinned, o.Streams, m.peak, float64(streamedTokens(m.st))/m.span, o.Chunk, o.ITL, val(te.P50)*1e3, val(te.P90)*1e3, val(te.P99)*1e3, val(te.Max)*1e3, te.Count, m.cpu/m.span)
	fmt.Fprintf(w, "machine floor, same window: a bare thread napping to a due time every %v (no writes) wakes late by p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		m.every, fl.P50.F()*1e3, fl.P90.F()*1e3, fl.P99.F()*1e3, fl.Max.F()*1e3)
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
