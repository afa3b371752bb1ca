package shutdown_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 7: a hook registered after the trigger is never dropped
// silently: it runs within the time left and appears in the report; one
// registered after completion runs at once in the caller, bounded by its
// timeout.

// A hook registered by a running hook runs as soon as that step is over,
// before the next registered step, and the report shows it there.
func TestLateRegisteredFromRunningHook(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("a", rec.hook("a"))
	c.Register("b", func(context.Context) error {
		rec.add("b")
		c.Register("late-1", rec.hook("late-1"))
		c.Register("late-2", rec.hook("late-2"))
		return nil
	})
	c.Register("c", rec.hook("c"))

	rep := c.Shutdown(nil)

	// Late hooks keep LIFO among themselves.
	want := []string{"c", "b", "late-2", "late-1", "a"}
	assert.Equal(t, want, rec.Names())
	assert.Equal(t, want, names(rep))
	for _, h := range rep.Hooks {
		assert.Equal(t, shutdown.OK, h.Status, h.Name)
	}
}

// A hook registered by the last hook still runs, after it.
func TestLateRegisteredFromLastHook(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("last", func(context.Context) error {
		rec.add("last")
		c.Register("late", func(context.Context) error {
			rec.add("late")
			// and one registered by a late hook too
			c.Register("later", rec.hook("later"))
			return nil
		})
		return nil
	})
	c.Register("first", rec.hook("first"))

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"first", "last", "late", "later"}, rec.Names())
	assert.Equal(t, []string{"first", "last", "late", "later"}, names(rep))
}

// A hook registered by a stage hook runs after the whole stage, before the
// next step.
func TestLateRegisteredFromStageHook(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("after", rec.hook("after"))
	s := c.Stage("s")
	s.Register("s1", func(context.Context) error {
		rec.add("s1")
		c.Register("late", rec.hook("late"))
		return nil
	})
	s.Register("s2", rec.hook("s2"))

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"s1", "s2", "late", "after"}, names(rep))
	ran := rec.Names()
	require.Len(t, ran, 4)
	assert.Equal(t, []string{"late", "after"}, ran[2:])
	assert.Empty(t, result(t, rep, "late").Stage)
}

// A Stage.Register after the trigger runs too, on its own, under the
// stage's name; so does the hook of a stage created after the trigger.
func TestLateStageRegister(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	s := c.Stage("s")
	s.Register("s1", rec.hook("s1"))
	c.Register("a", rec.hook("a"))
	c.Register("b", func(context.Context) error {
		rec.add("b")
		s.Register("s-late", rec.hook("s-late"))
		c.Stage("new").Register("new-late", rec.hook("new-late"))
		return nil
	})

	rep := c.Shutdown(nil)

	ran := rec.Names()
	assert.ElementsMatch(t, []string{"b", "a", "s1", "s-late", "new-late"}, ran)
	require.NotEmpty(t, ran)
	assert.Equal(t, "b", ran[0])
	assert.Equal(t, "s", result(t, rep, "s-late").Stage)
	assert.Equal(t, "new", result(t, rep, "new-late").Stage)
	assert.Equal(t, shutdown.OK, result(t, rep, "s-late").Status)
	assert.Equal(t, shutdown.OK, result(t, rep, "new-late").Status)
	assert.Equal(t, ran, names(rep), "the report is in run order")
}

// A hook registered from another goroutine while a hook runs is taken in
// after the current step.
func TestLateRegisteredFromOutsideWhileRunning(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("a", rec.hook("a"))
	started, release := make(chan struct{}), make(chan struct{})
	c.Register("b", func(context.Context) error {
		rec.add("b")
		close(started)
		<-release
		return nil
	})

	done := make(chan *shutdown.Report)
	go func() { done <- c.Shutdown(nil) }()
	<-started
	c.Register("late", rec.hook("late"))
	close(release)
	rep := <-done

	assert.Equal(t, []string{"b", "late", "a"}, rec.Names())
	assert.Equal(t, []string{"b", "late", "a"}, names(rep))
}

