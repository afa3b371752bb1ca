package shutdown_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// stopper behaves like a *grpc.Server: GracefulStop waits for the work in
// flight, or returns at once once Stop has been called.
type stopper struct {
	work     time.Duration
	stopped  chan struct{}
	hardCall atomic.Int32
}

func newStopper(work time.Duration) *stopper {
	return &stopper{work: work, stopped: make(chan struct{})}
}

func (s *stopper) GracefulStop() {
	select {
	case <-time.After(s.work):
	case <-s.stopped:
	}
}

func (s *stopper) Stop() {
	if s.hardCall.Add(1) == 1 {
		close(s.stopped)
	}
}

func TestGracefulFinishesInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		s := newStopper(2 * time.Second)
		c.Register("grpc", shutdown.Graceful(s.GracefulStop, s.Stop), shutdown.Timeout(5*time.Second))
		rep := c.Shutdown(nil)
		r := result(t, rep, "grpc")
		assert.Equal(t, shutdown.OK, r.Status)
		assert.Equal(t, 2*time.Second, r.Elapsed)
		assert.Zero(t, s.hardCall.Load(), "no hard stop when the graceful one finished")
	})
}

// When the hook's context ends first, the hard stop runs at that moment,
// the hook is recorded TimedOut, and the graceful call's goroutine ends
// with it.
func TestGracefulFallsBackToHard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		s := newStopper(time.Hour)
		var nextAt time.Time
		c.Register("next", func(context.Context) error { nextAt = time.Now(); return nil })
		c.Register("grpc", shutdown.Graceful(s.GracefulStop, s.Stop), shutdown.Timeout(3*time.Second))
		t0 := time.Now()
		rep := c.Shutdown(nil)
		r := result(t, rep, "grpc")
		assert.Equal(t, shutdown.TimedOut, r.Status)
		assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.Equal(t, t0.Add(3*time.Second), nextAt, "the next hook starts at the hook's timeout")
		// The hook was left behind at its timeout, as it called Stop: once
		// that has run, GracefulStop returns and nothing is left running.
		synctest.Wait()
		assert.EqualValues(t, 1, s.hardCall.Load())
	})
}

// The fallback also applies at the whole deadline, for a hook with no
// timeout of its own.
func TestGracefulFallsBackAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(4*time.Second))
		s := newStopper(time.Hour)
		c.Register("grpc", shutdown.Graceful(s.GracefulStop, s.Stop))
		rep := c.Shutdown(nil)
		assert.Equal(t, shutdown.TimedOut, result(t, rep, "grpc").Status)
		synctest.Wait()
		assert.EqualValues(t, 1, s.hardCall.Load())
	})
}

// A panic in graceful is recovered and recorded; one in hard, which runs
// as the hook's time runs out, is recovered too (the hook is recorded
// Panicked, or TimedOut when its timeout won the race), and the process
// goes on.
func TestGracefulPanicsAreRecovered(t *testing.T) {
	c, _, _ := newTest(t)
	release := make(chan struct{})
	defer close(release)
	c.Register("graceful panics", shutdown.Graceful(func() { panic("graceful") }, func() {}))
	c.Register("hard panics", shutdown.Graceful(func() { <-release }, func() { panic("hard") }), shutdown.Timeout(time.Millisecond))
	rep := c.Shutdown(nil)
	r := result(t, rep, "graceful panics")
	require.Equal(t, shutdown.Panicked, r.Status)
	var pe *shutdown.PanicError
	require.ErrorAs(t, r.Err, &pe)
	assert.Equal(t, "graceful", pe.Value)
	assert.Contains(t, []shutdown.Status{shutdown.Panicked, shutdown.TimedOut}, result(t, rep, "hard panics").Status)
}
