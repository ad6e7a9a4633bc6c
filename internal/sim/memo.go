package sim

import "sync"

// memo is a bounded cache of what a request's text compiles to (tool
// definitions and their token count, a schema), keyed by the text: a load
// test sends the same tools and schema with every request, and compiling
// them each time would cost more than the rest of the request. It holds
// at most memoEntries values of keys of at most memoKey bytes (a larger
// text is compiled each time), so at most 16 MB of keys; past that, the
// oldest entry goes. Safe for concurrent use.
type memo[V any] struct {
	mu    sync.Mutex
	m     map[string]V
	order []string // keys, oldest first
}

// The memo's bounds.
const (
	memoEntries = 64
	memoKey     = 256 << 10
)

// get returns key's value, made by make on a miss (outside the lock:
// two requests may both make it; either value is right).
func (c *memo[V]) get(key []byte, make func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[string(key)]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := make()
	if err != nil || len(key) > memoKey {
		return v, err
	}
	k := string(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	if _, ok := c.m[k]; !ok {
		if len(c.order) == memoEntries {
			delete(c.m, c.order[0])
			c.order = append(c.order[:0], c.order[1:]...)
		}
		c.order = append(c.order, k)
	}
	c.m[k] = v
	return v, nil
}
