//go:build !unix

package bench

import "os"

// maxRSS is a finished process's peak resident set in MB: unknown here.
func maxRSS(ps *os.ProcessState) float64 { return nan }