// A hook registered during the drain delay runs first, when the hooks
// start.
func TestLateRegisteredDuringDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithDrainDelay(5*time.Second))
		var rec recorder
		start := time.Now()
		c.Register("a", rec.hook("a"))
		c.Register("b", rec.hook("b"))

		done := make(chan *shutdown.Report)
		go func() { done <- c.Shutdown(nil) }()
		time.Sleep(2 * time.Second) // inside the drain delay
		var lateAt time.Duration
		c.Register("late", func(ctx context.Context) error {
			lateAt = time.Since(start)
			rec.add("late")
			return nil
		})
		rep := <-done

		assert.Equal(t, 5*time.Second, lateAt, "ran when the hooks started, not at once")
		assert.Equal(t, []string{"late", "b", "a"}, rec.Names())
		assert.Equal(t, []string{"late", "b", "a"}, names(rep))
	})
}

// A late hook gets the time left, not more: its context ends at the whole
// deadline, and it is live when it starts.
func TestLateHookBoundedByTimeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		start := time.Now()
		type seen struct {
			err      error
			deadline time.Time
		}
		late := make(chan seen, 1)
		c.Register("first", func(context.Context) error {
			time.Sleep(3 * time.Second)
			c.Register("late", func(ctx context.Context) error {
				d, _ := ctx.Deadline()
				late <- seen{ctx.Err(), d}
				<-ctx.Done()
				return ctx.Err()
			}, shutdown.Timeout(time.Minute))
			return nil
		})

		rep := c.Shutdown(nil)

		got := <-late
		assert.NoError(t, got.err)
		assert.Equal(t, start.Add(10*time.Second), got.deadline)
		assert.Equal(t, 10*time.Second, time.Since(start))
		h := result(t, rep, "late")
		assert.Equal(t, shutdown.TimedOut, h.Status)
		assert.Equal(t, 7*time.Second, h.Elapsed)
	})
}

// A hook registered late, when no time is left to run it, is not dropped
// silently: the report records it Skipped.
func TestLateHookNotReachedIsSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		var ran atomic.Bool
		c.Register("runs-out", func(ctx context.Context) error {
			c.Register("late", func(context.Context) error { ran.Store(true); return nil })
			<-ctx.Done()
			return ctx.Err()
		})

		rep := c.Shutdown(nil)
		synctest.Wait()

		assert.False(t, ran.Load())
		assert.Equal(t, []string{"runs-out", "late"}, names(rep))
		h := result(t, rep, "late")
		assert.Equal(t, shutdown.Skipped, h.Status)
		assert.ErrorIs(t, h.Err, shutdown.ErrSkipped)
	})
}

// After completion a new hook runs at once, in the caller: it has run when
// Register returns. Its handle cannot remove it any more, and the final
// report is left as it was.
func TestLateAfterCompletionRunsInCaller(t *testing.T) {
	c, _, _ := newTest(t)
	c.Register("a", func(context.Context) error { return nil })
	rep := c.Shutdown(nil)
	<-c.Done()

	var ran atomic.Bool
	var ctxErr error
	var hasDeadline bool
	h := c.Register("after-end", func(ctx context.Context) error {
		ctxErr = ctx.Err()
		_, hasDeadline = ctx.Deadline()
		ran.Store(true)
		return nil
	})

	assert.True(t, ran.Load(), "the hook had not run when Register returned")
	assert.NoError(t, ctxErr)
	assert.True(t, hasDeadline, "a late hook is bounded in time")
	assert.False(t, h.Unregister())
	assert.Equal(t, []string{"a"}, names(rep), "the final report does not change")
	assert.Same(t, rep, c.Shutdown(nil))

	var stageRan atomic.Bool
	c.Stage("s").Register("stage-after-end", func(context.Context) error {
		stageRan.Store(true)
		return nil
	})
	assert.True(t, stageRan.Load(), "Stage.Register after completion runs at once")
}

