package shutdown_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// Behaviour 12: a programming error panics at the call that made it, with a
// message naming the mistake, never later during a shutdown; when an
// option is given twice, the last one wins.

// panicMessage calls f and returns what it panicked with, as a string; it
// fails the test if f does not panic.
func panicMessage(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		v := recover()
		require.NotNil(t, v, "no panic")
		msg = fmt.Sprint(v)
	}()
	f()
	return ""
}

func nop(context.Context) error { return nil }

func TestOptionsProgrammingErrorsPanicAtTheCall(t *testing.T) {
	c, _, _ := newTest(t)
	s := c.Stage("s")
	for _, tc := range []struct {
		name string
		call func()
		want []string // words the message must hold
	}{
		{"Register empty name", func() { c.Register("", nop) }, []string{"Register", "empty name"}},
		{"Register nil hook", func() { c.Register("db", nil) }, []string{"Register", "db", "nil hook"}},
		{"Register nil option", func() { c.Register("db", nop, nil) }, []string{"Register", "nil option"}},
		{"Stage empty name", func() { c.Stage("") }, []string{"Stage", "empty name"}},
		{"Stage nil option", func() { c.Stage("x", nil) }, []string{"Stage", "nil option"}},
		{"Stage.Register empty name", func() { s.Register("", nop) }, []string{"Stage.Register", "empty name"}},
		{"Stage.Register nil hook", func() { s.Register("q", nil) }, []string{"Stage.Register", "q", "nil hook"}},
		{"Go empty name", func() { c.Go("", func(context.Context) error { return nil }) }, []string{"Go", "empty name"}},
		{"Go nil fn", func() { c.Go("worker", nil) }, []string{"Go", "worker", "nil"}},
		{"Timeout zero", func() { shutdown.Timeout(0) }, []string{"Timeout", "zero"}},
		{"Timeout negative", func() { shutdown.Timeout(-time.Second) }, []string{"Timeout", "negative", "-1s"}},
		{"WithTimeout zero", func() { shutdown.WithTimeout(0) }, []string{"WithTimeout", "zero"}},
		{"WithTimeout negative", func() { shutdown.WithTimeout(-time.Second) }, []string{"WithTimeout", "negative"}},
		{"WithHookTimeout zero", func() { shutdown.WithHookTimeout(0) }, []string{"WithHookTimeout", "zero"}},
		{"WithHookTimeout negative", func() { shutdown.WithHookTimeout(-1) }, []string{"WithHookTimeout", "negative"}},
		{"WithDrainDelay negative", func() { shutdown.WithDrainDelay(-time.Second) }, []string{"WithDrainDelay", "negative"}},
		{"Limit zero", func() { shutdown.Limit(0) }, []string{"Limit", "0", "below 1"}},
		{"Limit negative", func() { shutdown.Limit(-3) }, []string{"Limit", "-3", "below 1"}},
		{"WithSignalSource nil", func() { shutdown.WithSignalSource(nil) }, []string{"WithSignalSource", "nil source"}},
		{"WithLogger nil", func() { shutdown.WithLogger(nil) }, []string{"WithLogger", "nil logger"}},
		{"WithExitFunc nil", func() { shutdown.WithExitFunc(nil) }, []string{"WithExitFunc", "nil"}},
		{"WithSignals nil signal", func() { shutdown.WithSignals(syscall.SIGTERM, nil) }, []string{"WithSignals", "nil"}},
		{"New nil option", func() { shutdown.New(nil) }, []string{"New", "nil option"}},
		{"Closer nil", func() { shutdown.Closer(nil) }, []string{"Closer", "nil"}},
		{"Func nil", func() { shutdown.Func(nil) }, []string{"Func", "nil"}},
		{"Graceful nil graceful", func() { shutdown.Graceful(nil, func() {}) }, []string{"Graceful", "nil"}},
		{"Graceful nil hard", func() { shutdown.Graceful(func() {}, nil) }, []string{"Graceful", "nil"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := panicMessage(t, tc.call)
			assert.True(t, strings.HasPrefix(msg, "shutdown: "), "message %q does not name the package", msg)
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
		})
	}

	// None of those calls left anything behind: the shutdown runs the one
	// good hook and nothing else, without panicking.
	var ran atomic.Int32
	c.Register("good", func(context.Context) error { ran.Add(1); return nil })
	var rep *shutdown.Report
	require.NotPanics(t, func() { rep = c.Shutdown(nil) })
	assert.Equal(t, []string{"good"}, names(rep))
	assert.Equal(t, int32(1), ran.Load())
	assert.Equal(t, 0, rep.ExitCode())
}

