// Command aoaibench load-tests and benchmarks Azure OpenAI deployments and
// OpenAI-compatible LLM endpoints. See the README.
package main

import (
	"os"

	"github.com/aoaibench/aoaibench/internal/cli"
)

// version is stamped by release builds: -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.ProcessEnv(version)))
}
