package shutdown_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 4: a panicking hook is recovered and recorded Panicked with its
// value and stack, and the rest still run; every error is kept and
// errors.Is sees through Report.Err.

//go:noinline
func panickingCleanup(v any) error { panic(v) }

func TestFaultPanicIsRecoveredAndOthersRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []shutdown.HookOption
	}{
		{"inline", nil},
		{"own-timeout", []shutdown.HookOption{shutdown.Timeout(time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newTest(t)
			var rec recorder
			c.Register("after", rec.hook("after"))
			c.Register("boom", func(context.Context) error {
				rec.add("boom")
				return panickingCleanup("kaput")
			}, tc.opts...)
			c.Register("before", rec.hook("before"))

			rep := c.Shutdown(nil)

			assert.Equal(t, []string{"before", "boom", "after"}, rec.Names())
			assert.Equal(t, []string{"before", "boom", "after"}, names(rep))
			h := result(t, rep, "boom")
			assert.Equal(t, shutdown.Panicked, h.Status)
			var pe *shutdown.PanicError
			require.ErrorAs(t, h.Err, &pe)
			assert.Equal(t, "kaput", pe.Value)
			assert.Contains(t, pe.Error(), "kaput")
			assert.NotEmpty(t, pe.Stack)
			assert.Contains(t, string(pe.Stack), "panickingCleanup", "the stack is the panicking goroutine's")
			assert.Equal(t, shutdown.OK, result(t, rep, "before").Status)
			assert.Equal(t, shutdown.OK, result(t, rep, "after").Status)
			assert.Equal(t, 1, rep.ExitCode())
			require.ErrorAs(t, rep.Err(), &pe)
			assert.Equal(t, "kaput", pe.Value)
		})
	}
}

// panic(nil) is a panic too (a *runtime.PanicNilError since Go 1.21), not a
// success.
func TestFaultPanicNil(t *testing.T) {
	c, _, _ := newTest(t)
	var afterRan bool
	c.Register("after", func(context.Context) error { afterRan = true; return nil })
	c.Register("nil-panic", func(context.Context) error { panic(nil) })

	rep := c.Shutdown(nil)

	h := result(t, rep, "nil-panic")
	assert.Equal(t, shutdown.Panicked, h.Status)
	var pe *shutdown.PanicError
	require.ErrorAs(t, h.Err, &pe)
	var pn *runtime.PanicNilError
	assert.ErrorAs(t, h.Err, &pn)
	assert.NotEmpty(t, pe.Stack)
	assert.True(t, afterRan)
	assert.Equal(t, 1, rep.ExitCode())
}

// A panic whose value is an error is reachable with errors.Is, through the
// hook's result and through Report.Err.
func TestFaultPanicWithErrorValue(t *testing.T) {
	c, _, _ := newTest(t)
	errBad := errors.New("bad state")
	c.Register("boom", func(context.Context) error { panic(fmt.Errorf("wrapped: %w", errBad)) })

	rep := c.Shutdown(nil)

	assert.ErrorIs(t, result(t, rep, "boom").Err, errBad)
	assert.ErrorIs(t, rep.Err(), errBad)
}

// Panics in hooks of a parallel stage run on goroutines of their own, where an
// unrecovered panic would end the test binary. They are recorded, and the
// siblings and the steps after the stage run.
func TestFaultPanicInParallelStage(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("after", rec.hook("after"))
	s := c.Stage("s", shutdown.Limit(2))
	s.Register("p1", func(context.Context) error { panic("p1") })
	s.Register("ok1", rec.hook("ok1"))
	s.Register("p2", func(context.Context) error { panic("p2") }, shutdown.Timeout(time.Minute))
	s.Register("ok2", rec.hook("ok2"))
	s.Register("p3", func(context.Context) error { panic(io.ErrUnexpectedEOF) })

	rep := c.Shutdown(nil)

	ran := rec.Names()
	require.Len(t, ran, 3)
	assert.ElementsMatch(t, []string{"ok1", "ok2"}, ran[:2])
	assert.Equal(t, "after", ran[2])
	assert.Equal(t, []string{"p1", "ok1", "p2", "ok2", "p3", "after"}, names(rep))
	for _, n := range []string{"p1", "p2", "p3"} {
		h := result(t, rep, n)
		assert.Equal(t, shutdown.Panicked, h.Status, n)
		var pe *shutdown.PanicError
		if assert.ErrorAs(t, h.Err, &pe, n) {
			assert.NotEmpty(t, pe.Stack, n)
		}
	}
	assert.Equal(t, "p1", panicValue(t, result(t, rep, "p1").Err))
	assert.Equal(t, "p2", panicValue(t, result(t, rep, "p2").Err))
	assert.ErrorIs(t, rep.Err(), io.ErrUnexpectedEOF)
	for _, n := range []string{"ok1", "ok2", "after"} {
		assert.Equal(t, shutdown.OK, result(t, rep, n).Status, n)
	}
}

