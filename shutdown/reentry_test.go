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

// Behaviour 14: Exit, Shutdown, Wait, Register and Unregister called from
// inside a hook or a task return without deadlock; a call that would wait
// for the very shutdown it is part of does not wait.
//
// The calls must be made on the hook's own goroutine (a goroutine the hook
// starts is not recognised as the hook), so each test bounds the whole hook
// instead: the hook reports every call's result on a channel, and the test
// fails if a call has not returned within patience. The whole shutdown
// gets a minute, far more than patience, so that a call that waits for it
// is not rescued by the deadline before the test sees it stuck.

// reentered is what a hook or task got back from calling into its own
// coordinator.
type reentered struct {
	shutdown, wait *shutdown.Report
	unregPending   bool // Unregister of a hook that has not started
	unregSelf      bool // Unregister of the calling hook
}

// reenter calls every method of B14 from the calling goroutine, in order,
// and sends their results on out. self may be nil (a task has no handle).
func reenter(c *shutdown.Coordinator, self, pending **shutdown.Handle, late string, out chan<- reentered) {
	var r reentered
	r.shutdown = c.Shutdown(errors.New("from inside"))
	r.wait = c.Wait()
	c.Register(late, func(context.Context) error { return nil })
	r.unregPending = (*pending).Unregister()
	if self != nil {
		r.unregSelf = (*self).Unregister()
	}
	c.Exit(4)
	out <- r
}

// exitAt is an exit func recording each code and whether the shutdown
// had completed when it was called.
type exitAt struct {
	c      *shutdown.Coordinator
	called chan struct{} // one send per call

	mu    sync.Mutex
	calls []string
}

func newExitAt() *exitAt { return &exitAt{called: make(chan struct{}, 16)} }

func (e *exitAt) exit(code int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	when := "before completion"
	if isClosed(e.c.Done()) {
		when = "after completion"
	}
	e.calls = append(e.calls, fmt.Sprintf("exit %d %s", code, when))
	e.called <- struct{}{}
}

// waitCalls waits for the first call of the exit func and returns every
// call so far. The coordinator calls the exit func after it closes Done,
// so a caller of Shutdown or Wait may see the report before the call.
func (e *exitAt) waitCalls(t *testing.T) []string {
	t.Helper()
	mustRecv(t, e.called, "exit func call")
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

func TestReentryFromHook(t *testing.T) {
	for _, where := range []string{"solo hook", "hook with a timeout", "parallel stage"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			ex := newExitAt()
			c, _, _ := newTest(t, shutdown.WithExitFunc(ex.exit), shutdown.WithTimeout(time.Minute))
			ex.c = c
			var rec recorder
			pending := c.Register("pending", rec.hook("pending")) // runs after the caller
			c.Register("after", rec.hook("after"))

			out := make(chan reentered, 1)
			var self *shutdown.Handle
			caller := func(context.Context) error {
				rec.add("caller")
				reenter(c, &self, &pending, "late", out)
				return nil
			}
			switch where {
			case "solo hook":
				self = c.Register("caller", caller)
			case "hook with a timeout":
				self = c.Register("caller", caller, shutdown.Timeout(time.Hour))
			case "parallel stage":
				s := c.Stage("stage")
				s.Register("sibling", rec.hook("sibling"))
				self = s.Register("caller", caller)
				s.Register("sibling 2", rec.hook("sibling 2"))
			}

			reps := make(chan *shutdown.Report, 1)
			go func() { reps <- c.Shutdown(nil) }()
			got := mustRecv(t, out, "calls from inside the hook")
			rep := mustRecv(t, reps, "Shutdown")

			assert.Same(t, rep, got.shutdown, "Shutdown from a hook returns the report in progress")
			assert.Same(t, rep, got.wait, "Wait from a hook returns the report in progress")
			assert.NoError(t, rep.Cause, "the first trigger's cause stays")
			assert.True(t, got.unregPending, "Unregister of a hook not started yet")
			assert.False(t, got.unregSelf, "Unregister of the running hook")
			assert.NotContains(t, rec.Names(), "pending")
			assert.NotContains(t, names(rep), "pending")
			assert.Contains(t, names(rep), "late", "a hook registered from a hook runs in the same shutdown")
			assert.Equal(t, shutdown.OK, result(t, rep, "late").Status)
			assert.Contains(t, rec.Names(), "after", "the hooks after the caller still run")

			assert.Equal(t, 4, rep.ExitCode(), "Exit from a hook sets the exit code")
			assert.Equal(t, []string{"exit 4 after completion"}, ex.waitCalls(t), "the exit func runs once, at completion")
		})
	}
}

