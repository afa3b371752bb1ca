package shutdown_test

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 3: every hook gets a fresh context ending at the earlier of its
// own timeout and the whole deadline; a hook that outlives it is abandoned
// and recorded TimedOut; hooks not reached are Skipped; a shutdown never
// takes longer than its timeout. Time is the synctest bubble's fake clock,
// so the durations below are exact.

// untilDone is a hook that waits for its context and returns its error.
func untilDone(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// ignoring returns a hook that ignores its context and returns only when
// release is closed.
func ignoring(release <-chan struct{}) shutdown.Hook {
	return func(context.Context) error {
		<-release
		return nil
	}
}

// at returns a hook that records, in *d, when it started relative to
// start.
func at(start time.Time, d *time.Duration) shutdown.Hook {
	return func(context.Context) error {
		*d = time.Since(start)
		return nil
	}
}

func TestDeadlineHookTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(30*time.Second))
		start := time.Now()
		nextAt := time.Duration(-1)
		c.Register("next", at(start, &nextAt))
		c.Register("slow", untilDone, shutdown.Timeout(5*time.Second))

		rep := c.Shutdown(nil)

		slow := result(t, rep, "slow")
		assert.Equal(t, shutdown.TimedOut, slow.Status)
		assert.ErrorIs(t, slow.Err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, slow.Elapsed)
		assert.Equal(t, 5*time.Second, nextAt, "the next hook starts when the slow one times out")
		assert.Equal(t, shutdown.OK, result(t, rep, "next").Status)
		assert.Equal(t, 5*time.Second, rep.Elapsed)
		assert.Equal(t, 1, rep.ExitCode())
		assert.ErrorIs(t, rep.Err(), context.DeadlineExceeded)
	})
}

// A hook that ignores its context is abandoned at its timeout: the
// coordinator moves on without waiting for it.
func TestDeadlineHungHookIsAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c, _, _ := newTest(t, shutdown.WithTimeout(30*time.Second))
		start := time.Now()
		nextAt := time.Duration(-1)
		c.Register("next", at(start, &nextAt))
		c.Register("hung", ignoring(release), shutdown.Timeout(4*time.Second))

		rep := c.Shutdown(nil)

		assert.Equal(t, 4*time.Second, time.Since(start))
		hung := result(t, rep, "hung")
		assert.Equal(t, shutdown.TimedOut, hung.Status)
		assert.ErrorIs(t, hung.Err, context.DeadlineExceeded)
		assert.Equal(t, 4*time.Second, hung.Elapsed)
		assert.Equal(t, 4*time.Second, nextAt)
		assert.Equal(t, shutdown.OK, result(t, rep, "next").Status)
	})
}

// A hook that returns an error after its context ended is TimedOut, not
// Failed: whether the coordinator saw its error or had already moved on.
func TestDeadlineErrorAfterContextEndIsTimedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		errLate := errors.New("gave up")
		c.Register("late-error", func(ctx context.Context) error {
			<-ctx.Done()
			return errLate
		}, shutdown.Timeout(time.Second))

		rep := c.Shutdown(nil)

		h := result(t, rep, "late-error")
		assert.Equal(t, shutdown.TimedOut, h.Status)
		if !errors.Is(h.Err, errLate) {
			assert.ErrorIs(t, h.Err, context.DeadlineExceeded)
		}
	})
}

func TestDeadlineWithHookTimeoutIsTheDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(time.Minute), shutdown.WithHookTimeout(2*time.Second))
		c.Register("own-longer", untilDone, shutdown.Timeout(7*time.Second))
		c.Register("own-shorter", untilDone, shutdown.Timeout(time.Second))
		c.Register("default", untilDone)
		s := c.Stage("s")
		s.Register("stage-default", untilDone)
		s.Register("stage-own", untilDone, shutdown.Timeout(3*time.Second))
		start := time.Now()

		rep := c.Shutdown(nil)

		want := map[string]time.Duration{
			"stage-default": 2 * time.Second,
			"stage-own":     3 * time.Second,
			"default":       2 * time.Second,
			"own-shorter":   time.Second,
			"own-longer":    7 * time.Second,
		}
		require.Len(t, rep.Hooks, len(want))
		for _, h := range rep.Hooks {
			assert.Equal(t, shutdown.TimedOut, h.Status, h.Name)
			assert.Equal(t, want[h.Name], h.Elapsed, h.Name)
		}
		assert.Equal(t, (3+2+1+7)*time.Second, time.Since(start))
	})
}

