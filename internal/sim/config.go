// Package sim is a simulator of Azure OpenAI deployments: the same routes,
// streaming format, headers, quota and throttling, with a latency model, so
// that aoaibench can be tried, tested and checked for accuracy without an
// Azure account or the network.
package sim

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// Config is a simulator configuration: its deployments and an optional key.
type Config struct {
	Deployments []simconfig.Deployment `json:"deployments"`
	APIKey      string                 `json:"-"`
	// Identity, when set, issues Microsoft Entra ID tokens and accepts
	// them (as well as the key, when there is one).
	Identity *Identity `json:"-"`
	// PTUTable holds the provisioned figures of the models (nil: the
	// published table built in, ptu.Default).
	PTUTable *ptu.Table `json:"-"`
	// Precise times writes with kernel naps instead of Go's timers alone:
	// set it when serving for real; tests in synctest bubbles leave it off.
	Precise bool `json:"-"`
	// ReadTimeout bounds the reading of a whole request by Start's
	// server, headers and body, from its first byte: a body not whole by
	// then is answered 408 and its connection closed, so that a client
	// trickling a body a byte at a time holds a connection no longer.
	// 0 is DefaultReadTimeout.
	ReadTimeout time.Duration `json:"-"`
	// IdleTimeout is how long Start's server keeps a keep-alive connection
	// open between requests. 0 is DefaultIdleTimeout.
	IdleTimeout time.Duration `json:"-"`
}

// The simulator's bounds on slow and idle clients.
const (
	// DefaultReadTimeout lets a body of MaxBody arrive at 9 Mbit/s, and
	// one of 8 MB at 2 Mbit/s.
	DefaultReadTimeout = 30 * time.Second
	// DefaultIdleTimeout is longer than the 90 s after which Go's clients
	// (aoaibench's among them) close an idle connection, so that the client
	// closes it first: a server closing a connection just as a client
	// sends a request on it fails a POST, which clients do not retry.
	DefaultIdleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds a request's headers, as Azure Front Door's
	// 64 KB per header does (an Entra ID token is 2 KB or so).
	maxHeaderBytes = 64 << 10
)
