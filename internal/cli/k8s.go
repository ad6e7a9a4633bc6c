package cli

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/alecthomas/kong"

	"github.com/aoaibench/aoaibench/internal/kube"
	"github.com/aoaibench/aoaibench/internal/plan"
)

// K8sCmd is `aoaibench k8s`.
type K8sCmd struct {
	Shards           int           `required:"" placeholder:"N" help:"Pods, each running one shard (1/N) of the load."`
	Name             string        `default:"aoaibench" placeholder:"NAME" help:"The Job's name; results go to /results/NAME/shard-I on the volume."`
	Namespace        string        `placeholder:"NS" help:"The Job's namespace (kubectl's current one when empty)."`
	Image            string        `required:"" placeholder:"IMAGE" help:"aoaibench's container image (deploy/Dockerfile builds one)."`
	ResultsClaim     string        `required:"" placeholder:"PVC" help:"A ReadWriteMany PersistentVolumeClaim every shard writes its output directory to."`
	KeySecret        string        `placeholder:"SECRET" help:"A Secret holding the API key (under --key-secret-key), given to the pods as the --api-key-env variable."`
	KeySecretKey     string        `default:"api-key" placeholder:"KEY" help:"The key of the API key in --key-secret."`
	EnvSecret        []string      `placeholder:"SECRET" help:"A Secret whose keys become the pods' environment variables, for --header 'Name: env:VAR' (repeatable)."`
	ServiceAccount   string        `placeholder:"SA" help:"Run the pods as this service account."`
	WorkloadIdentity bool          `help:"Label the pods for Azure workload identity: with --service-account, --auth entra gets its tokens."`
	MetricsPort      int           `default:"9464" placeholder:"PORT" help:"Each pod serves live metrics to Prometheus on this port (0: none)."`
	CPU              string        `default:"2" placeholder:"CPU" help:"Each pod's CPU (request and limit)."`
	Memory           string        `default:"1Gi" placeholder:"MEM" help:"Each pod's memory (request and limit)."`
	StartIn          plan.Duration `default:"2m" placeholder:"TIME" help:"Every shard starts this long after the manifest is written (apply it before then; a late pod records its skew)."`
	StartAt          string        `placeholder:"TIME" help:"Every shard starts at this RFC 3339 time instead."`
	Merge            bool          `help:"Print the Job that merges the shards' results instead (run it once the shards' Job is complete)."`
	Load             []string      `arg:"" optional:"" passthrough:"" placeholder:"-- load FLAGS URL" help:"The load command every shard runs, after --: load [flags] URL (not needed with --merge)."`
}

// Help is the command's example.
func (c *K8sCmd) Help() string {
	return `The load is divided among the pods of an Indexed Job exactly as
--shard divides it; they start together and write their results to a
shared volume; a second Job merges them.

Examples:
  kubectl create secret generic aoaibench-key \
    --from-literal=api-key=$OPENAI_API_KEY
  aoaibench k8s --shards 4 --image registry.example/aoaibench:1 \
    --results-claim results --key-secret aoaibench-key \
    -- load -e gpt-4o -r 24000 -d 10m https://NAME.openai.azure.com > job.yaml
  kubectl apply -f job.yaml
  kubectl wait --for=condition=complete --timeout=1h job/aoaibench
  aoaibench k8s --merge --shards 4 --image registry.example/aoaibench:1 \
    --results-claim results | kubectl apply -f -`
}

// Run prints the manifest.
func (c *K8sCmd) Run(env *Env) error {
	args, err := c.loadArgs()
	if err != nil {
		return err
	}
	spec := kube.Spec{
		Name: c.Name, Namespace: c.Namespace, Image: c.Image, Shards: c.Shards, Args: args,
		KeySecret: c.KeySecret, KeySecretKey: c.KeySecretKey, ServiceAccount: c.ServiceAccount,
		WorkloadIdentity: c.WorkloadIdentity, ResultsClaim: c.ResultsClaim, MetricsPort: c.MetricsPort,
		CPU: c.CPU, Memory: c.Memory, EnvFrom: c.EnvSecret, Seed: rand.Uint64(),
	}
	if c.Merge {
		out, err := kube.MergeJob(spec)
		if err != nil {
			return usagef("k8s: %v", err)
		}
		_, err = env.Stdout.Write(out)
		return err
	}
	p, err := c.loadPlan(env, args)
	if err != nil {
		return err
	}
	if err := c.checkSignIn(p.Target.Auth); err != nil {
		return err
	}
	spec.KeyEnv = p.Target.KeyEnv
	if spec.StartAt, err = c.startAt(); err != nil {
		return err
	}
	out, err := kube.Job(spec)
	if err != nil {
		return usagef("k8s: %v", err)
	}
	_, err = env.Stdout.Write(out)
	return err
}

