package shutdown_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

// TestMain checks that no goroutine outlives the tests, then removes the
// binaries the process tests built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}
