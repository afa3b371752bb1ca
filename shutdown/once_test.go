package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// Behaviour 6: every trigger after the first joins the same shutdown and
// gets the same *Report; every hook runs at most once.

func TestOnceConcurrentTriggers(t *testing.T) {
	for range 10 {
		c, fake, _ := newTest(t)
		const hooks = 20
		var runs [hooks]atomic.Int32
		s := c.Stage("s")
		for i := range hooks {
			fn := func(context.Context) error { runs[i].Add(1); return nil }
			if i%2 == 0 {
				c.Register(fmt.Sprint("h", i), fn)
			} else {
				s.Register(fmt.Sprint("s", i), fn)
			}
		}

		const callers = 100
		reports := make([]*shutdown.Report, callers+1)
		causes := make([]error, callers)
		for i := range causes {
			causes[i] = fmt.Errorf("caller %d", i)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				reports[i] = c.Shutdown(causes[i])
			})
		}
		wg.Go(func() {
			<-start
			fake.Send(syscall.SIGTERM)
		})
		wg.Go(func() {
			<-start
			reports[callers] = c.Wait()
		})
		close(start)
		wg.Wait()

		rep := reports[0]
		require.NotNil(t, rep)
		for i, r := range reports {
			require.Same(t, rep, r, "caller %d got another report", i)
		}
		require.Same(t, rep, c.Wait())
		require.Same(t, rep, c.Shutdown(errors.New("after the end")))
		for i := range hooks {
			require.Equal(t, int32(1), runs[i].Load(), "hook %d", i)
		}
		require.Len(t, rep.Hooks, hooks)

		// The cause is the first trigger's, whichever that was.
		var se *signals.Error
		if !errors.As(rep.Cause, &se) {
			require.Contains(t, causes, rep.Cause)
		} else {
			require.Equal(t, syscall.SIGTERM, se.Signal)
		}
		require.Equal(t, rep.Cause, context.Cause(c.Context()))
		select {
		case <-c.Done():
		default:
			t.Fatal("Done not closed after Shutdown returned")
		}
	}
}

// Triggers that arrive while the shutdown runs wait for the same shutdown
// and do not change its cause: here a signal starts it, calls join it, and
// a second signal, with WithForceExit(false), is logged and ignored, so
// the shutdown runs to its end and exits as a graceful one.
func TestOnceLaterTriggersJoinRunningShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newLogSink()
		c, fake, rec := newTest(t, shutdown.WithForceExit(false), shutdown.WithLogger(sink.logger()))
		var runs atomic.Int32
		release := make(chan struct{})
		c.Register("slow", func(context.Context) error {
			runs.Add(1)
			<-release
			return nil
		})

		first := make(chan *shutdown.Report)
		go func() { first <- c.Wait() }()
		synctest.Wait() // Wait has counted itself: the test owns the end
		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		synctest.Wait() // "slow" is running

		const joiners = 10
		joined := make(chan *shutdown.Report, joiners+1)
		for i := range joiners {
			go func() { joined <- c.Shutdown(fmt.Errorf("joiner %d", i)) }()
		}
		go func() { joined <- c.Wait() }()
		require.Equal(t, 1, fake.Send(syscall.SIGINT), "still listening while the shutdown runs")
		synctest.Wait() // the signal is handled; every joiner is blocked in Shutdown or Wait
		require.Len(t, joined, 0, "a joiner returned before the shutdown completed")
		select {
		case <-c.Done():
			t.Fatal("shutdown completed while its hook was still running")
		default:
		}
		var ignored []logRecord
		for _, r := range sink.records() {
			if v, ok := r.Attrs["signal"]; ok && v.String() == syscall.SIGINT.String() {
				ignored = append(ignored, r)
			}
		}
		require.Len(t, ignored, 1, "the second signal is logged")
		assert.Equal(t, slog.LevelWarn, ignored[0].Level)
		assert.Contains(t, ignored[0].Message, "ignored")
		close(release)

		rep := <-first
		for range joiners + 1 {
			assert.Same(t, rep, <-joined)
		}
		assert.Equal(t, int32(1), runs.Load())
		var se *signals.Error
		require.ErrorAs(t, rep.Cause, &se, "the first trigger's cause")
		assert.Equal(t, syscall.SIGTERM, se.Signal)
		assert.Same(t, rep.Cause, context.Cause(c.Context()))
		assert.Equal(t, []string{"slow"}, names(rep))
		assert.Equal(t, shutdown.OK, rep.Hooks[0].Status)
		assert.False(t, rep.Forced)
		assert.Equal(t, 0, rep.ExitCode(), "a graceful end, not 128+SIGINT")
		assert.Empty(t, rec.Codes(), "callers were waiting: the coordinator must not exit")
	})
}

