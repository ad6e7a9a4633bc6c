package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/aoaibench/aoaibench/internal/sim"
)

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

// startSim starts the simulator of a ladder's step: o's TTFT, time per
// token and output, no quota, no jitter.
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

// stop interrupts the simulator and waits for it to end, killing it
// after 5 s.
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

// stats reads the simulator's figures (/sim/stats).
func (p *simProc) stats() (sim.Stats, error) {
	var st sim.Stats
	resp, err := http.Get("http://" + p.addr + "/sim/stats")
	if err != nil {
		return st, fmt.Errorf("bench: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
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
