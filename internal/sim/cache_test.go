package sim

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// words returns n single-token words, the k-th of them from seed.
func words(n, seed int) string {
	w := strings.Fields("time year people way day man thing woman life child world school state family student group")
	out := make([]string, n)
	for i := range out {
		out[i] = w[(i*7+seed)%len(w)]
	}
	return strings.Join(out, " ")
}

// cachedOf sends a non-streaming chat request and returns its usage's
// prompt and cached tokens, and its utilization header.
func cachedOf(e *env, system, user string) (prompt, cached int, util string) {
	e.t.Helper()
	msgs := []map[string]string{}
	if system != "" {
		msgs = append(msgs, map[string]string{"role": "system", "content": system})
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": user})
	b, _ := json.Marshal(map[string]any{"messages": msgs, "max_tokens": 2})
	resp := e.post(classic, string(b))
	var v struct {
		Usage struct {
			Prompt  int `json:"prompt_tokens"`
			Details struct {
				Cached int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	body := readAll(resp)
	if err := json.Unmarshal([]byte(body), &v); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	return v.Usage.Prompt, v.Usage.Details.Cached, resp.Header.Get("azure-openai-deployment-utilization")
}

// TestPromptCache: Azure's rules. A prefix of at least 1,024 identical
// tokens is served from the cache, in 128-token steps; shorter matches
// and different starts are not; a prefix unused for the TTL is gone.
func TestPromptCache(t *testing.T) {
	d := simconfig.Deployment{Name: "gpt-4o-mini", TTFT: simconfig.Duration(time.Millisecond), CacheTTL: simconfig.Duration(time.Minute)}
	run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
		system := words(1500, 0) // 1,500 words + 4 tokens of header
		if p, c, _ := cachedOf(e, system, "alpha"); c != 0 || p != 1500+4+5+3 {
			t.Fatalf("first: prompt %d, cached %d", p, c)
		}
		// The same system message, another question: the match is the
		// system message and the user header (1,508 tokens), 1,408 in
		// 128-token steps.
		if _, c, _ := cachedOf(e, system, "beta"); c != 1408 {
			t.Errorf("shared system message: cached %d, want 1408", c)
		}
		// The same prompt again: all of it up to the last step.
		if p, c, _ := cachedOf(e, system, "beta"); c != 1024+3*128 || p-c > 128+3 {
			t.Errorf("repeat: prompt %d cached %d", p, c)
		}
		// 1,000 shared tokens: under the minimum.
		if _, c, _ := cachedOf(e, words(1000, 0)+" "+words(600, 3), "x"); c != 0 {
			t.Errorf("1,000 shared tokens: cached %d", c)
		}
		// A different first word: nothing, however much follows.
		if _, c, _ := cachedOf(e, "different "+system, "beta"); c != 0 {
			t.Errorf("a different start: cached %d", c)
		}
		// Unused for the TTL, the prefix is gone.
		time.Sleep(61 * time.Second)
		if _, c, _ := cachedOf(e, system, "beta"); c != 0 {
			t.Errorf("after the TTL: cached %d", c)
		}
	})
	d.NoPromptCache = true
	run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
		cachedOf(e, words(1500, 0), "a")
		if _, c, _ := cachedOf(e, words(1500, 0), "a"); c != 0 {
			t.Errorf("no_prompt_cache: cached %d", c)
		}
	})
}

// TestPromptCacheProvisioned: a provisioned deployment leaves cached
// tokens out of its utilization.
func TestPromptCacheProvisioned(t *testing.T) {
	d := simconfig.Deployment{Name: "gpt-4o-mini", Type: "provisioned", PTU: 20, TPMPerPTU: 5_000, TTFT: simconfig.Duration(time.Millisecond)}
	run(t, Config{Deployments: []simconfig.Deployment{d}}, func(e *env) {
		system := words(4000, 1)
		pct := func(s string) float64 { v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64); return v }
		// The header is the utilization once the request is admitted.
		_, _, u0 := cachedOf(e, system, "one")
		_, c, u1 := cachedOf(e, system, "two")
		first, second := pct(u0), pct(u1)-pct(u0)
		// The first request counts 4,012 prompt + 2 x 4 output units, 4.0% of
		// 100,000 TPM; the second the same less the 3,968 cached: 0.05%.
		if c != 3968 || first < 3.9 || second > 0.2 || second < 0 {
			t.Errorf("cached %d; utilization steps %.2f%% then %.2f%%: want the cached tokens left out", c, first, second)
		}
	})
}

// TestPromptCacheBounded: past its limit the cache drops down to half of
// it, keeping the rest, instead of sweeping on every request or emptying.
func TestPromptCacheBounded(t *testing.T) {
	c := newPromptCache(time.Hour)
	now := time.Unix(0, 0)
	hashes := make([]uint64, 1000)
	for i := range cacheLimit / 1000 {
		for j := range hashes {
			hashes[j] = uint64(i*1000 + j)
		}
		c.add(now, hashes)
	}
	if len(c.seen) != cacheLimit/1000*1000 {
		t.Fatalf("%d entries before the limit", len(c.seen))
	}
	for j := range hashes {
		hashes[j] = uint64(cacheLimit + j)
	}
	c.add(now, hashes)
	if n := len(c.seen); n > cacheLimit/2+1000 || n < cacheLimit/2-1000 {
		t.Errorf("%d entries after the limit, want about %d", n, cacheLimit/2)
	}
	if c.hit(now, hashes[len(hashes)-1:]) == 0 {
		t.Error("the newest prefix was dropped")
	}
}
