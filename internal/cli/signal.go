package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// notify relays SIGINT and SIGTERM to c.
func notify(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }
