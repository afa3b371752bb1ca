package signals

import (
	"os"
	"syscall"
)

// Default returns the signals that end a service by default on this
// operating system: SIGINT and SIGTERM on Unix, os.Interrupt and
// syscall.SIGTERM on Windows. Each call returns a new slice.
func Default() []os.Signal { return defaultSignals() }

// ExitCode returns the exit status a process reports when it ends because of
// sig: 128 plus the signal number (SIGTERM: 143, SIGINT: 130). A signal that
// is not a syscall.Signal has no number and maps to 1.
func ExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok && int(s) > 0 {
		return 128 + int(s)
	}
	return 1
}

// Error is the cause of a shutdown triggered by a signal. It is what
// context.Cause returns for the coordinator's context and what
// Report.Cause holds; use errors.As to read the signal.
type Error struct {
	Signal os.Signal
}

// Error returns "signal: " followed by the signal's name.
func (e *Error) Error() string {
	if e == nil || e.Signal == nil {
		return "signal: <nil>"
	}
	return "signal: " + e.Signal.String()
}
