package shutdown_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// Behaviour 5: the first signal triggers the shutdown; a second one while
// it runs forces the exit at once with 128+signo (unless WithForceExit
// (false)), logging the hooks still running; signals are released when the
// shutdown completes. Signals come from a fake source, never the OS.

// blockedHook returns a hook that closes started when it starts and then
// ignores its context, returning only when release is closed.
func blockedHook(started chan<- struct{}, release <-chan struct{}) shutdown.Hook {
	return func(context.Context) error {
		close(started)
		<-release
		return nil
	}
}

func TestSignalFirstTriggers(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			c, fake, _ := newTest(t)
			var rec recorder
			c.Register("a", rec.hook("a"))
			c.Register("b", rec.hook("b"))
			require.Equal(t, 1, fake.Watching(sig), "listening before any trigger")
			assert.NoError(t, c.Context().Err(), "not triggered by New")

			require.Equal(t, 1, fake.Send(sig), "the coordinator's channel receives the signal")
			mustRecv(t, c.Done(), "shutdown after the first signal")

			rep := c.Wait()
			var se *signals.Error
			require.ErrorAs(t, rep.Cause, &se)
			assert.Equal(t, sig, se.Signal)
			assert.Equal(t, []string{"b", "a"}, rec.Names())
			assert.False(t, rep.Forced)
			assert.Equal(t, 0, rep.ExitCode(), "a graceful shutdown on a signal exits 0")
		})
	}
}

func TestSignalSecondForcesExit(t *testing.T) {
	for _, tc := range []struct {
		first, second os.Signal
		code          int
	}{
		{syscall.SIGTERM, syscall.SIGTERM, 143},
		{syscall.SIGINT, syscall.SIGINT, 130},
		{syscall.SIGINT, syscall.SIGTERM, 143},
		{syscall.SIGTERM, syscall.SIGINT, 130},
	} {
		t.Run(tc.first.String()+" then "+tc.second.String(), func(t *testing.T) {
			t.Parallel()
			sink := newLogSink()
			exits := newExitCalls()
			c, fake, _ := newTest(t, shutdown.WithLogger(sink.logger()), shutdown.WithExitFunc(exits.exit),
				shutdown.WithTimeout(time.Hour))
			started, release := make(chan struct{}), make(chan struct{})
			defer close(release)
			var rec recorder
			c.Register("later-hook", rec.hook("later-hook"))
			c.Register("stuck-hook", blockedHook(started, release))

			require.Equal(t, 1, fake.Send(tc.first))
			mustRecv(t, started, "stuck hook start")
			require.Equal(t, 1, fake.Send(tc.second), "still listening while the shutdown runs")

			// The exit func is called while the hook is still blocked:
			// release is closed only when the test returns.
			assert.Equal(t, tc.code, mustRecv(t, exits, "forced exit"))

			// The exit func returned (a test): the report still completes.
			mustRecv(t, c.Done(), "report after the forced exit")
			rep := c.Wait()
			assert.True(t, rep.Forced)
			assert.Equal(t, tc.code, rep.ExitCode())
			var se *signals.Error
			require.ErrorAs(t, rep.Cause, &se)
			assert.Equal(t, tc.first, se.Signal, "the cause is the first signal")

			stuck := result(t, rep, "stuck-hook")
			assert.Equal(t, shutdown.TimedOut, stuck.Status)
			assert.ErrorIs(t, stuck.Err, shutdown.ErrForced)
			after := result(t, rep, "later-hook")
			assert.Equal(t, shutdown.Skipped, after.Status)
			assert.Empty(t, rec.Names(), "no hook starts after the forced exit")
			assert.Empty(t, exits.codes(), "the exit func is called once")

			// The log names the hook still running when the exit was
			// forced, and only that one.
			var named []string
			for _, r := range sink.records() {
				if _, ok := r.Attrs["hook"]; ok {
					continue // the hook's own record
				}
				text := r.text()
				assert.NotContains(t, text, "later-hook", "a hook that was not running is named")
				if strings.Contains(text, "stuck-hook") {
					named = append(named, text)
				}
			}
			assert.Len(t, named, 1, "one record names the running hook")
		})
	}
}