func panicValue(t *testing.T, err error) any {
	t.Helper()
	var pe *shutdown.PanicError
	require.ErrorAs(t, err, &pe)
	return pe.Value
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprint("code ", e.code) }

// Every failure is kept: errors.Is and errors.As find each hook's error in
// Report.Err, whatever its status, and the message names each hook.
func TestFaultEveryErrorReachableThroughReportErr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(time.Minute))
		errA, errB, errC := errors.New("a failed"), errors.New("b failed"), errors.New("c failed")
		c.Register("a", func(context.Context) error { return errA })
		c.Register("ok", func(context.Context) error { return nil })
		s := c.Stage("s")
		s.Register("b", func(context.Context) error { return fmt.Errorf("flush: %w", errB) })
		s.Register("c", func(context.Context) error { return errC })
		s.Register("typed", func(context.Context) error { return &codeError{7} })
		c.Register("slow", untilDone, shutdown.Timeout(time.Second))
		c.Register("boom", func(context.Context) error { panic("boom") })

		rep := c.Shutdown(nil)

		err := rep.Err()
		require.Error(t, err)
		for _, target := range []error{errA, errB, errC, context.DeadlineExceeded} {
			assert.ErrorIs(t, err, target)
		}
		var ce *codeError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 7, ce.code)
		var pe *shutdown.PanicError
		assert.ErrorAs(t, err, &pe)
		for _, n := range []string{"a", "b", "c", "typed", "slow", "boom"} {
			assert.Contains(t, err.Error(), n)
		}
		assert.NotContains(t, err.Error(), `"ok"`)
		// One joined error per failure, not just the first.
		joined, ok := err.(interface{ Unwrap() []error })
		require.True(t, ok, "Report.Err is not a join: %T", err)
		assert.Len(t, joined.Unwrap(), 6)
		assert.Equal(t, 1, rep.ExitCode())
	})
}

func TestFaultReportErrNilWhenAllSucceed(t *testing.T) {
	c, _, _ := newTest(t)
	c.Register("a", func(context.Context) error { return nil })
	c.Stage("s").Register("b", func(context.Context) error { return nil })
	c.Go("task", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })

	rep := c.Shutdown(nil)

	require.Len(t, rep.Hooks, 3)
	assert.NoError(t, rep.Err())
	assert.Equal(t, 0, rep.ExitCode())
	var nilReport *shutdown.Report
	assert.NoError(t, nilReport.Err())
}

// A shutdown with no hooks at all succeeds with an empty report.
func TestFaultEmptyShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	rep := c.Shutdown(nil)
	assert.Empty(t, rep.Hooks)
	assert.NoError(t, rep.Err())
	assert.Equal(t, 0, rep.ExitCode())
}

// unprintable is an error whose Error method reads its receiver: a nil
// *unprintable returned as an error is not a nil error, and printing it
// panics.
type unprintable struct{ msg string }

func (e *unprintable) Error() string { return e.msg }

// A hook or task whose error panics when printed is recorded as having
// panicked, with the stack of that Error method, instead of crashing the
// shutdown later in the log, the report's JSON or the timeline.
func TestFaultErrorThatCannotBePrinted(t *testing.T) {
	var bad *unprintable
	sink := newLogSink()
	c, _, _ := newTest(t, shutdown.WithLogger(sink.logger()))
	c.Register("own timeout", func(context.Context) error { return bad }, shutdown.Timeout(time.Minute))
	c.Register("inline", func(context.Context) error { return bad })
	c.Stage("stage").Register("in a stage", func(context.Context) error { return bad })
	c.Go("task", func(ctx context.Context) error {
		<-ctx.Done()
		return bad
	})

	rep := c.Shutdown(nil)

	require.Len(t, rep.Hooks, 4)
	for _, h := range rep.Hooks {
		assert.Equal(t, shutdown.Panicked, h.Status, h.Name)
		var pe *shutdown.PanicError
		if assert.ErrorAs(t, h.Err, &pe, h.Name) {
			assert.Contains(t, string(pe.Stack), "(*unprintable).Error", h.Name)
		}
	}
	_, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.Contains(t, rep.Timeline(), "panicked")
	hooks := 0
	for _, r := range sink.records() {
		if r.Message == "shutdown: hook" {
			hooks++
		}
	}
	assert.Equal(t, 4, hooks, "one record per hook")
}

// A task that fails before the trigger with an error that panics when
// printed triggers the shutdown with that panic as its cause.
func TestFaultTaskErrorThatCannotBePrinted(t *testing.T) {
	var bad *unprintable
	c, _, _ := newTest(t)
	c.Go("worker", func(context.Context) error { return bad })

	rep := c.Wait()

	var pe *shutdown.PanicError
	require.ErrorAs(t, rep.Cause, &pe)
	assert.Contains(t, string(pe.Stack), "(*unprintable).Error")
	assert.Equal(t, shutdown.Panicked, result(t, rep, "worker").Status)
	assert.Equal(t, 1, rep.ExitCode())
}
