// Package memnet is an in-memory network for tests: a net.Listener whose
// connections are net.Pipe pairs. Everything blocks on channels, so whole
// client-server runs work inside testing/synctest bubbles, where minutes of
// load run in milliseconds of virtual time.
package memnet

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Listener accepts connections made by Dial.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// Listen returns a new in-memory listener.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

type addr struct{}

func (addr) Network() string { return "memnet" }
func (addr) String() string  { return "127.0.0.1:1" }

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns a placeholder loopback address.
func (l *Listener) Addr() net.Addr { return addr{} }

// Dial connects to the listener; it fits http.Transport.DialContext.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, errors.New("memnet: connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
