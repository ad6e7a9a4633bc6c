package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/pace"
)

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