// The coordinator holds the signals until the forced exit has been made:
// a third SIGTERM while the exit func runs still reaches the coordinator,
// not Go's default action, which would kill the process by the signal
// before the exit func sets the status to 128+signo.
func TestSignalHeldUntilForcedExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fake *signals.Fake
		watching := make(chan int, 1)
		c, fake, _ := newTest(t, shutdown.WithTimeout(time.Hour),
			shutdown.WithExitFunc(func(int) { watching <- fake.Watching(syscall.SIGTERM) }))
		c.Register("waits", untilDone)

		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		synctest.Wait()
		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		<-c.Done()

		assert.Equal(t, 1, <-watching, "signals released before the forced exit")
		assert.Zero(t, fake.Watching(syscall.SIGTERM), "signals released once the shutdown completed")
	})
}

func TestSignalSecondDuringDrainForces(t *testing.T) {
	t.Parallel()
	exits := newExitCalls()
	c, fake, _ := newTest(t, shutdown.WithExitFunc(exits.exit),
		shutdown.WithDrainDelay(time.Hour), shutdown.WithTimeout(2*time.Hour))
	var rec recorder
	c.Register("a", rec.hook("a"))

	require.Equal(t, 1, fake.Send(syscall.SIGTERM))
	mustRecv(t, c.Context().Done(), "trigger")
	require.Equal(t, 1, fake.Send(syscall.SIGTERM))

	assert.Equal(t, 143, mustRecv(t, exits, "forced exit during the drain delay"))
	mustRecv(t, c.Done(), "report after the forced exit")
	rep := c.Wait()
	assert.True(t, rep.Forced)
	assert.Equal(t, 143, rep.ExitCode())
	assert.Less(t, rep.Elapsed, time.Hour, "the drain delay was cut short")
	assert.Empty(t, rec.Names(), "no hook ran")
	a := result(t, rep, "a")
	assert.Equal(t, shutdown.Skipped, a.Status)
	assert.ErrorIs(t, a.Err, shutdown.ErrSkipped)
	assert.Zero(t, fake.Watching(syscall.SIGTERM), "signals released")
}

func TestSignalJoinsProgrammaticShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, fake, exits := newTest(t, shutdown.WithTimeout(time.Hour))
		started := make(chan struct{})
		c.Register("slow", func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		errDeploy := errors.New("deploy")
		reps := make(chan *shutdown.Report, 1)
		go func() { reps <- c.Shutdown(errDeploy) }()
		<-started

		// The first signal asks for what is already happening.
		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		synctest.Wait()
		assert.Empty(t, exits.Codes(), "the first signal forced the exit")
		select {
		case <-c.Done():
			t.Fatal("the first signal ended the shutdown")
		default:
		}

		// The next one is a second signal.
		require.Equal(t, 1, fake.Send(syscall.SIGINT))
		rep := <-reps
		synctest.Wait()
		assert.Equal(t, []int{130}, exits.Codes())
		assert.True(t, rep.Forced)
		assert.Equal(t, 130, rep.ExitCode())
		assert.Equal(t, errDeploy, rep.Cause, "the program's cause stays")
	})
}

func TestSignalSecondIgnoredWithoutForceExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, fake, exits := newTest(t, shutdown.WithForceExit(false), shutdown.WithTimeout(time.Hour))
		started, release := make(chan struct{}), make(chan struct{})
		var rec recorder
		c.Register("after", rec.hook("after"))
		c.Register("stuck", blockedHook(started, release))

		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		<-started
		for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM} {
			require.Equal(t, 1, fake.Send(sig), "still listening while the shutdown runs")
			synctest.Wait() // the coordinator has handled it
		}
		assert.Empty(t, exits.Codes(), "no forced exit")
		select {
		case <-c.Done():
			t.Fatal("the shutdown ended on a second signal")
		default:
		}

		// Join before releasing the hook, so that this goroutine is
		// waiting when the shutdown completes and owns the end.
		reps := make(chan *shutdown.Report, 1)
		go func() { reps <- c.Shutdown(nil) }()
		synctest.Wait()
		close(release)
		rep := <-reps
		synctest.Wait()
		assert.False(t, rep.Forced)
		assert.Equal(t, 0, rep.ExitCode())
		assert.Equal(t, shutdown.OK, result(t, rep, "stuck").Status)
		assert.Equal(t, []string{"after"}, rec.Names(), "the shutdown ran to its end")
		assert.Empty(t, exits.Codes(), "Shutdown's caller owns the end")
	})
}