// The messages are exact where the wording matters most.
func TestOptionsPanicValues(t *testing.T) {
	c, _, _ := newTest(t)
	require.PanicsWithValue(t, "shutdown: Register: empty name", func() { c.Register("", nop) })
	require.PanicsWithValue(t, `shutdown: Register "db": nil hook`, func() { c.Register("db", nil) })
	require.PanicsWithValue(t, "shutdown: Stage: empty name", func() { c.Stage("") })
	require.PanicsWithValue(t, "shutdown: Timeout: zero duration", func() { shutdown.Timeout(0) })
	require.PanicsWithValue(t, "shutdown: WithTimeout: negative duration -2s", func() { shutdown.WithTimeout(-2 * time.Second) })
	require.PanicsWithValue(t, "shutdown: Limit: 0 is below 1", func() { shutdown.Limit(0) })
	require.PanicsWithValue(t, "shutdown: WithSignalSource: nil source", func() { shutdown.WithSignalSource(nil) })
	require.PanicsWithValue(t, "shutdown: WithLogger: nil logger", func() { shutdown.WithLogger(nil) })
}

// A drain delay not shorter than the timeout panics in New, whichever
// order the options come in and whether the timeout is the default.
func TestOptionsDrainDelayNotShorterThanTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []shutdown.Option
	}{
		{"equal", []shutdown.Option{shutdown.WithTimeout(5 * time.Second), shutdown.WithDrainDelay(5 * time.Second)}},
		{"longer", []shutdown.Option{shutdown.WithDrainDelay(6 * time.Second), shutdown.WithTimeout(5 * time.Second)}},
		{"default-timeout", []shutdown.Option{shutdown.WithDrainDelay(shutdown.DefaultTimeout)}},
		{"last-timeout-wins", []shutdown.Option{shutdown.WithTimeout(time.Minute), shutdown.WithDrainDelay(10 * time.Second), shutdown.WithTimeout(10 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := signals.NewFake()
			opts := append([]shutdown.Option{
				shutdown.WithSignalSource(fake),
				shutdown.WithLogger(slog.New(slog.DiscardHandler)),
				shutdown.WithExitFunc(func(int) {}),
			}, tc.opts...)
			msg := panicMessage(t, func() { shutdown.New(opts...) })
			assert.Contains(t, msg, "New")
			assert.Contains(t, msg, "drain delay")
			assert.Contains(t, msg, "timeout")
			// A New that panicked listens to nothing and leaves no goroutine.
			assert.Zero(t, fake.Watching(syscall.SIGTERM))
		})
	}

	// Just shorter is fine.
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(5*time.Second), shutdown.WithDrainDelay(5*time.Second-time.Nanosecond))
		rep := c.Shutdown(nil)
		assert.Equal(t, 5*time.Second-time.Nanosecond, rep.Elapsed)
	})
}

// A programming error inside a hook panics there, in the hook that made
// it, which is recorded Panicked; the shutdown itself goes on.
func TestOptionsProgrammingErrorInsideHook(t *testing.T) {
	c, _, _ := newTest(t)
	var afterRan atomic.Bool
	c.Register("after", func(context.Context) error { afterRan.Store(true); return nil })
	c.Register("careless", func(context.Context) error {
		c.Register("", nop)
		return nil
	})

	rep := c.Shutdown(nil)

	h := result(t, rep, "careless")
	assert.Equal(t, shutdown.Panicked, h.Status)
	assert.Contains(t, panicValue(t, h.Err), "empty name")
	assert.True(t, afterRan.Load())
}

// Last option wins, for every option.

func TestOptionsLastTimeoutWins(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []shutdown.Option
		want time.Duration
	}{
		{"WithTimeout longer last", []shutdown.Option{shutdown.WithTimeout(time.Second), shutdown.WithTimeout(10 * time.Second)}, 10 * time.Second},
		{"WithTimeout shorter last", []shutdown.Option{shutdown.WithTimeout(10 * time.Second), shutdown.WithTimeout(time.Second)}, time.Second},
		{"WithHookTimeout longer last", []shutdown.Option{shutdown.WithHookTimeout(time.Second), shutdown.WithHookTimeout(4 * time.Second)}, 4 * time.Second},
		{"WithHookTimeout shorter last", []shutdown.Option{shutdown.WithHookTimeout(4 * time.Second), shutdown.WithHookTimeout(time.Second)}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _, _ := newTest(t, tc.opts...)
				c.Register("waits", untilDone)
				start := time.Now()

				rep := c.Shutdown(nil)

				assert.Equal(t, tc.want, time.Since(start))
				assert.Equal(t, tc.want, result(t, rep, "waits").Elapsed)
			})
		})
	}
}

func TestOptionsLastHookTimeoutOptionWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		c.Register("a", untilDone, shutdown.Timeout(time.Second), shutdown.Timeout(3*time.Second))
		c.Register("b", untilDone, shutdown.Timeout(3*time.Second), shutdown.Timeout(time.Second))

		rep := c.Shutdown(nil)

		assert.Equal(t, 3*time.Second, result(t, rep, "a").Elapsed)
		assert.Equal(t, time.Second, result(t, rep, "b").Elapsed)
	})
}

func TestOptionsLastDrainDelayWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithDrainDelay(time.Second), shutdown.WithDrainDelay(3*time.Second))
		start := time.Now()
		var at time.Duration
		c.Register("h", func(context.Context) error { at = time.Since(start); return nil })

		c.Shutdown(nil)

		assert.Equal(t, 3*time.Second, at)
	})
}

func TestOptionsLastLimitWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		var cur, maxSeen atomic.Int32
		s := c.Stage("s", shutdown.Limit(1), shutdown.Limit(3))
		for i := range 6 {
			s.Register(fmt.Sprint(i), func(context.Context) error {
				n := cur.Add(1)
				for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
				}
				time.Sleep(time.Second)
				cur.Add(-1)
				return nil
			})
		}

		c.Shutdown(nil)

		assert.Equal(t, int32(3), maxSeen.Load())
	})
}

func TestOptionsLastExitFuncWins(t *testing.T) {
	var first, last exitRecorder
	c, _, _ := newTest(t, shutdown.WithExitFunc(first.Exit), shutdown.WithExitFunc(last.Exit))
	c.Shutdown(nil)

	c.Exit(4)

	assert.Empty(t, first.Codes())
	assert.Contains(t, last.Codes(), 4)
}

func TestOptionsLastSignalsAndSourceWin(t *testing.T) {
	fake1, fake2 := signals.NewFake(), signals.NewFake()
	c, _, _ := newTest(t,
		shutdown.WithSignalSource(fake1), shutdown.WithSignalSource(fake2),
		shutdown.WithSignals(syscall.SIGINT), shutdown.WithSignals(syscall.SIGHUP),
	)

	require.Zero(t, fake1.Watching(syscall.SIGHUP), "an earlier source is used")
	require.Zero(t, fake1.Watching(syscall.SIGINT))
	require.Zero(t, fake2.Watching(syscall.SIGINT), "an earlier signal set is used")
	require.Zero(t, fake2.Watching(syscall.SIGTERM))
	require.Equal(t, 1, fake2.Watching(syscall.SIGHUP))

	fake2.Send(syscall.SIGHUP)
	rep := c.Wait()

	var se *signals.Error
	require.ErrorAs(t, rep.Cause, &se)
	assert.Equal(t, syscall.SIGHUP, se.Signal)
}

// WithSignals with no signals after a non-empty one listens to none.
func TestOptionsLastEmptySignalsWins(t *testing.T) {
	fake := signals.NewFake()
	c, _, _ := newTest(t, shutdown.WithSignalSource(fake), shutdown.WithSignals(syscall.SIGTERM), shutdown.WithSignals())

	assert.Zero(t, fake.Send(syscall.SIGTERM))
	assert.Zero(t, fake.Send(os.Interrupt))
	assert.NoError(t, c.Context().Err())
}

func TestOptionsLastLoggerWins(t *testing.T) {
	var first, last bytes.Buffer
	c, _, _ := newTest(t,
		shutdown.WithLogger(slog.New(slog.NewTextHandler(&first, nil))),
		shutdown.WithLogger(slog.New(slog.NewTextHandler(&last, nil))),
	)
	c.Register("h", nop)

	c.Shutdown(nil)

	assert.Empty(t, first.String())
	assert.Contains(t, last.String(), "hook=h")
}

func TestOptionsLastForceExitWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []shutdown.Option
		forced bool
	}{
		{"true then false", []shutdown.Option{shutdown.WithForceExit(true), shutdown.WithForceExit(false)}, false},
		{"false then true", []shutdown.Option{shutdown.WithForceExit(false), shutdown.WithForceExit(true)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, fake, rec := newTest(t, tc.opts...)
				release := make(chan struct{})
				c.Register("h", func(context.Context) error { <-release; return nil })

				fake.Send(syscall.SIGTERM)
				synctest.Wait()
				fake.Send(syscall.SIGTERM)
				synctest.Wait()
				close(release)
				rep := c.Wait()

				assert.Equal(t, tc.forced, rep.Forced)
				if tc.forced {
					assert.Equal(t, []int{143}, rec.Codes())
				} else {
					assert.Equal(t, shutdown.OK, result(t, rep, "h").Status)
				}
			})
		})
	}
}
