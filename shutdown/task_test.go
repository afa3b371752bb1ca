package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 8: a task runs now with Context(); an error (other than
// context.Canceled and http.ErrServerClosed) or a panic before the trigger
// triggers the shutdown with it as cause; a failure after the trigger
// counts as one; its stop step waits for it at its LIFO place.

func TestTaskErrorTriggersShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	errConsume := errors.New("consumer lost its broker")
	var hookRan atomic.Bool
	c.Register("cleanup", func(context.Context) error { hookRan.Store(true); return nil })
	fail := make(chan struct{})
	c.Go("consumer", func(ctx context.Context) error {
		<-fail
		return fmt.Errorf("consume: %w", errConsume)
	})
	assert.NoError(t, c.Context().Err())

	close(fail)
	rep := c.Wait()

	assert.ErrorIs(t, rep.Cause, errConsume)
	assert.ErrorIs(t, context.Cause(c.Context()), errConsume)
	assert.Equal(t, 1, rep.ExitCode())
	assert.True(t, hookRan.Load())
	step := result(t, rep, "consumer")
	assert.Equal(t, shutdown.Failed, step.Status)
	assert.ErrorIs(t, step.Err, errConsume)
	assert.Empty(t, step.Stage)
	assert.ErrorIs(t, rep.Err(), errConsume)
}

func TestTaskPanicTriggersShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	c.Go("worker", func(context.Context) error { panic("worker exploded") })

	rep := c.Wait()

	var pe *shutdown.PanicError
	require.ErrorAs(t, rep.Cause, &pe)
	assert.Equal(t, "worker exploded", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	step := result(t, rep, "worker")
	assert.Equal(t, shutdown.Panicked, step.Status)
	var spe *shutdown.PanicError
	require.ErrorAs(t, step.Err, &spe)
	assert.Equal(t, "worker exploded", spe.Value)
	assert.Equal(t, 1, rep.ExitCode())
}

// A task that ends with context.Canceled, http.ErrServerClosed (wrapped or
// not) or nil simply ends: no trigger, no failure.
func TestTaskCleanEndIsNotAFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"nil", nil},
		{"canceled", context.Canceled},
		{"wrapped-canceled", fmt.Errorf("serve: %w", context.Canceled)},
		{"server-closed", http.ErrServerClosed},
		{"wrapped-server-closed", fmt.Errorf("listen: %w", http.ErrServerClosed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _, rec := newTest(t)
				c.Go("task", func(context.Context) error { return tc.err })
				synctest.Wait() // the task's goroutine has ended

				assert.NoError(t, c.Context().Err(), "the task triggered the shutdown")
				select {
				case <-c.Done():
					t.Fatal("the shutdown completed")
				default:
				}
				rep := c.Shutdown(nil)

				assert.NoError(t, rep.Cause)
				assert.Equal(t, shutdown.OK, result(t, rep, "task").Status)
				assert.NoError(t, result(t, rep, "task").Err)
				assert.Equal(t, 0, rep.ExitCode())
				assert.Empty(t, rec.Codes())
			})
		})
	}
}

// A task that stops because its context was canceled, as told, is OK.
func TestTaskStopsOnContext(t *testing.T) {
	c, _, _ := newTest(t)
	c.Go("serve", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})

	rep := c.Shutdown(nil)

	assert.Equal(t, shutdown.OK, result(t, rep, "serve").Status)
	assert.Equal(t, 0, rep.ExitCode())
}

// A task that fails after the trigger is a failed stop step; the cause is
// still the trigger's.
func TestTaskFailureAfterTrigger(t *testing.T) {
	c, _, _ := newTest(t)
	errFlush := errors.New("final flush failed")
	c.Go("producer", func(ctx context.Context) error {
		<-ctx.Done()
		return errFlush
	})
	errStop := errors.New("stop")

	rep := c.Shutdown(errStop)

	assert.Same(t, errStop, rep.Cause)
	step := result(t, rep, "producer")
	assert.Equal(t, shutdown.Failed, step.Status)
	assert.ErrorIs(t, step.Err, errFlush)
	assert.ErrorIs(t, rep.Err(), errFlush)
	assert.Equal(t, 1, rep.ExitCode())
}

func TestTaskPanicAfterTrigger(t *testing.T) {
	c, _, _ := newTest(t)
	c.Go("producer", func(ctx context.Context) error {
		<-ctx.Done()
		panic("flush panicked")
	})

	rep := c.Shutdown(nil)

	assert.NoError(t, rep.Cause)
	step := result(t, rep, "producer")
	assert.Equal(t, shutdown.Panicked, step.Status)
	assert.Equal(t, "flush panicked", panicValue(t, step.Err))
	assert.Equal(t, 1, rep.ExitCode())
}

// The stop step waits for the task to return: the step registered before
// the task does not start while the task is still finishing.
func TestTaskStopStepWaitsForTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		var taskReturned, beforeSawReturned, beforeRan atomic.Bool
		c.Register("before", func(context.Context) error {
			beforeSawReturned.Store(taskReturned.Load())
			beforeRan.Store(true)
			return nil
		})
		finishing := make(chan struct{})
		release := make(chan struct{})
		c.Go("task", func(ctx context.Context) error {
			<-ctx.Done()
			close(finishing)
			<-release
			taskReturned.Store(true)
			return nil
		})
		c.Register("after", func(context.Context) error { return nil })

		done := make(chan *shutdown.Report)
		go func() { done <- c.Shutdown(nil) }()
		<-finishing
		synctest.Wait() // the stop step is waiting for the task
		assert.False(t, beforeRan.Load(), "the step after the task started before the task returned")
		time.Sleep(3 * time.Second)
		close(release)
		rep := <-done

		assert.True(t, beforeSawReturned.Load())
		assert.Equal(t, []string{"after", "task", "before"}, names(rep))
		step := result(t, rep, "task")
		assert.Equal(t, shutdown.OK, step.Status)
		assert.Equal(t, 3*time.Second, step.Elapsed)
	})
}

