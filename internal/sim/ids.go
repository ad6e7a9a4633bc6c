package sim

import (
	"crypto/rand"
	"encoding/hex"
)

// Random ids, as Azure's answers carry them.

// newID returns n random hex digits.
func newID(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func requestID() string {
	h := newID(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
