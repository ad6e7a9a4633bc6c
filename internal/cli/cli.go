// Package cli is aoaibench's command line: flag parsing with kong, and the
// wiring of the internal packages for each command. cmd/aoaibench only
// calls Main, so the whole command line is testable in-process.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// Env is what a command sees of the process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Signals delivers SIGINT/SIGTERM: the first stops dispatch and drains,
	// the second cuts off requests in flight.
	Signals <-chan os.Signal
}

// usageError is bad input: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// CLI is the command tree.
type CLI struct {
	Load     LoadCmd     `cmd:"" help:"Run a load test against an endpoint, or the built-in simulator when none is given."`
	Serve    ServeCmd    `cmd:"" help:"Run the built-in Azure OpenAI simulator as a server."`
	Report   ReportCmd   `cmd:"" help:"Report on runs: a self-contained HTML page with charts, or the summary table as md, csv or json."`
	Lab      LabCmd      `cmd:"" help:"Run the workshop lab: 4 RPM at 20K TPM, then 50 RPM at 200K TPM, and the report."`
	Tokenize TokenizeCmd `cmd:"" help:"Count the tokens of a text or of a JSON array of chat messages."`
	Bench    BenchCmd    `cmd:"" help:"Measure aoaibench's own overhead against the simulator and a minimal client (loopback only)."`
	Floor    FloorCmd    `cmd:"" name:"bench-floor" hidden:"" help:"The bench's minimal client."`
	Version  VersionCmd  `cmd:"" help:"Print the version."`
}

// exit is panicked by kong's Exit hook so that Main can return a status
// instead of the process exiting (help and --version exit 0).
type exit struct{ code int }

// Version returns the module version the binary was built from.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// timeNow is the report's generation time.
func timeNow() time.Time { return time.Now() }

// Main runs the command line args (without the program name) and returns
// the exit status: 0 success, 1 failure, 2 bad input.
func Main(args []string, env Env) (code int) {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("aoaibench"),
		kong.Description("Load-test and benchmark Azure OpenAI deployments and OpenAI-compatible LLM endpoints."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(c int) { panic(exit{c}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
	if err != nil {
		fmt.Fprintf(env.Stderr, "aoaibench: internal error: %v\n", err)
		return 1
	}
	defer func() {
		switch e := recover().(type) {
		case nil:
		case exit:
			code = e.code
		default:
			panic(e)
		}
	}()
	ctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "aoaibench: error: %s\n", oneLine(err.Error()))
		return 2
	}
	if err := ctx.Run(&env); err != nil {
		fmt.Fprintf(env.Stderr, "aoaibench: error: %s\n", oneLine(err.Error()))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(env *Env) error {
	fmt.Fprintln(env.Stdout, "aoaibench", Version())
	return nil
}
