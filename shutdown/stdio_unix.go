//go:build unix

package shutdown

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

var (
	stdioOnce sync.Once
	sigpipe   = make(chan os.Signal, 1) // never read: a full channel drops the signal
)

// protectStdio keeps a broken stdout or stderr from killing the process
// halfway through its shutdown. A Go program that does not ask for SIGPIPE
// dies of it when it writes to a closed pipe on fd 1 or 2, which is what
// happens when a log collector restarts or `prog | head` has read enough.
// Once SIGPIPE is asked for with Notify, such a write fails with EPIPE
// instead, and the hooks go on. This stays in force for the rest of the
// process: it is ending. Child processes are not affected (unlike
// signal.Ignore, a handler is reset by exec).
func protectStdio() {
	stdioOnce.Do(func() { signal.Notify(sigpipe, syscall.SIGPIPE) })
}