// A hook registered after completion that ignores its context does not
// hold its caller past its timeout, whichever sets it: Timeout, else
// WithHookTimeout, else the whole timeout.
func TestLateAfterCompletionBoundedByTimeout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []shutdown.Option
		hook  []shutdown.HookOption
		bound time.Duration
	}{
		{"own", []shutdown.Option{shutdown.WithHookTimeout(5 * time.Second)}, []shutdown.HookOption{shutdown.Timeout(2 * time.Second)}, 2 * time.Second},
		{"hook-timeout", []shutdown.Option{shutdown.WithHookTimeout(5 * time.Second)}, nil, 5 * time.Second},
		{"whole", []shutdown.Option{shutdown.WithTimeout(8 * time.Second)}, nil, 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				c, _, _ := newTest(t, tc.opts...)
				c.Shutdown(nil)

				start := time.Now()
				c.Register("hung", ignoring(release), tc.hook...)

				assert.Equal(t, tc.bound, time.Since(start))
			})
		})
	}
}

// A late hook that panics after completion runs in the caller, which
// survives it: the panic is recovered and logged at error level with its
// value and stack, as a hook's panic during the shutdown is reported.
func TestLateAfterCompletionPanicIsRecovered(t *testing.T) {
	sink := newLogSink()
	c, _, _ := newTest(t, shutdown.WithLogger(sink.logger()))
	c.Shutdown(nil)
	<-c.Done()

	var ran atomic.Bool
	require.NotPanics(t, func() {
		c.Register("boom", func(context.Context) error {
			ran.Store(true)
			panic("late boom")
		})
	})

	require.True(t, ran.Load(), "the hook did not run")
	byName, _ := hookRecords(sink.records())
	rec, ok := byName["boom"]
	require.True(t, ok, "no record of the hook in %v", sink.records())
	assert.Equal(t, slog.LevelError, rec.Level)
	assert.Equal(t, shutdown.Panicked.String(), rec.Attrs["status"].String())
	assert.Contains(t, rec.Attrs["error"].String(), "late boom")
	assert.Contains(t, rec.Attrs["stack"].String(), "late_test.go", "the stack of the panic")
}

// Registrations racing with the end of the shutdown are never dropped:
// each hook either is in the report (run, or Skipped) or ran in its
// caller, exactly once.
func TestLateRacingCompletionNeverDropped(t *testing.T) {
	for range 20 {
		c, _, _ := newTest(t)
		c.Register("a", func(context.Context) error { return nil })
		const n = 64
		var runs [n]atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				c.Register(fmt.Sprint("late-", i), func(context.Context) error {
					runs[i].Add(1)
					return nil
				})
			})
		}
		close(start)
		rep := c.Shutdown(nil)
		wg.Wait()

		inReport := map[string]shutdown.Status{}
		for _, h := range rep.Hooks {
			inReport[h.Name] = h.Status
		}
		for i := range n {
			name := fmt.Sprint("late-", i)
			st, ok := inReport[name]
			switch {
			case ok && st == shutdown.Skipped:
				require.Zero(t, runs[i].Load(), name)
			case ok:
				require.Equal(t, shutdown.OK, st, name)
				require.Equal(t, int32(1), runs[i].Load(), name)
			default:
				require.Equal(t, int32(1), runs[i].Load(), "%s: not in the report and not run", name)
			}
		}
	}
}

// A hook run after completion is logged, with its name and outcome.
func TestLateAfterCompletionIsLogged(t *testing.T) {
	var buf bytes.Buffer
	c, _, _ := newTest(t, shutdown.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	c.Shutdown(nil)
	<-c.Done()
	buf.Reset()

	c.Register("straggler", func(context.Context) error { return errors.New("too late to flush") })

	out := buf.String()
	assert.Contains(t, out, "hook=straggler")
	assert.Contains(t, out, "too late to flush")
	assert.Contains(t, out, "completed")
}
