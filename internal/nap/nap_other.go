//go:build !linux

package nap

import "time"

// Sleep sleeps for d.
func Sleep(d time.Duration) { time.Sleep(d) }
