// Command aoaibench load-tests and benchmarks Azure OpenAI deployments and
// OpenAI-compatible LLM endpoints. See the README.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/aoaibench/aoaibench/internal/cli"
)

// version is stamped by release builds: -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Release: version,
		Notify: func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) },
		Stop:   func(c chan<- os.Signal) { signal.Stop(c) },
	}))
}
