package kube

import (
	"os"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

func spec() Spec {
	return Spec{Name: "bench", Namespace: "load", Image: "reg/aoaibench:1", Shards: 4,
		Args: []string{"-e", "gpt-4o", "-r", "24000", "https://x.openai.azure.com"}, StartAt: "2026-12-02T16:00:00Z", Seed: 7,
		KeySecret: "key", KeySecretKey: "api-key", KeyEnv: "OPENAI_API_KEY", ResultsClaim: "results", MetricsPort: 9464,
		CPU: "2", Memory: "1Gi", ServiceAccount: "bench", WorkloadIdentity: true, EnvFrom: []string{"gateway"}}
}

// TestJobDecodesStrictly: the manifest is a batch/v1 Job as Kubernetes
// reads it, every field known (strict decoding into k8s.io/api's types),
// an Indexed Job of N pods that are never retried, each running its shard
// with the one start time and seed, the key from its Secret, its results
// on the shared volume.
func TestJobDecodesStrictly(t *testing.T) {
	out, err := Job(spec())
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(out, &job); err != nil {
		t.Fatalf("not a strict batch/v1 Job: %v\n%s", err, out)
	}
	js := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Namespace != "load" || js.CompletionMode == nil || *js.CompletionMode != batchv1.IndexedCompletion ||
		*js.Completions != 4 || *js.Parallelism != 4 || *js.BackoffLimit != 0 {
		t.Errorf("job %+v", job)
	}
	pod := js.Template.Spec
	c := pod.Containers[0]
	if pod.RestartPolicy != "Never" || pod.ServiceAccountName != "bench" || js.Template.Labels["azure.workload.identity/use"] != "true" ||
		pod.SecurityContext == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("pod %+v", pod)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"load -e gpt-4o -r 24000 https://x.openai.azure.com", "--seed 7", "--start-at 2026-12-02T16:00:00Z",
		"--output-dir /results/bench/shard-$(JOB_COMPLETION_INDEX)", "--metrics-listen :9464"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		default:
			env[e.Name] = e.Value
		}
	}
	if env["AOAIBENCH_SHARDS"] != "4" || env["OPENAI_API_KEY"] != "secret:key/api-key" ||
		env["JOB_COMPLETION_INDEX"] != "field:metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("env %v", env)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != "gateway" {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	if c.Resources.Limits.Cpu().String() != "2" || c.Resources.Requests.Memory().String() != "1Gi" || c.Ports[0].ContainerPort != 9464 {
		t.Errorf("resources %+v ports %+v", c.Resources, c.Ports)
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "results" {
		t.Errorf("volumes %+v", pod.Volumes)
	}

	out, err = MergeJob(spec())
	if err != nil {
		t.Fatal(err)
	}
	var merge batchv1.Job
	if err := yaml.UnmarshalStrict(out, &merge); err != nil {
		t.Fatalf("merge Job: %v\n%s", err, out)
	}
	margs := merge.Spec.Template.Spec.Containers[0].Args
	if merge.Name != "bench-merge" || !slices.Equal(margs[:3], []string{"merge", "-o", "/results/bench/merged"}) || len(margs) != 7 || margs[6] != "/results/bench/shard-3" {
		t.Errorf("merge args %q", margs)
	}
}

func TestJobRefuses(t *testing.T) {
	for name, mut := range map[string]func(*Spec){
		"name":   func(s *Spec) { s.Name = "Bench_1" },
		"long":   func(s *Spec) { s.Name = strings.Repeat("a", 53) },
		"shards": func(s *Spec) { s.Shards = 0 },
		"image":  func(s *Spec) { s.Image = "" },
		"claim":  func(s *Spec) { s.ResultsClaim = "" },
	} {
		s := spec()
		mut(&s)
		if _, err := Job(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if f := ReservedIn([]string{"-r", "60", "--output-dir=x"}); f != "--output-dir" {
		t.Errorf("ReservedIn: %q", f)
	}
}

// TestExampleJob: deploy/example-job.yaml is a Job Kubernetes reads.
func TestExampleJob(t *testing.T) {
	b, err := os.ReadFile("../../deploy/example-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(b, &job); err != nil || *job.Spec.Completions != 4 {
		t.Fatalf("deploy/example-job.yaml: %v", err)
	}
}
