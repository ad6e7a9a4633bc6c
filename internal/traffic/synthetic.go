package traffic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Dist is a distribution of token counts: fixed (Mean), uniform (Min to
// Max), or normal (Mean and Stdev) truncated to Min and Max.
type Dist struct {
	Mean, Stdev, Min, Max float64
}

// Fixed reports whether the distribution is one value.
func (d Dist) Fixed() bool { return d.Stdev == 0 && (d.Mean > 0 || d.Min == d.Max) }

// sample draws a count from the distribution.
func (d Dist) sample(r *rand.Rand) int {
	switch {
	case d.Stdev > 0:
		// Truncated normal: draw again until in range (a few tries at
		// most for any sensible range), else take the nearest bound.
		for range 32 {
			v := math.Round(d.Mean + d.Stdev*r.NormFloat64())
			if v >= d.Min && v <= d.Max {
				return int(v)
			}
		}
		return int(math.Min(math.Max(math.Round(d.Mean), d.Min), d.Max))
	case d.Mean > 0:
		return int(math.Round(d.Mean))
	}
	return int(d.Min) + r.IntN(int(d.Max-d.Min)+1)
}

// synthKeys are the keys of --synthetic, GuideLLM's words.
var synthKeys = []string{"prompt_tokens", "prompt_tokens_stdev", "prompt_tokens_min", "prompt_tokens_max",
	"output_tokens", "output_tokens_stdev", "output_tokens_min", "output_tokens_max"}

// ParseSynthetic reads --synthetic: prompt_tokens=800,prompt_tokens_stdev=300,
// prompt_tokens_min=50,prompt_tokens_max=4000,output_tokens=200,
// output_tokens_stdev=80. A count with a stdev is normal, truncated to its
// min and max; with only a min and max, uniform; alone, fixed. Output
// tokens are sent as each request's max_tokens.
func ParseSynthetic(spec string) (prompt, output Dist, err error) {
	v := map[string]float64{}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		known := false
		for _, s := range synthKeys {
			known = known || s == k
		}
		if !ok || !known {
			return prompt, output, fmt.Errorf("%q is not KEY=VALUE of %s", kv, strings.Join(synthKeys, ", "))
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if perr != nil || !(f >= 0) || f > 10_000_000 || f != math.Trunc(f) && !strings.HasSuffix(k, "_stdev") {
			return prompt, output, fmt.Errorf("%s=%s is not a token count", k, val)
		}
		v[k] = f
	}
	dist := func(name string, lowest float64) (Dist, error) {
		mean, hasMean := v[name]
		sd := v[name+"_stdev"]
		lo, hasLo := v[name+"_min"]
		hi, hasHi := v[name+"_max"]
		d := Dist{Mean: mean, Stdev: sd, Min: lo, Max: hi}
		switch {
		case !hasMean && !(hasLo && hasHi):
			return d, fmt.Errorf("give %s, or %s_min and %s_max", name, name, name)
		case sd > 0 && !hasMean:
			return d, fmt.Errorf("%s_stdev needs %s (the mean)", name, name)
		case hasMean && sd == 0:
			if hasLo || hasHi {
				return d, fmt.Errorf("%s_min and %s_max bound a spread: give %s_stdev, or leave %s out for uniform", name, name, name, name)
			}
			d.Min, d.Max = mean, mean
		case !hasLo && !hasHi:
			d.Min, d.Max = math.Max(lowest, mean-4*sd), mean+4*sd
		case !hasLo:
			d.Min = lowest
		case !hasHi:
			d.Max = mean + 4*sd
		}
		if hasMean {
			d.Mean = mean
		} else {
			d.Mean = 0
		}
		if d.Min < lowest || d.Max < d.Min {
			return d, fmt.Errorf("%s: want %g <= min <= max, got %g and %g", name, lowest, d.Min, d.Max)
		}
		return d, nil
	}
	if prompt, err = dist("prompt_tokens", float64(MinContext)); err != nil {
		return prompt, output, err
	}
	if output, err = dist("output_tokens", 1); err != nil {
		return prompt, output, err
	}
	return prompt, output, nil
}

// Synthetic makes prompts of exact token counts drawn from distributions,
// of single-token words (see the package comment), each with its own
// unique words first so that no prompt cache serves one from another; with
// a prefix, every prompt starts with a shared system message (one of
// Prefixes), which a prompt cache can serve, and its unique words come
// after it.
type Synthetic struct {
	prompt, output Dist
	prefix         int // tokens of the shared system message, its overhead included
	prefixes       int
	seed           uint64
	rng            *rand.Rand
	words          tokenizer.Words
	agent          *Agent // tools, a format, images: nil for none
	instr          string // the words that ask for a long answer
}

// msgOverhead is one message's overhead: per-message tokens and the role.
const msgOverhead = tokenizer.PerMessage + 1

// NewSynthetic returns a source of synthetic prompts. prefix is the tokens
// of a shared system message (0: none), prefixes how many distinct ones.
func NewSynthetic(prompt, output Dist, prefix, prefixes int, seed uint64) (*Synthetic, error) {
	if prefix > 0 {
		if prefix <= msgOverhead {
			return nil, fmt.Errorf("a prefix must be more than %d tokens (a message's overhead), got %d", msgOverhead, prefix)
		}
		lo := prompt.Min
		if prompt.Stdev == 0 && prompt.Mean > 0 {
			lo = prompt.Mean
		}
		if lo > 0 && int(lo) < prefix+MinContext {
			return nil, fmt.Errorf("prompts of %g tokens cannot hold a %d-token prefix and a request of its own (%d tokens at least)", lo, prefix, prefix+MinContext)
		}
	}
	return &Synthetic{prompt: prompt, output: output, prefix: prefix, prefixes: max(prefixes, 1), seed: seed,
		rng: rand.New(rand.NewPCG(seed, 0x5eed)), words: tokenizer.NewWords(), instr: instruction}, nil
}

// SetAgent makes every prompt carry a's images and counts a's tokens in
// it; its tools and format go in the bodies (Params.Agent). A prompt
// that asks for JSON says so, as OpenAI's json_object requires, in as
// many tokens.
func (s *Synthetic) SetAgent(a *Agent) {
	s.agent = a
	s.instr = instruction
	if a != nil && a.JSON {
		s.instr = jsonInstruction
	}
}

// agentItem fills what an item of s's carries for its agent: what its
// answer is checked by and its images.
func (s *Synthetic) agentItem(it *Item) {
	if a := s.agent; a != nil {
		it.Expect = a.Expect
		it.Images, it.ImageBytes, it.ImageTokens = a.Images, a.ImageBytes(), a.Images*a.ImageTokens
	}
}

// Next implements Source.
func (s *Synthetic) Next(n int64, _ <-chan struct{}) (*Item, error) {
	prompt := max(s.prompt.sample(s.rng), s.prefix+MinContext)
	it := &Item{Prompt: prompt + s.agent.Extra(), MaxTokens: s.output.sample(s.rng), Session: -1}
	it.messages = s.render(make([]byte, 0, 8*prompt+64+len(s.agent.parts())), n, prompt, int(uint64(n)%uint64(s.prefixes)))
	s.agentItem(it)
	// A prompt with images is rendered in its API's shape.
	it.native = it.Images > 0 && s.agent.responses
	return it, nil
}

// render appends the messages of request n, of prompt tokens in all, to
// dst: the shared prefix number id, then a user message that starts with
// the request's unique words.
func (s *Synthetic) render(dst []byte, n int64, prompt, id int) []byte {
	dst = append(dst, '[')
	user := prompt - tokenizer.PerReply
	if s.prefix > 0 {
		dst = append(dst, `{"role":"system","content":"`...)
		for j := range s.prefix - msgOverhead {
			if j > 0 {
				dst = append(dst, ' ')
			}
			// Words of the prefix's own: a hash of its number and the
			// position, so that no two of a million prefixes are alike.
			dst = append(dst, s.words[mix64(uint64(id)<<32|uint64(j))%uint64(len(s.words))]...)
		}
		dst = append(dst, `"},`...)
		user -= s.prefix
	}
	if s.agent != nil && s.agent.Images > 0 {
		// The text first, so that the unique words stay first, then
		// the images.
		if s.agent.responses {
			dst = append(dst, `{"role":"user","content":[{"type":"input_text","text":"`...)
		} else {
			dst = append(dst, `{"role":"user","content":[{"type":"text","text":"`...)
		}
		dst = appendWords(dst, s.words, user-msgOverhead, uint64(n)+s.seed, s.instr)
		dst = append(dst, `"}`...)
		dst = append(dst, s.agent.imageParts...)
		return append(dst, `]}]`...)
	}
	dst = append(dst, `{"role":"user","content":"`...)
	dst = appendWords(dst, s.words, user-msgOverhead, uint64(n)+s.seed, s.instr)
	return append(dst, `"}]`...)
}

// appendUserWords appends a user message's content of exactly k
// single-token words: the unique words of u, filler, and the instruction
// to write at length when there is room for it.
func appendUserWords(dst []byte, words tokenizer.Words, k int, u uint64) []byte {
	return appendWords(dst, words, k, u, instruction)
}

// appendWords is appendUserWords with its own instruction (of
// single-token words).
func appendWords(dst []byte, words tokenizer.Words, k int, u uint64, instruction string) []byte {
	unique := min(prefixWords, k)
	instr := strings.Fields(instruction)
	if k-unique < len(instr) {
		instr = nil
	}
	filler := k - unique - len(instr)
	base := uint64(len(words))
	for j := range unique {
		if j > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, words[u%base]...)
		u /= base
	}
	for i := range filler {
		dst = append(dst, ' ')
		dst = append(dst, words[(i*7+3)%len(words)]...)
	}
	for _, w := range instr {
		dst = append(dst, ' ')
		dst = append(dst, w...)
	}
	return dst
}

// Next implements Source for the fixed shape: the precomputed body.
func (b *Builder) Next(n int64, _ <-chan struct{}) (*Item, error) {
	return &Item{Prompt: b.spec.Context, MaxTokens: b.spec.MaxTokens, Session: -1,
		body: func(dst []byte, usage bool) []byte { return b.Body(dst, n, usage) }}, nil
}