// When the exit func returns (as in tests), a shutdown forced by a second
// signal still completes one report, with Forced set, for every caller.
func TestOnceForcedShutdownCompletesReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, fake, rec := newTest(t)
		release := make(chan struct{})
		var afterRan atomic.Bool
		c.Register("after", func(context.Context) error { afterRan.Store(true); return nil })
		c.Register("hung", ignoring(release))

		got := make(chan *shutdown.Report, 2)
		go func() { got <- c.Wait() }()
		go func() { got <- c.Wait() }()
		fake.Send(syscall.SIGTERM)
		synctest.Wait()
		fake.Send(syscall.SIGINT)
		r1, r2 := <-got, <-got

		require.Same(t, r1, r2)
		assert.True(t, r1.Forced)
		assert.Equal(t, []int{130}, rec.Codes())
		assert.Equal(t, 130, r1.ExitCode())
		hung := result(t, r1, "hung")
		assert.Equal(t, shutdown.TimedOut, hung.Status)
		assert.ErrorIs(t, hung.Err, shutdown.ErrForced)
		assert.Equal(t, shutdown.Skipped, result(t, r1, "after").Status)
		assert.Same(t, r1, c.Shutdown(nil))

		// The abandoned hook returning later starts nothing more.
		close(release)
		synctest.Wait()
		assert.False(t, afterRan.Load())
		assert.Equal(t, []int{130}, rec.Codes())
	})
}

// A signal trigger and the calls after it share one report too.
func TestOnceSignalThenShutdown(t *testing.T) {
	c, fake, _ := newTest(t)
	var runs atomic.Int32
	c.Register("h", func(context.Context) error { runs.Add(1); return nil })

	require.Equal(t, 1, fake.Send(syscall.SIGINT))
	rep := c.Wait()
	<-c.Done()

	assert.Same(t, rep, c.Shutdown(errors.New("too late")))
	assert.Same(t, rep, c.Wait())
	assert.Equal(t, int32(1), runs.Load())
	var se *signals.Error
	require.ErrorAs(t, rep.Cause, &se)
	assert.Equal(t, syscall.SIGINT, se.Signal)
}

// Two coordinators are independent: one's shutdown does not run or
// complete the other's.
func TestOnceCoordinatorsAreIndependent(t *testing.T) {
	c1, _, _ := newTest(t)
	c2, _, _ := newTest(t)
	var r1, r2 atomic.Int32
	c1.Register("h", func(context.Context) error { r1.Add(1); return nil })
	c2.Register("h", func(context.Context) error { r2.Add(1); return nil })

	rep1 := c1.Shutdown(nil)

	assert.Equal(t, int32(1), r1.Load())
	assert.Zero(t, r2.Load())
	select {
	case <-c2.Done():
		t.Fatal("the other coordinator completed")
	default:
	}
	assert.NoError(t, c2.Context().Err())
	rep2 := c2.Shutdown(nil)
	assert.NotSame(t, rep1, rep2)
	assert.Equal(t, int32(1), r2.Load())
}
