package shutdown_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Drain hooks run at the trigger, all at once, before the drain delay has
// passed; the walk starts once the delay has passed and every drain hook
// has returned; they come first in the report, under the stage "drain".
func TestOnDrainRunsAtTheTriggerAllAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 5 * time.Second
		c, _, _ := newTest(t, shutdown.WithDrainDelay(delay), shutdown.WithTimeout(time.Minute))
		var walkAt time.Time
		c.Register("first", func(context.Context) error { walkAt = time.Now(); return nil })
		// Each drain hook waits for the other to have started: they can
		// only both return if they run at the same time.
		a, b := make(chan struct{}), make(chan struct{})
		var aAt, bAt time.Time
		c.OnDrain("health", func(context.Context) error { aAt = time.Now(); close(a); <-b; return nil })
		c.OnDrain("discovery", func(context.Context) error { bAt = time.Now(); close(b); <-a; return nil })

		t0 := time.Now()
		rep := c.Shutdown(nil)
		assert.Equal(t, t0, aAt, "drain hooks start at the trigger")
		assert.Equal(t, t0, bAt)
		assert.Equal(t, t0.Add(delay), walkAt, "the walk starts after the drain delay")
		assert.Equal(t, []string{"health", "discovery", "first"}, names(rep), "drain hooks first, in registration order")
		assert.Equal(t, "drain", result(t, rep, "health").Stage)
		assert.Equal(t, "drain", result(t, rep, "discovery").Stage)
		assert.Equal(t, time.Duration(0), result(t, rep, "health").Started)
		assert.Equal(t, delay, result(t, rep, "first").Started)
	})
}

// A drain hook that outlasts the drain delay holds the walk until it
// returns or times out.
func TestOnDrainHoldsTheWalk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithDrainDelay(time.Second), shutdown.WithTimeout(time.Minute))
		var walkAt time.Time
		c.Register("first", func(context.Context) error { walkAt = time.Now(); return nil })
		c.OnDrain("slow", func(context.Context) error { time.Sleep(3 * time.Second); return nil })
		c.OnDrain("stuck", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, shutdown.Timeout(7*time.Second))

		t0 := time.Now()
		rep := c.Shutdown(nil)
		assert.Equal(t, t0.Add(7*time.Second), walkAt, "the walk waits for the last drain hook")
		assert.Equal(t, shutdown.OK, result(t, rep, "slow").Status)
		stuck := result(t, rep, "stuck")
		assert.Equal(t, shutdown.TimedOut, stuck.Status)
		assert.ErrorIs(t, stuck.Err, context.DeadlineExceeded)
		assert.Equal(t, 1, rep.ExitCode())
	})
}

// A drain hook is bounded by the whole deadline: past it, the walk never
// starts and its hooks are recorded skipped.
func TestOnDrainBoundedByTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		ran := false
		release := make(chan struct{})
		defer close(release)
		c.Register("after", func(context.Context) error { ran = true; return nil })
		c.OnDrain("hangs", func(context.Context) error { <-release; return nil })

		t0 := time.Now()
		rep := c.Shutdown(nil)
		assert.Equal(t, 10*time.Second, time.Since(t0))
		assert.False(t, ran)
		assert.Equal(t, shutdown.TimedOut, result(t, rep, "hangs").Status)
		assert.Equal(t, shutdown.Skipped, result(t, rep, "after").Status)
	})
}

// A failing or panicking drain hook is recorded and stops nothing.
func TestOnDrainFaults(t *testing.T) {
	c, _, _ := newTest(t)
	errDown := errors.New("health service gone")
	c.Register("after", func(context.Context) error { return nil })
	c.OnDrain("fails", func(context.Context) error { return errDown })
	c.OnDrain("panics", func(context.Context) error { panic("boom") })
	rep := c.Shutdown(nil)
	assert.ErrorIs(t, result(t, rep, "fails").Err, errDown)
	assert.Equal(t, shutdown.Panicked, result(t, rep, "panics").Status)
	assert.Equal(t, shutdown.OK, result(t, rep, "after").Status)
}

// A drain hook registered during the shutdown is not dropped: it runs as a
// late registration, under the stage "drain"; one registered after
// completion runs in its caller. A removed one never runs.
func TestOnDrainLateAndRemoved(t *testing.T) {
	c, _, _ := newTest(t)
	var lateRan, removedRan bool
	gone := c.OnDrain("removed", func(context.Context) error { removedRan = true; return nil })
	require.True(t, gone.Unregister())
	c.Register("registers", func(context.Context) error {
		c.OnDrain("late", func(context.Context) error { lateRan = true; return nil })
		return nil
	})
	rep := c.Shutdown(nil)
	assert.True(t, lateRan)
	assert.False(t, removedRan)
	assert.Equal(t, []string{"registers", "late"}, names(rep))
	assert.Equal(t, "drain", result(t, rep, "late").Stage)

	afterRan := false
	c.OnDrain("after", func(context.Context) error { afterRan = true; return nil })
	assert.True(t, afterRan, "registered after completion: runs in the caller")
}

func TestOnDrainProgrammingErrors(t *testing.T) {
	c, _, _ := newTest(t)
	assert.PanicsWithValue(t, "shutdown: OnDrain: empty name", func() { c.OnDrain("", func(context.Context) error { return nil }) })
	assert.PanicsWithValue(t, `shutdown: OnDrain "x": nil hook`, func() { c.OnDrain("x", nil) })
}
