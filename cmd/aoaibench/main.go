// Command aoaibench load-tests and benchmarks Azure OpenAI deployments and
// OpenAI-compatible LLM endpoints. See the README.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/aoaibench/aoaibench/internal/cli"
)

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	os.Exit(cli.Main(os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Signals: sig,
	}))
}
