package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Running is a simulator serving on a TCP address.
type Running struct {
	*Server
	hs  *http.Server
	url string
}

// Start runs a simulator of cfg on addr ("127.0.0.1:0" for a free port),
// with its clock writing streams straight to their sockets.
func Start(cfg Config, addr string) (*Running, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("simulator: %w", err)
	}
	read, idle := cfg.ReadTimeout, cfg.IdleTimeout
	if read <= 0 {
		read = DefaultReadTimeout
	}
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	// The read deadline bounds headers and body, whether the handler
	// reads the body or net/http discards it; net/http lifts it once the
	// body has been read, so it does not cut a long stream (a test
	// checks). No WriteTimeout: that one would.
	hs := &http.Server{Handler: s.Handler(), ConnContext: s.ConnContext, ReadTimeout: read,
		IdleTimeout: idle, MaxHeaderBytes: maxHeaderBytes}
	go hs.Serve(ln)
	return &Running{Server: s, hs: hs, url: "http://" + ln.Addr().String()}, nil
}

// URL is the simulator's base URL.
func (r *Running) URL() string { return r.url }

// Stop shuts the server down, giving streams two seconds to end, and
// stops the clocks.
func (r *Running) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.hs.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		r.hs.Close()
	}
	r.hs.Close()
	r.Server.Close()
}
