// Package kube writes the Kubernetes manifests that run a plan's shards:
// an Indexed Job whose pod i runs shard i of N (Kubernetes sets
// JOB_COMPLETION_INDEX; the pod's AOAIBENCH_SHARDS says N), all starting
// at one --start-at, each writing its output directory to a shared
// volume, and a Job that merges them. The manifests are plain data:
// nothing here talks to a cluster.
package kube

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Spec is what the Job runs and where.
type Spec struct {
	Name      string   // the Job's name (a DNS label)
	Namespace string   // "" for kubectl's current one
	Image     string   // aoaibench's image
	Shards    int      // pods, one shard each
	Args      []string // the load command's arguments, --shard and output flags left out
	StartAt   string   // RFC 3339: when every shard starts
	Seed      uint64   // the plan's seed, the same in every shard
	// KeySecret names the Secret whose KeySecretKey holds the API key,
	// given to the pods as KeyEnv; "" sends none (Microsoft Entra ID, a
	// gateway header).
	KeySecret, KeySecretKey, KeyEnv string
	// ServiceAccount runs the pods as a service account; with
	// WorkloadIdentity, Azure's workload identity gives them Entra ID
	// tokens.
	ServiceAccount   string
	WorkloadIdentity bool
	// ResultsClaim is a PersistentVolumeClaim (ReadWriteMany) that every
	// pod writes its shard's output directory to, as shard-I.
	ResultsClaim string
	// MetricsPort serves each pod's live metrics to Prometheus (0: none).
	MetricsPort int
	CPU, Memory string // each pod's request and limit
	// EnvFrom names Secrets whose keys become environment variables
	// (a gateway's --header VALUE of env:VAR).
	EnvFrom []string
}

// check refuses a spec that would not make a working Job.
func (s *Spec) check() error {
	switch {
	case !dnsLabel(s.Name):
		return fmt.Errorf("--name %q is not a DNS label (lowercase letters, digits and -, at most 52)", s.Name)
	case s.Shards < 1 || s.Shards > 10000:
		return fmt.Errorf("--shards must be from 1 to 10000, got %d", s.Shards)
	case s.Image == "":
		return fmt.Errorf("--image is required")
	case s.ResultsClaim == "":
		return fmt.Errorf("--results-claim is required: a ReadWriteMany PersistentVolumeClaim that every shard writes to")
	case s.MetricsPort < 0 || s.MetricsPort > 65535:
		return fmt.Errorf("--metrics-port %d is not a port", s.MetricsPort)
	case s.Namespace != "" && !dnsLabel(s.Namespace):
		return fmt.Errorf("--namespace %q is not a namespace's name", s.Namespace)
	case strings.ContainsAny(s.Image, " \t\r\n") || strings.HasPrefix(s.Image, "-"):
		return fmt.Errorf("--image %q is not an image reference", s.Image)
	case s.CPU != "" && !quantity(s.CPU):
		return fmt.Errorf("--cpu %q is not a Kubernetes quantity (2, 500m)", s.CPU)
	case s.Memory != "" && !quantity(s.Memory):
		return fmt.Errorf("--memory %q is not a Kubernetes quantity (1Gi, 512Mi)", s.Memory)
	}
	for _, name := range append([]string{s.ResultsClaim, s.KeySecret, s.ServiceAccount}, s.EnvFrom...) {
		if name != "" && !dnsLabel(name) && !dnsSubdomain(name) {
			return fmt.Errorf("%q is not the name of a Kubernetes object", name)
		}
	}
	return nil
}

// quantity reports whether s is a Kubernetes resource quantity: a
// number and a suffix (m, k, M, G, T, P, E, or Ki ... Ei).
func quantity(s string) bool {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return false
	}
	switch s[i:] {
	case "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei":
		return true
	}
	return false
}

// dnsSubdomain reports whether s is a DNS subdomain (the name of most
// Kubernetes objects): labels joined by dots, 253 at most.
func dnsSubdomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || !dnsLabel(l) {
			return false
		}
	}
	return true
}

// dnsLabel reports whether s can name a Job whose pods' names (the Job's,
// a dash, an index and five random characters) stay within 63.
func dnsLabel(s string) bool {
	if s == "" || len(s) > 52 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Job returns the Indexed Job of the shards, as YAML.
func Job(s Spec) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	labels := map[string]any{"app.kubernetes.io/name": "aoaibench", "app.kubernetes.io/instance": s.Name}
	podLabels := map[string]any{}
	for k, v := range labels {
		podLabels[k] = v
	}
	if s.WorkloadIdentity {
		podLabels["azure.workload.identity/use"] = "true"
	}
	job := map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": s.meta(s.Name, labels),
		"spec": map[string]any{
			"completionMode": "Indexed", "completions": s.Shards, "parallelism": s.Shards,
			// A shard run twice would send its share twice: a failed pod
			// is not retried, and the merge says which shard is missing.
			"backoffLimit": 0,
			"template":     map[string]any{"metadata": map[string]any{"labels": podLabels}, "spec": s.shardPod()},
		},
	}
	out, err := yaml.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("writing the Job: %w", err)
	}
	return out, nil
}

// meta is a Job's metadata: its name, labels and namespace.
func (s *Spec) meta(name string, labels map[string]any) map[string]any {
	meta := map[string]any{"name": name, "labels": labels}
	if s.Namespace != "" {
		meta["namespace"] = s.Namespace
	}
	return meta
}