// Stop steps sit where Go was called in the LIFO order, among hooks and
// stages.
func TestTaskStopStepAtLIFOPosition(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	task := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			<-ctx.Done()
			rec.add(name)
			return nil
		}
	}
	c.Register("db", rec.hook("db"))
	c.Go("consumer", task("consumer"))
	c.Stage("s").Register("s1", rec.hook("s1"))
	c.Go("server", task("server"))
	c.Register("http", rec.hook("http"))

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"http", "server", "s1", "consumer", "db"}, names(rep))
	// A task may finish before its step is reached, but the step after
	// its stop step only runs once it has returned.
	ran := rec.Names()
	pos := map[string]int{}
	for i, n := range ran {
		pos[n] = i
	}
	require.Len(t, ran, 5)
	assert.Less(t, pos["http"], pos["s1"])
	assert.Less(t, pos["server"], pos["s1"])
	assert.Less(t, pos["s1"], pos["db"])
	assert.Less(t, pos["consumer"], pos["db"])
}

// A stop step is bounded like any hook: a task that ignores its context
// is abandoned at the hook timeout and its step is TimedOut.
func TestTaskStopStepTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c, _, _ := newTest(t, shutdown.WithHookTimeout(2*time.Second))
		var afterRan atomic.Bool
		c.Register("after", func(context.Context) error { afterRan.Store(true); return nil })
		c.Go("stubborn", func(context.Context) error {
			<-release
			return nil
		})
		start := time.Now()

		rep := c.Shutdown(nil)

		assert.Equal(t, 2*time.Second, time.Since(start))
		step := result(t, rep, "stubborn")
		assert.Equal(t, shutdown.TimedOut, step.Status)
		assert.ErrorIs(t, step.Err, context.DeadlineExceeded)
		assert.True(t, afterRan.Load())
		assert.Equal(t, 1, rep.ExitCode())
	})
}

// The task runs at once, before any trigger, with the coordinator's
// context.
func TestTaskRunsNowWithCoordinatorContext(t *testing.T) {
	c, _, _ := newTest(t)
	started := make(chan context.Context, 1)
	c.Go("task", func(ctx context.Context) error {
		started <- ctx
		<-ctx.Done()
		return nil
	})
	ctx := <-started
	assert.NoError(t, ctx.Err())
	errStop := errors.New("stop")

	c.Shutdown(errStop)

	assert.ErrorIs(t, context.Cause(ctx), errStop)
}

// Only the first failing task is the cause; one that fails after it is a
// failed stop step of the same shutdown.
func TestTaskTwoFailuresOneShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	errFirst, errSecond := errors.New("first"), errors.New("second")
	c.Go("t2", func(ctx context.Context) error {
		<-ctx.Done()
		return errSecond
	})
	c.Go("t1", func(context.Context) error { return errFirst })

	rep := c.Wait()

	assert.ErrorIs(t, rep.Cause, errFirst)
	assert.NotErrorIs(t, rep.Cause, errSecond)
	assert.ErrorIs(t, rep.Err(), errFirst)
	assert.ErrorIs(t, rep.Err(), errSecond)
	assert.Equal(t, []string{"t1", "t2"}, names(rep))
	assert.Equal(t, shutdown.Failed, result(t, rep, "t1").Status)
	assert.Equal(t, shutdown.Failed, result(t, rep, "t2").Status)
	assert.Equal(t, 1, rep.ExitCode())
}

// A task started while the shutdown runs gets a canceled context, and its
// stop step runs and is reported like any late hook.
func TestTaskStartedDuringShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	var ctxErr atomic.Value
	c.Register("a", func(context.Context) error { return nil })
	c.Register("b", func(context.Context) error {
		c.Go("late-task", func(ctx context.Context) error {
			ctxErr.Store(ctx.Err())
			return nil
		})
		return nil
	})

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"b", "late-task", "a"}, names(rep))
	assert.Equal(t, shutdown.OK, result(t, rep, "late-task").Status)
	assert.ErrorIs(t, ctxErr.Load().(error), context.Canceled)
}

// A task started after the shutdown completed runs at once with a canceled
// context; its stop step runs in the caller and waits for it, bounded by
// the timeout, instead of waiting for a task that has not started.
func TestTaskStartedAfterCompletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		c.Shutdown(nil)

		start := time.Now()
		var returned atomic.Bool
		c.Go("quick", func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(time.Second)
			returned.Store(true)
			return nil
		})
		assert.Equal(t, time.Second, time.Since(start), "Go waited for its task, and no longer")
		assert.True(t, returned.Load())

		release := make(chan struct{})
		defer close(release)
		start = time.Now()
		c.Go("stubborn", func(context.Context) error { <-release; return nil })
		assert.Equal(t, 10*time.Second, time.Since(start), "bounded by the timeout")
	})
}
