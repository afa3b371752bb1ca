//go:build unix

package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const (
	handler1 = "Message from exit handler 1..."
	handler2 = "Message from exit handler 2..."
	wait     = 20 * time.Second
)

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second:             "1 second",
		30 * time.Second:        "30 seconds",
		100 * time.Millisecond:  "100ms",
		1500 * time.Millisecond: "1.5s",
		0:                       "0s",
	} {
		assert.Equal(t, want, human(d), "%v", d)
	}
}

// TestNormalEnd: main returns after the sleep, and the deferred Shutdown
// runs the hooks in reverse order of registration.
func TestNormalEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"both", nil, []string{handler2, handler1}},
		{"unregister", []string{"-unregister"}, []string{handler2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := proctest.Build(t, "./examples/killdemo")
			p := proctest.Start(t, bin, append([]string{"-sleep", "100ms"}, tc.args...)...)

			r := p.MustWait(wait)
			require.True(t, r.Exited, r.String())
			assert.Equal(t, 0, r.Code)
			assert.Equal(t, append([]string{"Will sleep for 100ms..."}, tc.want...), r.Stdout)
		})
	}
}

// TestSignal: a signal during the sleep runs the hooks in reverse order,
// and the process ends with exit code 0 at once instead of dying of the
// signal or finishing its sleep.
func TestSignal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		args []string
		want []string
	}{
		{"SIGTERM", syscall.SIGTERM, nil, []string{handler2, handler1}},
		{"SIGINT", syscall.SIGINT, nil, []string{handler2, handler1}},
		{"SIGTERM unregister", syscall.SIGTERM, []string{"-unregister"}, []string{handler2}},
		{"SIGINT unregister", syscall.SIGINT, []string{"-unregister"}, []string{handler2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := proctest.Build(t, "./examples/killdemo")
			p := proctest.Start(t, bin, append([]string{"-sleep", "30s"}, tc.args...)...)
			p.MustWaitLine("Will sleep for 30 seconds...", wait)
			require.NoError(t, p.Signal(tc.sig))

			r := p.MustWait(wait)
			require.True(t, r.Exited, "want exit code 0, got %v", r)
			assert.Equal(t, 0, r.Code)
			assert.Equal(t, append([]string{"Will sleep for 30 seconds..."}, tc.want...), r.Stdout)
			assert.Less(t, r.Elapsed, 10*time.Second, "should end well before the 30s sleep")
		})
	}
}
