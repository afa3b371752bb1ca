//go:build unix

package signals_test

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/signals"
)

// TestOSSkipsIgnoredSignals checks that OS.Notify does not undo an ignore:
// SIGHUP is ignored here, so it is not delivered, while SIGUSR1, asked for
// in the same call, is.
func TestOSSkipsIgnoredSignals(t *testing.T) {
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)

	ch := make(chan os.Signal, 4)
	signals.OS.Notify(ch, syscall.SIGHUP, syscall.SIGUSR1)
	defer signals.OS.Stop(ch)
	assert.True(t, signal.Ignored(syscall.SIGHUP), "Notify must leave SIGHUP ignored")

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	select {
	case s := <-ch:
		assert.Equal(t, syscall.SIGUSR1, s, "the ignored SIGHUP must not arrive")
	case <-time.After(10 * time.Second):
		t.Fatal("SIGUSR1 not delivered")
	}
}
