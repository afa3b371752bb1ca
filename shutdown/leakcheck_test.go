package shutdown_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/shutdown"
)

// The leak checks of this package (goleak.VerifyTestMain in TestMain,
// goleak.VerifyNone in the leak tests) prove something only if they can
// fail. This test leaves a goroutine behind the way a careless hook does,
// tells goleak nothing about it, and checks that goleak finds it and names
// the hook; then it lets the hook return and checks that goleak is
// satisfied again. Not parallel, for the reason given in leak_test.go.

// abandoned is a hook that ignores its context: it returns only when
// release is closed. In a goroutine dump it appears as
// shutdown_test.(*abandoned).hook.
type abandoned struct{ release chan struct{} }

func (a *abandoned) hook(context.Context) error {
	<-a.release
	return nil
}

func TestLeakCheckCatchesAbandonedHook(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []shutdown.Option
		hook  []shutdown.HookOption
		after shutdown.Status // the hook that runs after the abandoned one
	}{
		// No timeout of its own: the hook runs on the walker goroutine,
		// which the whole deadline abandons with it; the next hook is
		// never reached.
		{"on the walker", []shutdown.Option{shutdown.WithTimeout(50 * time.Millisecond)}, nil, shutdown.Skipped},
		// A timeout of its own: the hook runs on a goroutine of its own,
		// abandoned at that timeout while the walker goes on.
		{"own timeout", nil, []shutdown.HookOption{shutdown.Timeout(50 * time.Millisecond)}, shutdown.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			a := &abandoned{release: make(chan struct{})}
			released := false
			defer func() {
				if !released {
					close(a.release) // however the test ends, the hook returns
				}
			}()

			c, _, _ := newTest(t, tc.opts...)
			var rec recorder
			c.Register("after", rec.hook("after"))
			c.Register("abandoned", a.hook, tc.hook...)
			rep := c.Shutdown(nil)
			require.Equal(t, shutdown.TimedOut, result(t, rep, "abandoned").Status)
			require.Equal(t, tc.after, result(t, rep, "after").Status)

			// goleak is told only which goroutines lived before the test.
			// Find retries while goroutines are still ending (20 times,
			// backing off to 100 ms: about half a second), then reports
			// what is left.
			began := time.Now()
			err := goleak.Find(before)
			took := time.Since(began)
			require.Error(t, err, "goleak missed the abandoned hook")
			msg := err.Error()
			assert.Contains(t, msg, "shutdown_test.(*abandoned).hook(", "goleak names the hook's function")
			assert.Equal(t, 1, strings.Count(msg, "Goroutine "), "one goroutine left, the hook's:\n%s", msg)
			assert.Less(t, took, 10*time.Second, "goleak.Find gives up in bounded time")

			// Once the hook returns, its goroutine ends and nothing is left.
			close(a.release)
			released = true
			assert.NoError(t, goleak.Find(before), "the goroutine outlived its hook")
		})
	}
}
