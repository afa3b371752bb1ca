package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// Behaviour 10: on the trigger, Context() is canceled with the cause and
// the readiness handler turns 503 at once; the first hook starts after the
// drain delay; Drain makes responses carry "Connection: close" from the
// trigger on.

func TestDrainContextCanceledWithCause(t *testing.T) {
	errDeploy := errors.New("deploy")
	errTask := errors.New("queue lost")
	for _, tc := range []struct {
		name    string
		trigger func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake)
		check   func(t *testing.T, cause error)
	}{
		{
			"signal",
			func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
			},
			func(t *testing.T, cause error) {
				var se *signals.Error
				require.ErrorAs(t, cause, &se)
				assert.Equal(t, syscall.SIGTERM, se.Signal)
			},
		},
		{
			"Shutdown(err)",
			func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) { go c.Shutdown(errDeploy) },
			func(t *testing.T, cause error) { assert.Equal(t, errDeploy, cause) },
		},
		{
			"Shutdown(nil)",
			func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) { go c.Shutdown(nil) },
			func(t *testing.T, cause error) { assert.Equal(t, context.Canceled, cause) },
		},
		{
			"Exit",
			func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) { go c.Exit(3) },
			func(t *testing.T, cause error) {
				var ee *shutdown.ExitError
				require.ErrorAs(t, cause, &ee)
				assert.Equal(t, 3, ee.Code)
			},
		},
		{
			"failed task",
			func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
				c.Go("consumer", func(context.Context) error { return errTask })
			},
			func(t *testing.T, cause error) { assert.Equal(t, errTask, cause) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, fake, _ := newTest(t)
			ctx := c.Context()
			require.NoError(t, ctx.Err())
			require.NoError(t, context.Cause(ctx))

			// The context is canceled at the trigger, before the first
			// hook starts.
			atHook := make(chan error, 1)
			c.Register("first", func(context.Context) error {
				atHook <- context.Cause(c.Context())
				return nil
			})
			tc.trigger(t, c, fake)
			mustRecv(t, ctx.Done(), "Context canceled")
			tc.check(t, context.Cause(ctx))
			tc.check(t, mustRecv(t, atHook, "first hook"))
			assert.Same(t, ctx, c.Context(), "one context for the coordinator's life")
		})
	}
}

func TestDrainDelay(t *testing.T) {
	// Fake time: "at once" and "exactly at the drain delay" are exact.
	synctest.Test(t, func(t *testing.T) {
		const drain = 5 * time.Second
		c, _, _ := newTest(t, shutdown.WithDrainDelay(drain), shutdown.WithTimeout(time.Minute))
		started := make(chan time.Time, 2)
		c.Register("last", func(context.Context) error { started <- time.Now(); return nil })
		c.Register("first", func(context.Context) error { started <- time.Now(); return nil })

		t0 := time.Now()
		reps := make(chan *shutdown.Report, 1)
		go func() { reps <- c.Shutdown(nil) }()
		synctest.Wait()

		// At the trigger, with no time passed: the context is canceled and
		// no hook has started.
		require.Equal(t, t0, time.Now())
		assert.Error(t, c.Context().Err())
		assert.NoError(t, c.InFlight().Err(), "in-flight work goes on during the drain")
		assert.Empty(t, started, "a hook started at the trigger")

		// Just before the drain delay: still no hook.
		time.Sleep(drain - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, started, "a hook started during the drain delay")

		// At the drain delay exactly, the first hook starts.
		time.Sleep(time.Nanosecond)
		rep := <-reps
		require.Len(t, started, 2)
		assert.Equal(t, drain, (<-started).Sub(t0), "the first hook starts at the drain delay")
		assert.Equal(t, []string{"first", "last"}, names(rep))
		assert.Equal(t, drain, rep.Elapsed, "the drain delay counts in Elapsed")
	})
}

func TestDrainNoDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		var at time.Time
		c.Register("first", func(context.Context) error { at = time.Now(); return nil })
		t0 := time.Now()
		c.Shutdown(nil)
		assert.Equal(t, t0, at, "without a drain delay the first hook starts at the trigger")
	})
}

