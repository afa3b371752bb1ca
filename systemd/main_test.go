package systemd_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv, when set, makes the test binary act as a child process of a
// test (see child_test.go) instead of running the tests: socket activation
// can only be tested in a process the descriptors were passed to.
const childEnv = "LASTCALL_SYSTEMD_CHILD"

// TestMain runs the child when asked to, else the tests, and checks that
// no goroutine outlives them.
func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childEnv); ok {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}
