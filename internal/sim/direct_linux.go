package sim

import (
	"syscall"
	"unsafe"
)

// canDirect tells whether the clock can write streams to their sockets.
const canDirect = true

// writeFD is tick's single non-blocking write of st.out (RawConn.Write's
// callback, made once per stream so that a write allocates nothing). It
// is a raw system call: the socket never blocks and the call takes
// microseconds, while an ordinary one lets the runtime's monitor wake up
// to take the clock's processor at every write (its naps were 9% of the
// simulator's CPU samples at 75,000 writes a second).
func (st *stream) writeFD(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(st.out))), uintptr(len(st.out)))
		switch errno {
		case 0:
			st.wn = int(n)
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			st.wn = 0
		default:
			st.werr = errno
		}
		return true // never wait for the socket: the stream's goroutine will
	}
}
