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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/metrics"
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

// usage returns a finished process's CPU seconds and peak RSS in MB.
func usage(ps *os.ProcessState) (cpu, rssMB float64) {
	return (ps.UserTime() + ps.SystemTime()).Seconds(), maxRSS(ps)
}

var nan = math.NaN()

// val is *p, NaN when p is nil (a figure the simulator does not have).
func val(p *float64) float64 {
	if p == nil {
		return nan
	}
	return *p
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

// lastLine is the last line of a process's output, for an error.
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
