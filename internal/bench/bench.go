// Package bench measures aoaibench against the floor of what the machine
// allows: it runs the simulator and the load generator as separate
// processes on loopback, at a ladder of rates, and compares aoaibench with a
// minimal streaming client run the same way.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
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
	"github.com/aoaibench/aoaibench/internal/pace"
	"github.com/aoaibench/aoaibench/internal/sim"
)

// Options configure a benchmark run.
type Options struct {
	Exe      string        // the aoaibench binary
	Rates    []float64     // requests per minute, one step each
	Step     time.Duration // how long each step sends
	TTFT     time.Duration // the simulator's TTFT
	ITL      time.Duration // the simulator's time per token
	Tokens   int           // output tokens per request
	Soak     int64         // requests of the memory soak run; 0 skips it
	SoakRate float64
	Dir      string // scratch directory
}

// Step is one rung of the ladder.
type Step struct {
	Rate          float64
	SendRPM       float64 // achieved send rate
	DoneRPM       float64 // completions per minute
	LagP50        float64 // seconds
	LagP99        float64
	LagMax        float64
	TTFTErr       float64 // client TTFT p50 minus the simulator's, seconds
	TPOTErr       float64
	CPUPer1K      float64 // CPU seconds per 1,000 requests
	PeakRSSMB     float64
	FirstReq      float64 // seconds from process start to its first request
	FloorCPUPer1K float64
	FloorLagP99   float64
	FloorSendRPM  float64
	FloorTTFTErr  float64
}

// Holds reports whether a step meets the sustainability bar: schedule lag
// p99 under 5 ms and the send rate within 0.5% of target.
func (s Step) Holds() bool {
	return s.LagP99 < 0.005 && math.Abs(s.SendRPM-s.Rate) <= 0.005*s.Rate
}

// FloorHolds is Holds for the floor client.
func (s Step) FloorHolds() bool {
	return s.FloorLagP99 < 0.005 && math.Abs(s.FloorSendRPM-s.Rate) <= 0.005*s.Rate
}

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// simProc is a simulator running as its own process.
type simProc struct {
	cmd  *exec.Cmd
	addr string
}

func startSim(o Options) (*simProc, error) {
	return startSimSpec(o.Exe, fmt.Sprintf("tpm=0,ttft=%s,itl=%s,jitter=0,prefill_per_token=0,max_concurrency=0,default_output=%d", o.TTFT, o.ITL, o.Tokens))
}

// startSimSpec starts `aoaibench serve` with a --sim spec on a free port
// and waits until it answers.
func startSimSpec(exe, spec string, pin ...string) (*simProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	args := append(pin, exe, "serve", "--listen", addr, "-e", "bench", "--model", "gpt-4o-mini", "--sim", spec, "--stats", "0")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting the simulator: %w", err)
	}
	p := &simProc{cmd: cmd, addr: addr}
	for range 200 {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("bench: the simulator did not come up on %s", addr)
}

