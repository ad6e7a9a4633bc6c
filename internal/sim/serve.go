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
	hs := &http.Server{Handler: s.Handler(), ConnContext: s.ConnContext, ReadHeaderTimeout: 30 * time.Second}
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
