// Package cli is aoaibench's command line: flag parsing with kong, turning
// flags into the library's plans and options, and printing. It runs
// nothing itself: internal/run executes plans, internal/sim serves, and
// internal/report reports. cmd/aoaibench only calls Main, so the whole
// command line is testable in-process.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/aoaibench/aoaibench/internal/plan"
)

// Exit statuses, one meaning each across commands, documented in the
// README.
const (
	ExitOK      = 0  // the run worked
	ExitFailed  = 1  // the endpoint or the run failed: nothing succeeded, or most failed
	ExitUsage   = 2  // bad input: nothing was sent
	ExitInvalid = 3  // it ran, but the figures are not valid for the asked rate
	ExitSLO     = 99 // the run worked but missed an --slo objective (k6's threshold code)
)

// Env is what a command sees of the process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Notify relays SIGINT and SIGTERM to c until Stop(c); nil: no
	// signals (in-process tests). Each run registers its own channel, so
	// that a signal always reaches the run in progress.
	Notify, Stop func(c chan<- os.Signal)
	// Release is the release a build was stamped with (scripts/dist), if
	// any.
	Release string
}

// usageError is bad input: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// exitError ends a command with a status other than 1 after its output.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// CLI is the command tree.
type CLI struct {
	Version kong.VersionFlag `help:"Print the version and exit."`
	Verbose bool             `help:"With an error, print its whole chain of causes (the Azure SDK's sign-in tries)."`

	Load     LoadCmd     `cmd:"" help:"Run a load test against an endpoint, or the built-in simulator when none is given."`
	Sweep    SweepCmd    `cmd:"" help:"Run a step at each of several rates (or client counts): the capacity curve."`
	Search   SearchCmd   `cmd:"" help:"Find the highest rate that meets your objectives (--slo)."`
	Serve    ServeCmd    `cmd:"" help:"Run the built-in Azure OpenAI simulator as a server."`
	Report   ReportCmd   `cmd:"" help:"Report on runs: a self-contained HTML page with charts, or the summary table as md, csv or json."`
	Size     SizeCmd     `cmd:"" help:"How many PTUs recorded traffic needs: Azure's formula, a replay through the provisioned bucket, and the cost."`
	Merge    MergeCmd    `cmd:"" help:"Merge the output directories of a plan's shards (--shard i/N) into one run's, exactly."`
	K8s      K8sCmd      `cmd:"" name:"k8s" help:"Print a Kubernetes Indexed Job that runs a load command's shards on N pods (and, with --merge, the Job that merges them)."`
	Lab      LabCmd      `cmd:"" help:"Run the workshop lab: 4 RPM at 20K TPM, then 50 RPM at 200K TPM, and the report."`
	Tokenize TokenizeCmd `cmd:"" help:"Count the tokens of a text or of a JSON array of chat messages."`
	Bench    BenchCmd    `cmd:"" help:"Measure aoaibench's own overhead against the simulator and a minimal client (loopback only)."`
	Floor    FloorCmd    `cmd:"" name:"bench-floor" hidden:"" help:"The bench's minimal client."`
	Ver      VersionCmd  `cmd:"" name:"version" help:"Print the version."`
}

// exit is panicked by kong's Exit hook so that Main can return a status
// instead of the process exiting (help and --version exit 0).
type exit struct{ code int }

// Version returns the release and commit the binary was built from: the
// module version when installed with go install, else the VCS revision
// stamped by go build (with "-dirty" for uncommitted changes), else devel.
// A release build stamps main.version through -ldflags (scripts/dist).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && !strings.Contains(v, rev) {
		v += " (" + rev + dirty + ")"
	}
	return v
}

// versionString is the release, when the build was stamped with one, and
// what the build info says.
func (env *Env) versionString() string {
	v := Version()
	switch {
	case env.Release == "":
		return v
	case v == "devel":
		return env.Release
	}
	return env.Release + " " + strings.TrimPrefix(v, "devel ")
}