// The whole deadline cuts a hook with no timeout of its own, and the hooks
// after it are Skipped; Shutdown returns at exactly the deadline.
func TestDeadlineWholeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		var skippedRan atomic.Int32
		c.Register("skipped-1", func(context.Context) error { skippedRan.Add(1); return nil })
		s := c.Stage("skipped-stage")
		s.Register("skipped-2", func(context.Context) error { skippedRan.Add(1); return nil })
		s.Register("skipped-3", func(context.Context) error { skippedRan.Add(1); return nil })
		c.Register("runs-out", untilDone)
		c.Register("quick", func(context.Context) error { time.Sleep(time.Second); return nil })
		start := time.Now()

		rep := c.Shutdown(nil)

		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.Equal(t, 10*time.Second, rep.Elapsed)
		assert.Zero(t, skippedRan.Load())
		assert.Equal(t, []string{"quick", "runs-out", "skipped-2", "skipped-3", "skipped-1"}, names(rep))
		assert.Equal(t, shutdown.OK, result(t, rep, "quick").Status)
		out := result(t, rep, "runs-out")
		assert.Equal(t, shutdown.TimedOut, out.Status)
		assert.Equal(t, 9*time.Second, out.Elapsed)
		for _, n := range []string{"skipped-1", "skipped-2", "skipped-3"} {
			h := result(t, rep, n)
			assert.Equal(t, shutdown.Skipped, h.Status, n)
			assert.ErrorIs(t, h.Err, shutdown.ErrSkipped, n)
			assert.Zero(t, h.Elapsed, n)
		}
		assert.Equal(t, "skipped-stage", result(t, rep, "skipped-2").Stage)
		assert.ErrorIs(t, rep.Err(), shutdown.ErrSkipped)
		assert.Equal(t, 1, rep.ExitCode())
	})
}

// A hook that ignores its context and has no timeout of its own holds the
// walker, yet Shutdown still returns at the whole deadline.
func TestDeadlineWholeTimeoutAbandonsHungHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		var afterRan atomic.Bool
		c.Register("after", func(context.Context) error { afterRan.Store(true); return nil })
		c.Register("hung", ignoring(release))
		start := time.Now()

		rep := c.Shutdown(nil)

		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.Equal(t, shutdown.TimedOut, result(t, rep, "hung").Status)
		assert.Equal(t, 10*time.Second, result(t, rep, "hung").Elapsed)
		assert.ErrorIs(t, result(t, rep, "hung").Err, context.DeadlineExceeded)
		assert.Equal(t, shutdown.Skipped, result(t, rep, "after").Status)
		select {
		case <-c.Done():
		default:
			t.Error("Done not closed when Shutdown returned")
		}

		// The abandoned hook returning later changes nothing: the report is
		// final and the skipped hook never runs.
		close(release)
		synctest.Wait()
		assert.False(t, afterRan.Load())
		assert.Equal(t, shutdown.TimedOut, result(t, rep, "hung").Status)
		assert.Equal(t, shutdown.Skipped, result(t, rep, "after").Status)
	})
}

// Hooks of a stage that all ignore their context cannot hold the shutdown
// past its deadline either.
func TestDeadlineWholeTimeoutAbandonsHungStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		c.Register("after", func(context.Context) error { return nil })
		s := c.Stage("hung")
		s.Register("h1", ignoring(release))
		s.Register("h2", ignoring(release), shutdown.Timeout(20*time.Second))
		s.Register("h3", ignoring(release))
		start := time.Now()

		rep := c.Shutdown(nil)

		assert.Equal(t, 10*time.Second, time.Since(start))
		require.Equal(t, []string{"h1", "h2", "h3", "after"}, names(rep))
		for _, h := range rep.Hooks[:3] {
			assert.Equal(t, shutdown.TimedOut, h.Status, h.Name)
			assert.Equal(t, 10*time.Second, h.Elapsed, h.Name)
		}
		assert.Equal(t, shutdown.Skipped, rep.Hooks[3].Status)
	})
}

// A stage with Limit(1) moves to its next hook when a hung one times out.
func TestDeadlineLimitedStageMovesOnAtHookTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c, _, _ := newTest(t)
		start := time.Now()
		nextAt := time.Duration(-1)
		s := c.Stage("s", shutdown.Limit(1))
		s.Register("hung", ignoring(release), shutdown.Timeout(2*time.Second))
		s.Register("next", at(start, &nextAt))

		rep := c.Shutdown(nil)

		assert.Equal(t, 2*time.Second, nextAt)
		assert.Equal(t, shutdown.TimedOut, result(t, rep, "hung").Status)
		assert.Equal(t, shutdown.OK, result(t, rep, "next").Status)
	})
}