// drainedCause is the cause of a shutdown of a service that was drained
// another way, as an in-place upgrade's is.
type drainedCause struct{}

func (drainedCause) Error() string { return "upgraded" }
func (drainedCause) Drained() bool { return true }

// A cause that says the service is already drained skips the drain delay;
// the context is still canceled with it, and it is the report's cause.
func TestDrainDelaySkippedForDrainedCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithDrainDelay(5*time.Second), shutdown.WithTimeout(time.Minute))
		var at time.Time
		c.Register("first", func(context.Context) error { at = time.Now(); return nil })
		t0 := time.Now()
		rep := c.Shutdown(fmt.Errorf("handover: %w", drainedCause{}))
		assert.Equal(t, t0, at, "the first hook starts at the trigger")
		assert.ErrorIs(t, context.Cause(c.Context()), drainedCause{})
		assert.ErrorIs(t, rep.Cause, drainedCause{})
	})
}

// The two contexts at the trigger, seen from every side: Context ends at
// once with the signal as its cause, before the drain hooks run, and the
// drain hooks, the task and the hooks all see it ended; InFlight lives
// through the drain hooks, the drain delay and the last hook, and ends
// only with the shutdown: at its completion, or when a second signal
// forces the exit, before the exit func runs.
func TestDrainContextsAtTheTrigger(t *testing.T) {
	for _, forced := range []bool{false, true} {
		t.Run(fmt.Sprint("forced=", forced), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var c *shutdown.Coordinator
				flightAtExit := make(chan error, 1)
				c, fake, _ := newTest(t, shutdown.WithDrainDelay(2*time.Second), shutdown.WithTimeout(time.Minute),
					shutdown.WithExitFunc(func(int) { flightAtExit <- c.InFlight().Err() }))
				type seen struct {
					at            time.Duration
					cause, flight error
				}
				var (
					mu        sync.Mutex
					saw       = map[string]seen{}
					taskCause error
				)
				t0 := time.Now()
				look := func(name string) shutdown.Hook {
					return func(ctx context.Context) error {
						mu.Lock()
						saw[name] = seen{time.Since(t0), context.Cause(c.Context()), c.InFlight().Err()}
						mu.Unlock()
						if forced && name == "last" {
							<-ctx.Done() // the second signal comes now
						}
						return nil
					}
				}
				c.Register("last", look("last"))
				c.Go("task", func(ctx context.Context) error {
					<-ctx.Done()
					mu.Lock()
					taskCause = context.Cause(ctx)
					mu.Unlock()
					return ctx.Err()
				})
				c.Register("first", look("first"))
				c.OnDrain("drain", look("drain"))

				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				synctest.Wait()
				var se *signals.Error
				require.ErrorAs(t, context.Cause(c.Context()), &se, "Context ends at the trigger, with the signal")
				assert.Equal(t, syscall.SIGTERM, se.Signal)
				assert.NoError(t, c.InFlight().Err(), "InFlight ended at the trigger")

				time.Sleep(2 * time.Second)
				synctest.Wait()
				if forced {
					require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				}
				<-c.Done()
				assert.Error(t, c.InFlight().Err(), "InFlight ends with the shutdown")
				if forced {
					assert.Error(t, mustRecv(t, flightAtExit, "forced exit"), "InFlight alive at the forced exit")
				}
				mu.Lock()
				defer mu.Unlock()
				assert.ErrorAs(t, taskCause, &se, "the task's context ends with the signal")
				for name, at := range map[string]time.Duration{"drain": 0, "first": 2 * time.Second, "last": 2 * time.Second} {
					s, ok := saw[name]
					require.True(t, ok, "%s did not run", name)
					assert.Equal(t, at, s.at, "%s's start", name)
					assert.ErrorAs(t, s.cause, &se, "%s sees Context ended with the signal", name)
					assert.NoError(t, s.flight, "InFlight ended before %s started", name)
				}
			})
		})
	}
}
