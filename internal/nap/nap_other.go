//go:build !linux

package nap

import "time"

// Sleep sleeps for d.
func Sleep(d time.Duration) { time.Sleep(d) }

// Timer waits on Go's timers outside Linux.
type Timer struct{}

// NewTimer makes a Timer.
func NewTimer() (*Timer, error) { return &Timer{}, nil }

// Sleep parks the calling goroutine for d.
func (*Timer) Sleep(d time.Duration) { time.Sleep(d) }

// Close frees the timer.
func (*Timer) Close() error { return nil }