func TestSignalReleasedAfterShutdown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		end     func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake)
	}{
		{"signal", time.Hour, func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
			require.Equal(t, 1, fake.Send(syscall.SIGINT))
		}},
		{"Shutdown", time.Hour, func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
			c.Shutdown(errors.New("done"))
		}},
		{"Exit", time.Hour, func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
			c.Exit(2)
		}},
		{"failed task", time.Hour, func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
			c.Go("task", func(context.Context) error { return errors.New("task failed") })
		}},
		{"deadline", 100 * time.Millisecond, func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			c.Register("hung", func(context.Context) error { <-release; return nil })
			c.Shutdown(nil)
		}},
		{"forced", time.Hour, func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
			started := make(chan struct{})
			c.Register("slow", func(ctx context.Context) error {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			})
			require.Equal(t, 1, fake.Send(syscall.SIGTERM))
			mustRecv(t, started, "slow hook start")
			require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, fake, _ := newTest(t, shutdown.WithTimeout(tc.timeout))
			for _, sig := range signals.Default() {
				require.Equal(t, 1, fake.Watching(sig), "listening for %v before the trigger", sig)
			}

			tc.end(t, c, fake)
			mustRecv(t, c.Done(), "shutdown")

			for _, sig := range signals.Default() {
				assert.Zero(t, fake.Watching(sig), "still listening for %v after completion", sig)
				assert.Zero(t, fake.Send(sig), "%v reached a channel after completion", sig)
			}
		})
	}
}

func TestSignalNoneListens(t *testing.T) {
	t.Parallel()
	c, fake, _ := newTest(t, shutdown.WithSignals())
	var rec recorder
	c.Register("a", rec.hook("a"))

	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		assert.Zero(t, fake.Watching(sig), "listening for %v", sig)
		assert.Zero(t, fake.Send(sig), "%v reached a channel", sig)
	}
	assert.NoError(t, c.Context().Err(), "a signal triggered the shutdown")

	// Programmatic triggers still work.
	rep := c.Shutdown(nil)
	assert.NoError(t, rep.Cause)
	assert.Equal(t, []string{"a"}, rec.Names())
}

func TestSignalCustomSet(t *testing.T) {
	t.Parallel()
	// SIGHUP stands for any signal outside the default set; unlike SIGUSR1
	// it exists on every platform.
	exits := newExitCalls()
	c, fake, _ := newTest(t, shutdown.WithSignals(syscall.SIGHUP), shutdown.WithExitFunc(exits.exit),
		shutdown.WithTimeout(time.Hour))
	started := make(chan struct{})
	c.Register("slow", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})

	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		assert.Zero(t, fake.Watching(sig), "listening for default signal %v", sig)
		assert.Zero(t, fake.Send(sig), "default signal %v reached a channel", sig)
	}
	assert.NoError(t, c.Context().Err(), "a signal outside the set triggered the shutdown")
	require.Equal(t, 1, fake.Watching(syscall.SIGHUP))

	require.Equal(t, 1, fake.Send(syscall.SIGHUP))
	mustRecv(t, started, "hook start after SIGHUP")
	var se *signals.Error
	require.ErrorAs(t, context.Cause(c.Context()), &se)
	assert.Equal(t, syscall.SIGHUP, se.Signal)

	// The second signal of the set forces the exit with its own number.
	assert.Zero(t, fake.Send(syscall.SIGTERM), "SIGTERM is not in the set")
	require.Equal(t, 1, fake.Send(syscall.SIGHUP))
	assert.Equal(t, 128+1, mustRecv(t, exits, "forced exit"))
	mustRecv(t, c.Done(), "report")
	rep := c.Wait()
	assert.True(t, rep.Forced)
	assert.Equal(t, 129, rep.ExitCode())
	assert.Zero(t, fake.Watching(syscall.SIGHUP), "signals released")
}
