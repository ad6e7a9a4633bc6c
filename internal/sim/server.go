package sim

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/schema"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Server is a simulated Azure OpenAI resource with one or more deployments.
type Server struct {
	deps   map[string]*deployment
	names  []string
	key    string
	issuer *issuer // nil: no Microsoft Entra ID tokens
	// clock wakes goroutines and writes streams; in precise mode more
	// clocks write streams once it is busy (writer).
	clock   *clock
	clocks  []*clock
	directs atomic.Int64 // streams the clocks wrote to their sockets
	start   time.Time
	words   tokenizer.Words // output text is made of these single-token words
	first   atomic.Int64    // wall-clock arrival of the first request, Unix ns
	vector  string          // the embedding every input gets, as JSON
	reg     *prometheus.Registry
	scraped atomic.Bool // /metrics has been read: observe for it
}

type deployment struct {
	cfg       simconfig.Deployment
	tok       *tokenizer.Tokenizer
	reasoning bool          // takes max_completion_tokens, not max_tokens
	slots     chan struct{} // nil: no concurrency limit
	run       atomic.Int64  // streams running (holding a slot or not queued)
	waiting   atomic.Int64  // streams waiting for a slot
	prom      vllmMetrics
	// streamed counts output tokens as they are written, for throughput
	// while streams are still running.
	streamed atomic.Int64

	// Agents' requests' tools and schemas, compiled once per text.
	toolSets memo[toolSet]
	schemas  memo[*schema.Schema]

	mu    sync.Mutex // guards everything below
	std   *standard
	ptu   *provisioned
	cache *promptCache // nil: no prompt caching
	rng   *mrand.Rand
	stats depStats
}

// New returns a simulator serving cfg's deployments.
func New(cfg Config) (*Server, error) {
	if len(cfg.Deployments) == 0 {
		cfg.Deployments = []simconfig.Deployment{simconfig.DefaultDeployment()}
	}
	s := &Server{deps: map[string]*deployment{}, key: cfg.APIKey, start: time.Now(), words: tokenizer.NewWords(), vector: embeddingVector()}
	if cfg.Identity != nil {
		s.issuer = newIssuer(*cfg.Identity)
	}
	n := 1
	if cfg.Precise {
		n = runtime.GOMAXPROCS(0)
	}
	for range n {
		s.clocks = append(s.clocks, newClock(cfg.Precise))
	}
	s.clock = s.clocks[0]
	for _, dc := range cfg.Deployments {
		if err := dc.FillFrom(cfg.PTUTable); err != nil {
			s.Close()
			return nil, err
		}
		if _, dup := s.deps[dc.Name]; dup {
			s.Close()
			return nil, fmt.Errorf("deployment %s: defined twice", dc.Name)
		}
		s.deps[dc.Name] = newDeployment(dc, s.start)
		s.names = append(s.names, dc.Name)
	}
	s.newMetrics()
	for _, n := range s.names {
		d := s.deps[n]
		if sp := d.cfg.Spillover; sp != "" {
			t := s.deps[sp]
			if d.ptu == nil || t == nil || t.std == nil {
				s.Close()
				return nil, fmt.Errorf("deployment %s: spillover %q: a provisioned deployment spills over to a standard one of the same resource", n, sp)
			}
		}
	}
	return s, nil
}

// newDeployment returns the deployment of dc, filled, whose quota starts
// at start. Its /metrics observers are the Server's to set.
func newDeployment(dc simconfig.Deployment, start time.Time) *deployment {
	m, _ := models.Lookup(dc.Model) // fill checked the model
	tok, _ := tokenizer.Get(m.Encoding)
	d := &deployment{cfg: dc, tok: tok, reasoning: m.Reasoning, rng: mrand.New(mrand.NewPCG(dc.Seed, 0xa0a1b2c3)), stats: newDepStats()}
	if !dc.NoPromptCache {
		d.cache = newPromptCache(time.Duration(dc.CacheTTL))
	}
	if dc.MaxConcurrency > 0 {
		d.slots = make(chan struct{}, dc.MaxConcurrency)
	}
	if dc.Type == "provisioned" {
		d.ptu = newProvisioned(dc, start)
	} else {
		d.std = newStandard(dc.TPM, dc.RPMPer1K, start)
	}
	return d
}

// connKey is the request context's key to its connection (ConnContext).
type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets the simulator write
// streams straight to their connections, which is how its timing stays
// exact with thousands of streams. Without it, each stream is written by
// its own goroutine.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// Close stops the simulator's clocks; streams still running end.
func (s *Server) Close() {
	for _, c := range s.clocks {
		c.close()
	}
}

// clockLoad is the chunks per second one clock writes before streams go
// to the next: about a third of a core here. Each clock is a thread that
// wakes for its own due times, so a second one costs wake-ups that one
// clock saves; past this load, one clock would fall behind.
const clockLoad = 25000

// writer picks the clock for a stream of rate chunks per second: the
// first with room for it, else the least loaded.
func (s *Server) writer(rate int64) *clock {
	best := s.clocks[0]
	for _, c := range s.clocks {
		l := c.load.Load()
		if l+rate <= clockLoad {
			return c
		}
		if l < best.load.Load() {
			best = c
		}
	}
	return best
}

// Deployments returns the configured deployments, defaults filled in.
func (s *Server) Deployments() []simconfig.Deployment {
	var out []simconfig.Deployment
	for _, n := range s.names {
		out = append(out, s.deps[n].cfg)
	}
	return out
}

func (d *deployment) count(f func(*depStats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}