// Main runs the command line args (without the program name) and returns
// the exit status (see the Exit constants).
func Main(args []string, env Env) (code int) {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	// The standard logger is written to by net/http alone, and with a
	// server's own bytes: an unsolicited answer on an idle connection is
	// logged whole, headers and body, which may echo the key. Nothing of
	// aoaibench's goes there: it goes nowhere.
	log.SetOutput(io.Discard)
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("aoaibench"),
		kong.Description("Load-test and benchmark Azure OpenAI deployments and OpenAI-compatible LLM endpoints.\n\n"+
			"  aoaibench load --duration 20s --rate 120     # the built-in simulator\n"+
			"  aoaibench load -e DEPLOYMENT -r 60 -d 3m https://RESOURCE.openai.azure.com"),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(c int) { panic(exit{c}) }),
		kong.Vars{"version": "aoaibench " + env.versionString()},
		kong.TypeMapper(reflect.TypeFor[plan.Duration](), durationMapper),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true, WrapUpperBound: 80}),
		kong.ValueFormatter(helpValue),
	)
	if err != nil {
		fmt.Fprintf(env.Stderr, "aoaibench: internal error: %v\n", err)
		return ExitFailed
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
	if len(args) == 0 {
		// Bare aoaibench: the help, and success.
		args = []string{"--help"}
	}
	ctx, err := parser.Parse(joinNegatives(args))
	if err != nil {
		msg := oneLine(err.Error())
		if h := habit(args, flagNames(parser.Model.Node)); h != "" {
			msg = h
		}
		fmt.Fprintf(env.Stderr, "aoaibench: error: %s\n", msg)
		return ExitUsage
	}
	if err := ctx.Run(&env); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintf(env.Stderr, "aoaibench: %s\n", oneLine(ee.msg))
			}
			return ee.code
		}
		fmt.Fprintf(env.Stderr, "aoaibench: error: %s\n", oneLine(err.Error()))
		var ue usageError
		var pe *plan.Error
		if errors.As(err, &pe) && pe.Detail != "" && cli.Verbose {
			fmt.Fprintf(env.Stderr, "%s\n", strings.TrimSpace(pe.Detail))
		}
		if errors.As(err, &ue) || errors.As(err, &pe) {
			return ExitUsage
		}
		return ExitFailed
	}
	return ExitOK
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// helpValue is a flag's help with its default, which kong leaves out.
func helpValue(v *kong.Value) string {
	h := kong.DefaultHelpValueFormatter(v)
	if v.Default == "" || v.Tag.Type == "" && v.Target.Kind() == reflect.Bool {
		return h
	}
	return strings.TrimSuffix(h, ".") + " (default " + v.Default + ")."
}

// habitOf is what aoaibench calls another load tester's flag ("" when
// it knows none).
func habitOf(flag string) string {
	const rate, clients, url = "--rate (-r), requests per minute", "--clients (-c)", "the endpoint's URL as the last argument (load [flags] URL)"
	switch flag {
	case "--rpm", "--request-rate":
		return rate
	case "--qps", "--rps":
		return rate + ": 60 per second"
	case "--concurrency", "--max-concurrency", "--workers", "--users", "--vus", "--num-workers":
		return clients
	case "--deployment-name", "--deployment_name":
		return "--deployment (-e)"
	case "--num-requests", "--max-requests", "--total-requests":
		return "--requests (-n)"
	case "--input-tokens", "--prompt-tokens":
		return "--context-tokens (-p)"
	case "--output-tokens", "--max_tokens":
		return "--max-tokens (-m)"
	case "--api-key":
		return "the key in $OPENAI_API_KEY, or another variable named by --api-key-env (-k): a key on the command line would be in your shell's history"
	case "--endpoint", "--url", "--base-url":
		return url
	case "--time":
		return "--duration (-d)"
	case "--timeout":
		return "--request-timeout"
	}
	return ""
}

// habit is a hint for a command line another tool's habits wrote: a
// flag of theirs, or a long flag given one dash (-duration 5s, which
// would read as -d uration); "" when there is none.
func habit(args []string, names map[string]bool) string {
	for _, a := range args {
		if a == "--" {
			return ""
		}
		name, _, _ := strings.Cut(a, "=")
		if h := habitOf(name); h != "" && !names[strings.TrimPrefix(name, "--")] {
			return fmt.Sprintf("unknown flag %s: aoaibench's is %s", name, h)
		}
		if len(name) > 2 && name[0] == '-' && name[1] != '-' && names[name[1:]] {
			return fmt.Sprintf("%s: a long flag takes two dashes: -%s", name, name)
		}
	}
	return ""
}

// flagNames are the long names of every flag of a command tree.
func flagNames(n *kong.Node) map[string]bool {
	out := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			out[f.Name] = true
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

// joinNegatives joins a flag and a negative number after it (--rate -1,
// -r -1) into one argument, which kong would otherwise read as a short
// flag: the flag's own check then says what is wrong with the value.
func joinNegatives(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if i+1 < len(args) && isNegative(args[i+1]) && strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && len(a) > 1 {
			if strings.HasPrefix(a, "--") {
				a += "=" + args[i+1]
			} else {
				a += args[i+1] // -r-1: kong reads a short flag's value joined
			}
			i++
		}
		out = append(out, a)
	}
	return out
}

// isNegative reports whether s reads as a negative number (-1, -0.5,
// -.5, -1e3), not as a flag.
func isNegative(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// durationMapper reads a duration flag (20s, 3m, a bare number of
// seconds), so that kong's messages name a duration.
var durationMapper = kong.MapperFunc(func(ctx *kong.DecodeContext, target reflect.Value) error {
	var s string
	if err := ctx.Scan.PopValueInto("duration", &s); err != nil {
		return err
	}
	d, err := plan.ParseDuration(s)
	if err != nil {
		return err
	}
	target.Set(reflect.ValueOf(d))
	return nil
})

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(env *Env) error {
	fmt.Fprintln(env.Stdout, "aoaibench", env.versionString())
	return nil
}
