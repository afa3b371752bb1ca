package shutdown_test

import (
	"context"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// InFlight is the data path's context: it lives through the trigger, the
// drain delay and the hooks, so that work already taken is finished, and
// ends when the shutdown ends.
func TestInFlightOutlivesTheTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, fake, _ := newTest(t, shutdown.WithDrainDelay(time.Second), shutdown.WithTimeout(time.Minute))
		flight := c.InFlight()
		assert.Same(t, flight, c.InFlight(), "one context for the coordinator's life")
		var atHook error
		c.Register("flush", func(context.Context) error { atHook = flight.Err(); return nil })

		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		synctest.Wait()
		assert.Error(t, c.Context().Err(), "Context: stop taking new work")
		assert.NoError(t, flight.Err(), "InFlight: work in flight goes on")

		<-c.Done()
		assert.NoError(t, atHook, "InFlight is alive while the hooks run")
		assert.ErrorIs(t, flight.Err(), context.Canceled, "and ends with the shutdown")
	})
}

// At the deadline, InFlight ends, with context.DeadlineExceeded as its
// cause, even while a hook still hangs.
func TestInFlightEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(5*time.Second))
		flight := c.InFlight()
		release := make(chan struct{})
		defer close(release)
		c.Register("hangs", func(context.Context) error { <-release; return nil })
		t0 := time.Now()
		go c.Shutdown(nil)
		<-flight.Done()
		assert.Equal(t, 5*time.Second, time.Since(t0))
		assert.ErrorIs(t, context.Cause(flight), context.DeadlineExceeded)
		<-c.Done()
	})
}

// A task that hands its work to a data path given InFlight keeps it alive
// through the trigger: the trap InFlight exists for is the task's own
// context, canceled at the trigger.
func TestInFlightForATask(t *testing.T) {
	c, _, _ := newTest(t)
	sent := make(chan context.Context, 1)
	c.Go("consume", func(ctx context.Context) error {
		<-ctx.Done()
		sent <- c.InFlight()
		return ctx.Err()
	})
	flushed := make(chan error, 1)
	c.Register("flush", func(context.Context) error {
		flushed <- (<-sent).Err()
		return nil
	})
	_ = shutdown.Timeout // the flush runs after the consumer stopped: LIFO
	rep := c.Shutdown(nil)
	require.NoError(t, rep.Err())
	assert.NoError(t, <-flushed, "the data path's context was alive when the flush ran")
}