// loadArgs are the load command's flags, after -- and "load"; none for
// the merge Job, which needs only where the shards' results are.
func (c *K8sCmd) loadArgs() ([]string, error) {
	args := c.Load
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	switch {
	case len(args) > 0 && args[0] == "load":
		args = args[1:]
	case len(args) == 0 && c.Merge:
		// The merge Job needs only where the shards' results are.
	default:
		return nil, usagef("give the load command after --: aoaibench k8s --shards N ... -- load [flags] URL")
	}
	if f := kube.ReservedIn(args); f != "" {
		return nil, usagef("k8s: the Job sets %s itself: leave it out of the load command", f)
	}
	return args, nil
}

// loadPlan parses and checks the load command as load would, and as
// each pod will, as a shard of N: it must be one that runs, found here,
// before anyone applies the manifest.
func (c *K8sCmd) loadPlan(env *Env, args []string) (*plan.Plan, error) {
	var lc struct {
		Load LoadCmd `cmd:""`
	}
	parser, err := kong.New(&lc, kong.Name("aoaibench"), kong.Writers(env.Stderr, env.Stderr),
		kong.Exit(func(c int) { panic(exit{c}) }), kong.TypeMapper(reflect.TypeFor[plan.Duration](), durationMapper))
	if err != nil {
		return nil, fmt.Errorf("k8s: %w", err)
	}
	kctx, err := parser.Parse(append([]string{"load"}, args...))
	if err != nil {
		return nil, usagef("k8s: the load command: %v", err)
	}
	typed := typedFlags(kctx)
	typed["seed"] = true // the Job gives every shard the same
	p, _, err := lc.Load.LoadFlags.toPlan(typed)
	if err != nil {
		return nil, err
	}
	if p.Target.URL == "" {
		return nil, usagef("k8s: give the load command an endpoint URL: each pod would test a simulator of its own")
	}
	p.Load.Shard = &plan.Shard{Index: 0, Count: c.Shards}
	if err := p.Validate(0); err != nil {
		return nil, err
	}
	if p.Load.Length() == 0 && p.Load.Requests == 0 && p.Load.Trace == nil {
		return nil, usagef("k8s: the load command has no end: give -d or -n, or the pods run until deleted")
	}
	if w := p.Workload; w.Dataset != nil {
		fmt.Fprintf(env.Stderr, "note: --dataset %s must be in the image or on a volume the pods mount, at that path\n", w.Dataset.Path)
	}
	return p, nil
}

// checkSignIn refuses a Job whose pods could not sign in with the load
// command's --auth.
func (c *K8sCmd) checkSignIn(auth plan.Auth) error {
	switch {
	case c.KeySecret != "" && (auth == "entra" || auth == "none"):
		return usagef("k8s: --key-secret with --auth %s: the key would not be sent", auth)
	case c.KeySecret == "" && auth == "" && !c.WorkloadIdentity && len(c.EnvSecret) == 0:
		return usagef("k8s: how do the pods sign in? --key-secret SECRET (the API key), or --auth entra with --service-account and --workload-identity, or --env-secret for a gateway's --header")
	case auth == "entra" && c.ServiceAccount == "":
		return usagef("k8s: --auth entra in a pod needs --service-account (with --workload-identity, the one federated with the Entra ID identity)")
	case c.WorkloadIdentity && c.ServiceAccount == "":
		return usagef("k8s: --workload-identity needs --service-account (the one federated with the Entra ID identity)")
	}
	return nil
}

// startAt is when every shard starts: --start-at, or --start-in from
// now, within a day.
func (c *K8sCmd) startAt() (string, error) {
	if c.StartAt == "" {
		if d := c.StartIn.D(); d < 0 || d > 24*time.Hour {
			return "", usagef("--start-in must be from 0 to 24h, got %s", c.StartIn)
		}
		return time.Now().Add(c.StartIn.D()).UTC().Truncate(time.Second).Format(time.RFC3339), nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.StartAt)
	switch {
	case err != nil:
		return "", usagef("--start-at %q is not an RFC 3339 time", c.StartAt)
	case time.Until(t) < 0:
		return "", usagef("--start-at %s has passed: the pods would start late", c.StartAt)
	case time.Until(t) > 24*time.Hour:
		return "", usagef("--start-at %s is more than a day away: the pods would refuse it", c.StartAt)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}
