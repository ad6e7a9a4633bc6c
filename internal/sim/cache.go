package sim

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// Azure's prompt caching rules: a prompt's first CacheMin tokens must
// match a recent prompt's exactly; past them, hits grow in steps of
// CacheStep tokens.
const (
	CacheMin  = 1024
	CacheStep = 128
)

// cacheLimit bounds a deployment's cache: past it, expired prefixes are
// swept, and if that is not enough the cache starts over.
const cacheLimit = 1 << 20

// promptCache is a deployment's prompt cache. It remembers a hash of
// every prompt's prefix at each step boundary (1,024, 1,152, ...
// tokens) with when it was last used; a prefix unused for the TTL is
// gone, as Azure clears caches after minutes of inactivity. A prefix is
// cached once a request carrying it is admitted. Not safe for
// concurrent use: the deployment's lock guards it.
type promptCache struct {
	ttl  time.Duration
	seen map[uint64]time.Time
}

func newPromptCache(ttl time.Duration) *promptCache {
	return &promptCache{ttl: ttl, seen: map[uint64]time.Time{}}
}

// hit returns how many of the prompt's tokens are cached, given its
// prefix hashes at each boundary.
func (c *promptCache) hit(now time.Time, hashes []uint64) int {
	for i := len(hashes) - 1; i >= 0; i-- {
		if at, ok := c.seen[hashes[i]]; ok && now.Sub(at) < c.ttl {
			return CacheMin + i*CacheStep
		}
	}
	return 0
}

// add caches the prompt's prefixes. At the limit it sweeps out what has
// expired and, if that is not enough, drops arbitrary entries (a map's
// order is random) down to half the limit: a sweep then comes once per
// half a limit of new prefixes, not once per request, and the cache never
// empties at once.
func (c *promptCache) add(now time.Time, hashes []uint64) {
	if len(c.seen)+len(hashes) > cacheLimit {
		for h, at := range c.seen {
			if now.Sub(at) >= c.ttl {
				delete(c.seen, h)
			}
		}
		for h := range c.seen {
			if len(c.seen)+len(hashes) <= cacheLimit/2 {
				break
			}
			delete(c.seen, h)
		}
	}
	for _, h := range hashes {
		c.seen[h] = now
	}
}

// fnv64 constants: FNV-1a, over the prompt's bytes.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// prefixHashes appends the hash of the prompt's first k tokens for each
// step boundary k up to its length, in order. A message's role and
// overhead count as one unit of tokens: a boundary inside one takes the
// hash after it. offs is scratch.
func prefixHashes(dst []uint64, tok *tokenizer.Tokenizer, msgs []tokenizer.Message, offs []int) ([]uint64, []int) {
	h := uint64(fnvOffset)
	n, next := 0, CacheMin
	mark := func() {
		for n >= next {
			dst = append(dst, h)
			next += CacheStep
		}
	}
	for _, m := range msgs {
		// The header: overhead, role and name, with separators that no
		// content can forge.
		h = fnvAdd(h, "\x00"+m.Role+"\x00"+m.Name+"\x00")
		n += tokenizer.PerMessage + tok.Count(m.Role)
		if m.Name != "" {
			n += tok.Count(m.Name) + 1
		}
		mark()
		offs = tok.Offsets(offs[:0], m.Content)
		start := 0
		for _, end := range offs {
			h = fnvAdd(h, m.Content[start:end])
			start = end
			n++
			if n == next {
				dst = append(dst, h)
				next += CacheStep
			}
		}
	}
	return dst, offs
}
