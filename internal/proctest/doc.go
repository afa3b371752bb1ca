// Package proctest runs real binaries in tests, the way os/signal tests
// itself: the behaviour lastcall promises (hooks run on SIGTERM, the exit
// code is honest, nothing hangs) is a property of a process, so some tests
// have to build one, start it, send it a real signal and read how it ended.
//
// # Building
//
// [Build] compiles a package of this module once per test process, with
// -race unless PROCTEST_NORACE=1 is set, and returns the binary's path. It
// never uses go run: go run starts the program as its own child and does
// not forward SIGTERM to it, so the test would signal the wrong process.
// Binaries live in one directory per test process; [Exit] removes it.
//
// # Running
//
// [Start] runs a binary in its own process group with
// GORACE=atexit_sleep_ms=0 (the race detector otherwise sleeps a second
// before every exit, which skews timings). Its stdout and stderr are read
// line by line as they arrive. A test waits for a ready line with
// [Proc.WaitLine] instead of sleeping, sends a signal with [Proc.Signal]
// and reads the exit status with [Proc.Wait]. Every wait is bounded.
// When the test ends, the whole process group is killed with SIGKILL and
// reaped, so a test that fails halfway leaves no process behind. A test
// that follows the process itself (its children, say) starts it with
// [StartCmd] instead and reads its output through two [Stream]s.
//
// A TestMain using it looks like:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
//	}
//
// The package works on Unix only; elsewhere it is empty, and tests that use
// it carry a unix build tag.
package proctest
