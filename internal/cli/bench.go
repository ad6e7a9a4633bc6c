package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aoaibench/aoaibench/internal/bench"
)

// BenchCmd is `aoaibench bench`: aoaibench's own overhead, measured.
type BenchCmd struct {
	Quick    bool          `help:"One short step, to check the command works (CI)."`
	Rates    string        `default:"600,6000,30000,60000,120000" help:"Comma-separated requests per minute, one step each."`
	Step     time.Duration `default:"20s" help:"How long each step sends."`
	Soak     int64         `default:"0" help:"Also run a memory soak of this many requests (e.g. 200000) and compare RSS with that at 10,000."`
	SoakRate float64       `default:"60000" help:"Requests per minute of the soak."`

	SimScale  bool          `help:"Instead of the ladder, check the simulator's scale: hold --streams concurrent streams against it."`
	Streams   int           `default:"5000" help:"Concurrent streams of --sim-scale."`
	ScaleITL  time.Duration `default:"50ms" help:"Time per token of --sim-scale."`
	ScaleTPC  int           `default:"1" help:"Tokens per chunk of --sim-scale."`
	ScaleTime time.Duration `default:"30s" help:"Duration of --sim-scale."`
	Pin       bool          `help:"With --sim-scale, pin the simulator and the load generator to separate CPUs (taskset)."`

	Ramp       bool          `help:"Instead of the ladder, check that a ramp (--stages) sends its integral, second by second."`
	RampTarget float64       `default:"6000" help:"The rate --ramp ramps to, requests per minute."`
	RampTime   time.Duration `default:"30s" help:"How long --ramp ramps, then holds as long."`

	Traffic       bool    `help:"Instead of the ladder, compare what workloads cost at --traffic-rate: the fixed shape, --synthetic, a ShareGPT dataset (shuffled and not) and 3-turn conversations."`
	TrafficRate   float64 `default:"6000" help:"Requests per minute of --traffic."`
	Conversations int     `default:"10000" help:"Conversations of the ShareGPT file --traffic generates."`
	Dataset       string  `type:"existingfile" placeholder:"FILE" help:"With --traffic, this dataset instead of a generated one."`
}

// Help is the command's example.
func (c *BenchCmd) Help() string {
	return `Examples:
  aoaibench bench --rates 600,6000,30000
  aoaibench bench --sim-scale --streams 5000 --scale-itl 50ms --scale-tpc 5`
}

// Run runs the benchmark.
func (c *BenchCmd) Run(env *Env) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var rates []float64
	for _, f := range strings.Split(c.Rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return usagef("--rates: %q is not a positive number", f)
		}
		rates = append(rates, r)
	}
	if c.Quick {
		rates, c.Step, c.Soak = []float64{600}, 3*time.Second, 0
	}
	dir, err := os.MkdirTemp("", "aoaibench-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	if c.Traffic {
		if c.Conversations < 1 || !(c.TrafficRate > 0) {
			return usagef("--conversations and --traffic-rate must be positive")
		}
		return bench.Traffic(context.Background(), bench.TrafficOptions{Exe: exe, Rate: c.TrafficRate, Step: c.Step,
			Conversations: c.Conversations, Dataset: c.Dataset, Dir: dir}, env.Stdout)
	}
	if c.Ramp {
		return bench.Ramp(context.Background(), bench.RampOptions{Exe: exe, Target: c.RampTarget, Ramp: c.RampTime, Hold: c.RampTime, Dir: dir}, env.Stdout)
	}
	if c.SimScale {
		return bench.Scale(context.Background(), bench.ScaleOptions{
			Exe: exe, Streams: c.Streams, ITL: c.ScaleITL, Chunk: c.ScaleTPC, Tokens: 100000, Duration: c.ScaleTime, Dir: dir, Pin: c.Pin,
		}, env.Stdout)
	}
	_, err = bench.Run(context.Background(), bench.Options{
		Exe: exe, Rates: rates, Step: c.Step, TTFT: 200 * time.Millisecond, ITL: 20 * time.Millisecond, Tokens: 50,
		Soak: c.Soak, SoakRate: c.SoakRate, Dir: dir,
	}, env.Stdout)
	return err
}

// FloorCmd runs the bench's floor client (used by bench, hidden).
type FloorCmd struct {
	URL      string        `required:""`
	Rate     float64       `required:""`
	Duration time.Duration `required:""`
}

// Run runs the floor client and prints its result as JSON.
func (c *FloorCmd) Run(env *Env) error {
	r, err := bench.Floor(c.URL, c.Rate, c.Duration)
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(r)
}