func TestReentryExitFromHook(t *testing.T) {
	for _, trigger := range []string{"signal", "Shutdown", "Wait"} {
		t.Run(trigger, func(t *testing.T) {
			t.Parallel()
			ex := newExitAt()
			c, fake, _ := newTest(t, shutdown.WithExitFunc(ex.exit), shutdown.WithTimeout(time.Minute))
			ex.c = c
			var rec recorder
			c.Register("after", rec.hook("after"))
			returned := make(chan struct{})
			c.Register("exits", func(context.Context) error {
				c.Exit(4)
				rec.add("Exit returned")
				close(returned)
				return nil
			})

			var rep *shutdown.Report
			switch trigger {
			case "signal": // nobody waits
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, c.Done(), "shutdown")
				rep = c.Wait()
			case "Shutdown":
				mustReturn(t, "Shutdown", func() { rep = c.Shutdown(nil) })
			case "Wait":
				waited := make(chan *shutdown.Report, 1)
				go func() { waited <- c.Wait() }()
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				rep = mustRecv(t, waited, "Wait")
			}
			mustRecv(t, returned, "Exit from the hook")
			assert.Equal(t, []string{"Exit returned", "after"}, rec.Names(), "Exit returned at once; the shutdown went on")
			assert.Equal(t, 4, rep.ExitCode())
			var se *signals.Error
			if trigger == "Shutdown" {
				assert.NoError(t, rep.Cause)
			} else {
				assert.ErrorAs(t, rep.Cause, &se, "Exit from a hook does not change the cause")
			}
			assert.Equal(t, []string{"exit 4 after completion"}, ex.waitCalls(t), "exit func called once with 4, after completion")
		})
	}
}

func TestReentryFromTaskBeforeTrigger(t *testing.T) {
	t.Parallel()
	ex := newExitAt()
	c, _, _ := newTest(t, shutdown.WithExitFunc(ex.exit), shutdown.WithTimeout(time.Minute))
	ex.c = c
	var rec recorder
	pending := c.Register("pending", rec.hook("pending"))
	out := make(chan reentered, 1)
	c.Go("task", func(ctx context.Context) error {
		// Not triggered yet: Shutdown triggers and returns at once, since
		// the shutdown waits for this very task.
		reenter(c, nil, &pending, "registered by task", out)
		<-ctx.Done()
		return nil
	})

	got := mustRecv(t, out, "calls from the task")
	mustRecv(t, c.Done(), "shutdown started by the task")
	rep := c.Wait()
	assert.Same(t, rep, got.shutdown)
	assert.Same(t, rep, got.wait)
	assert.EqualError(t, rep.Cause, "from inside")
	assert.True(t, got.unregPending)
	assert.Empty(t, rec.Names(), "the unregistered hook did not run")
	// The late hook runs as soon as the step in progress is over: before
	// or after the task's stop step, depending on where the walk was.
	assert.ElementsMatch(t, []string{"registered by task", "task"}, names(rep))
	assert.Equal(t, 4, rep.ExitCode())
	assert.Equal(t, []string{"exit 4 after completion"}, ex.waitCalls(t))
}

func TestReentryFromTaskWaitBeforeTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, fake, _ := newTest(t, shutdown.WithTimeout(time.Minute))
		waited := make(chan *shutdown.Report, 1)
		c.Go("task", func(context.Context) error {
			// Wait blocks until the trigger, then returns at once: the
			// shutdown waits for this task.
			waited <- c.Wait()
			return nil
		})
		synctest.Wait()
		require.Empty(t, waited, "Wait from a task returned before the trigger")
		require.NoError(t, c.Context().Err())

		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		rep := <-waited
		<-c.Done()
		assert.Same(t, c.Wait(), rep)
		assert.Equal(t, shutdown.OK, result(t, rep, "task").Status)
	})
}

func TestReentryFromTaskAfterTrigger(t *testing.T) {
	t.Parallel()
	ex := newExitAt()
	c, _, _ := newTest(t, shutdown.WithExitFunc(ex.exit), shutdown.WithTimeout(time.Minute))
	ex.c = c
	var rec recorder
	pending := c.Register("pending", rec.hook("pending")) // after the task's stop step
	out := make(chan reentered, 1)
	c.Go("task", func(ctx context.Context) error {
		<-ctx.Done()
		reenter(c, nil, &pending, "registered by task", out)
		return nil
	})

	reps := make(chan *shutdown.Report, 1)
	go func() { reps <- c.Shutdown(nil) }()
	got := mustRecv(t, out, "calls from the task")
	rep := mustRecv(t, reps, "Shutdown")
	assert.Same(t, rep, got.shutdown)
	assert.Same(t, rep, got.wait)
	assert.NoError(t, rep.Cause)
	assert.True(t, got.unregPending)
	assert.Empty(t, rec.Names())
	assert.ElementsMatch(t, []string{"task", "registered by task"}, names(rep))
	assert.Equal(t, shutdown.OK, result(t, rep, "registered by task").Status)
	assert.Equal(t, 4, rep.ExitCode())
	assert.Equal(t, []string{"exit 4 after completion"}, ex.waitCalls(t))
}