// shardPod is the spec of a shard's pod: its container, the results
// volume and a writable /tmp, run as a user that is not root.
func (s *Spec) shardPod() map[string]any {
	pod := map[string]any{
		"restartPolicy":   "Never",
		"securityContext": podSecurity(),
		"containers":      []any{s.shardContainer()},
		"volumes": []any{map[string]any{"name": "results", "persistentVolumeClaim": map[string]any{"claimName": s.ResultsClaim}},
			map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
	}
	if s.ServiceAccount != "" {
		pod["serviceAccountName"] = s.ServiceAccount
	}
	return pod
}

// shardContainer is the container that runs a shard: its arguments and
// environment, the secrets it reads, its resources and metrics port.
func (s *Spec) shardContainer() map[string]any {
	container := map[string]any{
		"name": "aoaibench", "image": s.Image, "args": s.shardArgs(), "env": s.shardEnv(),
		"volumeMounts":    []any{map[string]any{"name": "results", "mountPath": "/results"}, map[string]any{"name": "tmp", "mountPath": "/tmp"}},
		"securityContext": containerSecurity(),
	}
	if len(s.EnvFrom) > 0 {
		var from []any
		for _, name := range s.EnvFrom {
			from = append(from, map[string]any{"secretRef": map[string]any{"name": name}})
		}
		container["envFrom"] = from
	}
	if s.CPU != "" || s.Memory != "" {
		res := map[string]any{}
		if s.CPU != "" {
			res["cpu"] = s.CPU
		}
		if s.Memory != "" {
			res["memory"] = s.Memory
		}
		container["resources"] = map[string]any{"requests": res, "limits": res}
	}
	if s.MetricsPort > 0 {
		container["ports"] = []any{map[string]any{"name": "metrics", "containerPort": s.MetricsPort}}
	}
	return container
}

// shardArgs are a shard's arguments: the load command's, with the seed,
// the start and the output directory of its index.
func (s *Spec) shardArgs() []string {
	args := append([]string{"load"}, s.Args...)
	args = append(args, "--seed", strconv.FormatUint(s.Seed, 10), "--start-at", s.StartAt,
		"--output-dir", "/results/"+s.Name+"/shard-$(JOB_COMPLETION_INDEX)", "--output-format", "jsonl")
	if s.MetricsPort > 0 {
		args = append(args, "--metrics-listen", ":"+strconv.Itoa(s.MetricsPort), "--metrics-linger", "30s")
	}
	return args
}

// shardEnv is a shard's environment: its index, the count of shards and
// the API key, from its Secret.
func (s *Spec) shardEnv() []any {
	env := []any{
		// Set by the Job controller on every pod of an Indexed Job; named
		// here too so that $(JOB_COMPLETION_INDEX) in the arguments is
		// expanded.
		map[string]any{"name": "JOB_COMPLETION_INDEX", "valueFrom": map[string]any{"fieldRef": map[string]any{
			"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
		map[string]any{"name": "AOAIBENCH_SHARDS", "value": strconv.Itoa(s.Shards)},
	}
	if s.KeySecret != "" {
		env = append(env, map[string]any{"name": s.KeyEnv, "valueFrom": map[string]any{"secretKeyRef": map[string]any{
			"name": s.KeySecret, "key": s.KeySecretKey}}})
	}
	return env
}

// podSecurity is every pod's security context: not root, the runtime's
// seccomp profile.
func podSecurity() map[string]any {
	return map[string]any{
		"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}
}

// containerSecurity is every container's security context: no new
// privileges, no capabilities, a read-only root.
func containerSecurity() map[string]any {
	return map[string]any{
		"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
		"capabilities": map[string]any{"drop": []any{"ALL"}},
	}
}

// MergeJob returns the Job that merges the shards' directories on the
// results volume into /results/NAME/merged, once the shards' Job is
// complete (kubectl wait --for=condition=complete job/NAME).
func MergeJob(s Spec) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	args := []string{"merge", "-o", "/results/" + s.Name + "/merged"}
	for i := range s.Shards {
		args = append(args, "/results/"+s.Name+"/shard-"+strconv.Itoa(i))
	}
	labels := map[string]any{"app.kubernetes.io/name": "aoaibench", "app.kubernetes.io/instance": s.Name + "-merge"}
	job := map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": s.meta(s.Name+"-merge", labels),
		"spec": map[string]any{
			"backoffLimit": 0,
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{
				"restartPolicy":   "Never",
				"securityContext": podSecurity(),
				"containers": []any{map[string]any{"name": "merge", "image": s.Image, "args": args,
					"volumeMounts":    []any{map[string]any{"name": "results", "mountPath": "/results"}},
					"securityContext": containerSecurity()}},
				"volumes": []any{map[string]any{"name": "results", "persistentVolumeClaim": map[string]any{"claimName": s.ResultsClaim}}},
			}},
		},
	}
	out, err := yaml.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("writing the merge Job: %w", err)
	}
	return out, nil
}

// ReservedIn returns the first flag in args that the Job sets itself (or
// that reads a file the pods do not have), "" when none.
func ReservedIn(args []string) string {
	reserved := []string{"--shard", "--start-at", "--seed", "--output-dir", "--log-save-dir", "--log-file",
		"--metrics-listen", "--metrics-linger", "--output-format", "-f", "--plan", "--params", "--cpu-profile", "--mem-profile"}
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		for _, r := range reserved {
			// -fjsonl is -f too.
			if name == r || len(r) == 2 && strings.HasPrefix(a, r) && !strings.HasPrefix(a, "--") {
				return r
			}
		}
	}
	return ""
}
