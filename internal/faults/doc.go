// Package faults holds the fault matrix: tests that start a real program
// built on package shutdown (internal/testprog, built once with -race),
// put it in a bad spot with real signals and real pipes, and check how it
// ended. Each row of the matrix is one test, named after the row:
//
//	TestSignalStorm           1,000 SIGTERMs as fast as they can be sent
//	TestSignalDuringStartup   SIGTERM at a random moment of the start-up
//	TestSignalAtReady         SIGTERM the moment the program says "ready"
//	TestSIGINTIgnoredAtStart  SIGINT to a program started with SIGINT ignored
//	TestStdoutClosed          the reader of stdout gone (SIGPIPE)
//	TestPID1                  the program as PID 1 of a new PID namespace
//	TestSecondSignal          a second SIGTERM while hooks hang
//	TestConcurrentShutdown    1,000 goroutines calling Shutdown at once
//
// TestSignalBeforeRegistration shows a known library bug (a signal between
// New and the registration of the hooks, while nobody waits, ends the
// process before the hooks exist); it is skipped unless the tests run with
// -args -known-bugs.
//
// Each test logs its figures (runs, graceful and forced exits, the longest
// time from the signal to the end of the process); go test -v shows them,
// and RELIABILITY.md records a run. The tests run on Unix only; the
// package itself holds no code.
package faults