func (p *simProc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func (p *simProc) stats() (sim.Stats, error) {
	var st sim.Stats
	resp, err := http.Get("http://" + p.addr + "/sim/stats")
	if err != nil {
		return st, fmt.Errorf("bench: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// usage returns a finished process's CPU seconds and peak RSS in MB.
func usage(ps *os.ProcessState) (cpu, rssMB float64) {
	return (ps.UserTime() + ps.SystemTime()).Seconds(), maxRSS(ps)
}

var nan = math.NaN()

func val(p *float64) float64 {
	if p == nil {
		return nan
	}
	return *p
}

// truth returns the simulator's measured TTFT and TPOT p50.
func truth(st sim.Stats) (ttft, tpot float64) {
	for _, d := range st.Deployments {
		var n int64
		for _, c := range d.Classes {
			if c.Count > n && c.TTFT.P50 != nil && c.TPOT.P50 != nil {
				n, ttft, tpot = c.Count, *c.TTFT.P50, *c.TPOT.P50
			}
		}
	}
	return ttft, tpot
}

// loadStep runs aoaibench load against a fresh simulator. workload
// replaces the fixed shape's -p 100 -m Tokens.
func loadStep(ctx context.Context, o Options, rate float64, s *Step, workload ...string) error {
	sp, err := startSim(o)
	if err != nil {
		return err
	}
	defer sp.stop()
	dir := filepath.Join(o.Dir, fmt.Sprintf("load-%g-%d", rate, len(workload)))
	args := []string{"load", "http://" + sp.addr, "--api", "azure", "-e", "bench", "--model", "gpt-4o-mini",
		"-r", strconv.FormatFloat(rate, 'f', -1, 64), "-d", strconv.FormatFloat(o.Step.Seconds(), 'f', -1, 64),
		"-c", "100000", "-f", "jsonl", "--output-dir", dir, "--no-probe"}
	if len(workload) == 0 {
		workload = []string{"-p", "100", "-m", strconv.Itoa(o.Tokens)}
	}
	args = append(args, workload...)
	cmd := exec.CommandContext(ctx, o.Exe, args...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: aoaibench load at %g RPM: %w: %s", rate, err, lastLine(stderr.String()))
	}
	s.CPUPer1K, s.PeakRSSMB = usage(cmd.ProcessState)
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	sum, err := metrics.ReadResults(b)
	if err != nil {
		return fmt.Errorf("bench: summary.json: %w", err)
	}
	sent := float64(sum.Requests.Sent)
	s.CPUPer1K = s.CPUPer1K / sent * 1000
	s.SendRPM, s.DoneRPM = sum.RPM.Sent.F(), sum.RPM.Achieved.F()
	lag := sum.Latency["lag"]
	s.LagP50, s.LagP99, s.LagMax = lag.P50.F(), lag.P99.F(), lag.Max.F()
	st, err := sp.stats()
	if err != nil {
		return err
	}
	ttft, tpot := truth(st)
	s.TTFTErr = sum.Latency["ttft"].P50.F() - ttft
	s.TPOTErr = sum.Latency["tpot"].P50.F() - tpot
	if st.FirstRequest != nil {
		s.FirstReq = st.FirstRequest.Sub(t0).Seconds()
	}
	return nil
}

// floorStep runs the floor client, as its own process, against a fresh
// simulator.
func floorStep(ctx context.Context, o Options, rate float64, s *Step) error {
	sp, err := startSim(o)
	if err != nil {
		return err
	}
	defer sp.stop()
	url := "http://" + sp.addr + "/openai/deployments/bench/chat/completions?api-version=2024-10-21"
	cmd := exec.CommandContext(ctx, o.Exe, "bench-floor", "--url", url, "--rate", strconv.FormatFloat(rate, 'f', -1, 64),
		"--duration", o.Step.String())
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: floor client at %g RPM: %w: %s", rate, err, lastLine(stderr.String()))
	}
	var fr FloorResult
	if err := json.Unmarshal([]byte(out.String()), &fr); err != nil {
		return fmt.Errorf("bench: floor client output: %w", err)
	}
	cpu, _ := usage(cmd.ProcessState)
	s.FloorCPUPer1K = cpu / float64(fr.Sent) * 1000
	s.FloorLagP99 = fr.LagP99
	s.FloorSendRPM = float64(fr.Sent) / o.Step.Minutes()
	st, err := sp.stats()
	if err != nil {
		return err
	}
	ttft, _ := truth(st)
	s.FloorTTFTErr = fr.TTFTP50 - ttft
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Run runs the ladder and prints a table to w, one line per step, then the
// highest sustainable rates and, with Soak, the memory soak.
func Run(ctx context.Context, o Options, w io.Writer) ([]Step, error) {
	fmt.Fprintf(w, "simulator: TTFT %v, %v per token, %d output tokens, no quota, no jitter; %v per step\n", o.TTFT, o.ITL, o.Tokens, o.Step)
	fmt.Fprintf(w, "%9s %9s %9s %8s %8s %8s %9s %9s %9s %7s %9s %10s %9s %7s %9s\n",
		"target", "sent", "done", "lag50ms", "lag99ms", "lagmax", "ttfterrms", "tpoterrms", "cpu/1k s", "rssMB", "floor/1k", "floorlag99", "floorttft", "ratio", "firstreq")
	var steps []Step
	for _, rate := range o.Rates {
		s := Step{Rate: rate}
		if err := loadStep(ctx, o, rate, &s); err != nil {
			return steps, err
		}
		if err := floorStep(ctx, o, rate, &s); err != nil {
			return steps, err
		}
		steps = append(steps, s)
		fmt.Fprintf(w, "%9.0f %9.1f %9.1f %8.3f %8.3f %8.3f %9.3f %9.3f %9.3f %7.1f %9.3f %10.3f %9.3f %7.2f %8.0fms\n",
			s.Rate, s.SendRPM, s.DoneRPM, s.LagP50*1e3, s.LagP99*1e3, s.LagMax*1e3, s.TTFTErr*1e3, s.TPOTErr*1e3,
			s.CPUPer1K, s.PeakRSSMB, s.FloorCPUPer1K, s.FloorLagP99*1e3, s.FloorTTFTErr*1e3, s.CPUPer1K/s.FloorCPUPer1K, s.FirstReq*1e3)
	}
	best, floorBest := 0.0, 0.0
	for _, s := range steps {
		if s.Holds() {
			best = max(best, s.Rate)
		}
		if s.FloorHolds() {
			floorBest = max(floorBest, s.Rate)
		}
	}
	fmt.Fprintf(w, "highest sustainable rate (lag p99 < 5 ms, send rate within 0.5%%): aoaibench %.0f RPM, floor client %.0f RPM\n", best, floorBest)
	if o.Soak > 0 {
		if err := soak(ctx, o, w); err != nil {
			return steps, err
		}
	}
	return steps, nil
}

// soak runs one long load and reads the load process's RSS when it has sent
// 10,000 requests and when it has sent o.Soak.
func soak(ctx context.Context, o Options, w io.Writer) error {
	sp, err := startSim(o)
	if err != nil {
		return err
	}
	defer sp.stop()
	d := float64(o.Soak)/o.SoakRate*60 + 1
	cmd := exec.CommandContext(ctx, o.Exe, "load", "http://"+sp.addr, "--api", "azure", "-e", "bench", "--model", "gpt-4o-mini",
		"-r", strconv.FormatFloat(o.SoakRate, 'f', -1, 64), "-n", strconv.FormatInt(o.Soak, 10), "-d", strconv.FormatFloat(d, 'f', 0, 64),
		"-c", "100000", "-p", "100", "-m", strconv.Itoa(o.Tokens), "-f", "jsonl", "--output-dir", filepath.Join(o.Dir, "soak"), "--no-probe")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	// RSS after 10,000 requests, after one full live window (60 s, when
	// memory should stop growing), and at the end.
	var at10k, atWin, atEnd float64
	winReqs := int64(o.SoakRate) + 10_000
	// And every five minutes' requests, to show the curve is flat.
	every := int64(5 * o.SoakRate)
	next := every
	var curve []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var line struct {
			Requests int64 `json:"requests"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		rss := rssMB(cmd.Process.Pid)
		if line.Requests >= next && rss > 0 {
			curve = append(curve, fmt.Sprintf("%d: %.1f", line.Requests, rss))
			next += every
		}
		if at10k == 0 && line.Requests >= 10_000 {
			at10k = rss
		}
		if atWin == 0 && line.Requests >= winReqs {
			atWin = rss
		}
		if line.Requests >= o.Soak && rss > 0 {
			atEnd = rss
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("bench: soak: %w", err)
	}
	fmt.Fprintf(w, "memory: RSS %.1f MB after 10,000 requests, %.1f MB after %d (one live window full), %.1f MB after %d (ratio to 10,000: %.2f; to the full window: %.2f) at %.0f RPM\n",
		at10k, atWin, winReqs, atEnd, o.Soak, atEnd/at10k, atEnd/atWin, o.SoakRate)
	if len(curve) > 0 {
		fmt.Fprintf(w, "memory: RSS MB every 5 minutes (requests: MB): %s\n", strings.Join(curve, ", "))
	}
	return nil
}

// rssMB reads a live process's resident set from /proc.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

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

// RampOptions configure the ramp check.
type RampOptions struct {
	Exe    string
	Target float64       // the rate ramped to, requests per minute
	Ramp   time.Duration // from 0 to Target
	Hold   time.Duration // then at Target
	Dir    string
}

// Ramp runs aoaibench load with a ramp from 0 to o.Target and a hold,
// against the simulator as its own process, and compares the requests
// sent in each second with the ramp's integral over that second.
func Ramp(ctx context.Context, o RampOptions, w io.Writer) error {
	sp, err := startSim(Options{Exe: o.Exe, TTFT: 200 * time.Millisecond, ITL: 20 * time.Millisecond, Tokens: 50})
	if err != nil {
		return err
	}
	defer sp.stop()
	dir := filepath.Join(o.Dir, "ramp")
	stages := fmt.Sprintf("%s:%g,%s:%g", o.Ramp, o.Target, o.Hold, o.Target)
	cmd := exec.CommandContext(ctx, o.Exe, "load", "http://"+sp.addr, "--api", "azure", "-e", "bench", "--model", "gpt-4o-mini",
		"--stages", stages, "-c", "100000", "-p", "100", "-m", "50", "-f", "jsonl", "--output-dir", dir, "--no-probe")
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: aoaibench load --stages %s: %w: %s", stages, err, lastLine(stderr.String()))
	}
	f, err := os.Open(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	sent := map[int]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Send *float64 `json:"send"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Send != nil {
			sent[int(*r.Send)]++
		}
	}
	p, err := pace.NewStages(0, []pace.Stage{{Duration: o.Ramp, Target: o.Target}, {Duration: o.Hold, Target: o.Target}})
	if err != nil {
		return err
	}
	secs := int((o.Ramp + o.Hold) / time.Second)
	worstAbs, worstRel, worstAt := 0, 0.0, 0
	total, due := 0, 0
	for k := range secs {
		d := int(p.Count(time.Duration(k+1)*time.Second) - p.Count(time.Duration(k)*time.Second))
		s := sent[k]
		total, due = total+s, due+d
		diff := s - d
		if diff < 0 {
			diff = -diff
		}
		worstAbs = max(worstAbs, diff)
		if d >= 50 {
			if rel := float64(diff) / float64(d); rel > worstRel {
				worstRel, worstAt = rel, k
			}
		}
	}
	fmt.Fprintf(w, "ramp 0 to %g RPM in %v, then %v at %g RPM: %d requests sent, %d due (the integral); per second, sent differs from due by at most %d request(s), %.2f%% at most where 50 or more were due (second %d)\n",
		o.Target, o.Ramp, o.Hold, o.Target, total, due, worstAbs, 100*worstRel, worstAt)
	return nil
}
