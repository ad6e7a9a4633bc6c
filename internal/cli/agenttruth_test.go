package cli

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/aoaibench/aoaibench/internal/sim"
)

// TestToolCallTruth: tool-call answers streamed by the simulator over
// loopback TCP are measured as the simulator timed them: the client's
// TTFT mean (at the call's id and name) is the simulator's own, and each
// answer's argument tokens are the server's count, as are the prompt
// tokens that tools and images add.
func TestToolCallTruth(t *testing.T) {
	s, err := sim.Start(sim.Config{Precise: true}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, nil, "load", "--api", "azure", "-e", "gpt-4o-mini", "-n", "30", "-r", "600", "-p", "200", "-m", "60",
		"--tools", "3", "--tool-choice", "required", "--images", "1", "--image-size", "512x512", "--image-detail", "low",
		"--output-dir", dir, s.URL())
	if !worked(code, errOut) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	st := s.Stats().Deployments["gpt-4o-mini"]
	var truth float64
	var n int64
	for _, c := range st.Classes {
		if c.Answer == "tool_call" && c.TTFT.Mean != nil {
			truth += *c.TTFT.Mean * float64(c.Count)
			n += c.Count
		}
	}
	var client, prompt, output float64
	recs := readRecords(t, filepath.Join(dir, "requests.jsonl"))
	for _, r := range recs {
		if r["answer"] != "tool_call" || r["client_output_tokens"] != r["server_output_tokens"] || r["client_prompt_tokens"] != r["server_prompt_tokens"] {
			t.Errorf("record: answer %v, output tokens client %v server %v, prompt client %v server %v", r["answer"],
				r["client_output_tokens"], r["server_output_tokens"], r["client_prompt_tokens"], r["server_prompt_tokens"])
		}
		client += r["ttft"].(float64)
		prompt += r["server_prompt_tokens"].(float64)
		output += r["client_output_tokens"].(float64)
	}
	if n != 30 || len(recs) != 30 || st.ToolCalls != 30 {
		t.Fatalf("%d records, the simulator timed %d tool calls of %d", len(recs), n, st.ToolCalls)
	}
	truth, client = truth/float64(n)*1e3, client/float64(len(recs))*1e3
	t.Logf("tool-call TTFT mean: client %.3f ms, simulator %.3f ms (difference %.3f ms)", client, truth, client-truth)
	// The difference is the loopback and the client's reading (under a
	// millisecond: 0.5 to 0.7 ms here, a 512x512 image uploaded); the margin is
	// for a busy one.
	if math.Abs(client-truth) > 3 {
		t.Errorf("tool-call TTFT mean: client %.3f ms, simulator %.3f ms", client, truth)
	}
	if int64(output) != st.CompletionTokens || int64(prompt) != st.PromptTokens || st.Images != 30 || st.ImageTokens != 30*2833 {
		t.Errorf("tokens: output %v prompt %v; the simulator's %d, %d, images %d of %d tokens", output, prompt,
			st.CompletionTokens, st.PromptTokens, st.Images, st.ImageTokens)
	}
}
