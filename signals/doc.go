// Package signals is the operating-system side of lastcall: which signals
// end a process by default, how a signal maps to an exit code, and a Source
// seam through which the shutdown coordinator receives them.
//
// # Sources
//
// A [Source] has the shape of os/signal's Notify and Stop. [OS] is the real
// one; [NewFake] returns one that delivers only what a test sends with
// [Fake.Send], so unit tests never raise real signals.
//
// # Exit codes
//
// A process killed by a signal is reported by shells and container runtimes
// as 128 plus the signal number (143 for SIGTERM, 130 for SIGINT). A process
// that handles the signal and then gives up on a graceful end mirrors that
// convention through [ExitCode], so supervisors read the same status whether
// or not lastcall was in the loop.
//
// # Windows
//
// On Windows, Ctrl-C and Ctrl-Break arrive as [os.Interrupt]; console close,
// log-off and system shutdown events arrive as syscall.SIGTERM. [Default]
// returns both.
package signals
