//go:build !linux

package sim

// canDirect tells whether the clock can write streams to their sockets:
// elsewhere than on Linux, each stream's goroutine writes it.
const canDirect = false

func (st *stream) writeFD(fd uintptr) bool { return true }