// Each hook's context is live when it starts and ends at the earlier of
// its own timeout and the whole deadline.
func TestDeadlineHookContextDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		start := time.Now()
		type seen struct {
			err      error
			deadline time.Time
			ok       bool
			startAt  time.Duration
		}
		got := map[string]*seen{}
		record := func(name string, then time.Duration) shutdown.Hook {
			s := &seen{err: errors.New("not run")}
			got[name] = s
			return func(ctx context.Context) error {
				s.err = ctx.Err()
				s.deadline, s.ok = ctx.Deadline()
				s.startAt = time.Since(start)
				time.Sleep(then)
				return nil
			}
		}
		c.Register("none-after", record("none-after", 0))
		c.Register("long", record("long", 0), shutdown.Timeout(20*time.Second))
		c.Register("short", record("short", time.Second), shutdown.Timeout(3*time.Second))
		c.Register("first", record("first", 2*time.Second))

		rep := c.Shutdown(nil)

		whole := start.Add(10 * time.Second)
		want := map[string]struct {
			at       time.Duration
			deadline time.Time
		}{
			"first":      {0, whole},
			"short":      {2 * time.Second, start.Add(2*time.Second + 3*time.Second)},
			"long":       {3 * time.Second, whole},
			"none-after": {3 * time.Second, whole},
		}
		for name, w := range want {
			s := got[name]
			assert.NoError(t, s.err, "%s started with a done context", name)
			assert.True(t, s.ok, "%s has no deadline", name)
			assert.Equal(t, w.deadline, s.deadline, name)
			assert.Equal(t, w.at, s.startAt, name)
		}
		for _, h := range rep.Hooks {
			assert.Equal(t, shutdown.OK, h.Status, h.Name)
		}
	})
}

// A walker released from an abandoned hook after the deadline starts
// nothing more: the hooks after it stay Skipped and never run, even with a
// timeout of their own that has not passed.
func TestDeadlineNothingStartsAfterDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		var ran atomic.Int32
		c.Register("next", func(context.Context) error { ran.Add(1); return nil })
		c.Register("next-own", func(context.Context) error { ran.Add(1); return nil }, shutdown.Timeout(time.Hour))
		c.Register("hung", ignoring(release), shutdown.Timeout(time.Hour))

		rep := c.Shutdown(nil)
		time.Sleep(time.Second)
		close(release)
		synctest.Wait()

		assert.Zero(t, ran.Load(), "a hook ran after the deadline")
		assert.Equal(t, shutdown.TimedOut, result(t, rep, "hung").Status)
		for _, n := range []string{"next", "next-own"} {
			assert.Equal(t, shutdown.Skipped, result(t, rep, n).Status, n)
		}
	})
}

// A hook of a limited stage that waits for a free slot when the deadline
// passes never starts with the ended context: the deadline ends the hook
// holding the slot, the slot frees, and the goroutine that would start the
// queued hook races with the report. Whichever wins, the queued hook is
// recorded Skipped and never called. The shutdown is repeated so that both
// orders occur (the queued hook's goroutine wins a few percent of them).
func TestDeadlineQueuedStageHookNeverStartsLate(t *testing.T) {
	var late atomic.Int32
	for range 500 {
		synctest.Test(t, func(t *testing.T) {
			c, _, _ := newTest(t, shutdown.WithTimeout(time.Second))
			s := c.Stage("s", shutdown.Limit(1))
			s.Register("holds the slot", untilDone)
			s.Register("queued", func(ctx context.Context) error {
				if ctx.Err() != nil {
					late.Add(1)
				}
				return errors.New("the queued hook was called")
			})

			rep := c.Shutdown(nil)
			synctest.Wait()

			assert.Equal(t, shutdown.TimedOut, result(t, rep, "holds the slot").Status)
			assert.Equal(t, shutdown.Skipped, result(t, rep, "queued").Status)
		})
		require.Zero(t, late.Load(), "a hook started with its context ended")
	}
}

// The drain delay counts inside the timeout: the first hook starts after
// it, and the whole deadline still falls WithTimeout after the trigger.
func TestDeadlineDrainDelayCountsInsideTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second), shutdown.WithDrainDelay(4*time.Second))
		start := time.Now()
		c.Register("skipped", func(context.Context) error { return nil })
		type seen struct {
			at       time.Duration
			deadline time.Time
		}
		// The hook times out and is abandoned: nothing orders its writes
		// before Shutdown returns, so it reports through a channel.
		first := make(chan seen, 1)
		c.Register("first", func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			first <- seen{time.Since(start), d}
			<-ctx.Done()
			return ctx.Err()
		})

		rep := c.Shutdown(nil)

		got := <-first
		assert.Equal(t, 4*time.Second, got.at)
		assert.Equal(t, start.Add(10*time.Second), got.deadline)
		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.Equal(t, 10*time.Second, rep.Elapsed)
		h := result(t, rep, "first")
		assert.Equal(t, shutdown.TimedOut, h.Status)
		assert.Equal(t, 6*time.Second, h.Elapsed)
		assert.Equal(t, shutdown.Skipped, result(t, rep, "skipped").Status)
	})
}

// The deadline runs from the trigger, not from New: a coordinator that
// waited a long time before its shutdown still gives hooks the full time.
func TestDeadlineStartsAtTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, fake, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		c.Register("h", untilDone)
		time.Sleep(time.Hour)
		start := time.Now()
		fake.Send(syscall.SIGTERM)

		rep := c.Wait()

		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.Equal(t, 10*time.Second, result(t, rep, "h").Elapsed)
	})
}
