package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// ProcessEnv is the Env of the aoaibench process: its standard streams
// and environment, and its signals. SIGINT, SIGTERM and SIGHUP (a closed
// terminal) each stop dispatch and drain, a second one cuts requests
// off: the results files are written either way. SIGPIPE is ignored, so
// that a closed stdout (`aoaibench load -f jsonl | head -1`) fails the
// live line's writes instead of killing the process before its results
// are written. release is the release the build was stamped with.
func ProcessEnv(release string) Env {
	signal.Ignore(syscall.SIGPIPE)
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Release: release,
		Notify: func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP) },
		Stop:   func(c chan<- os.Signal) { signal.Stop(c) },
	}
}
