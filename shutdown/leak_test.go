package shutdown_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// Behaviour 13: once a shutdown has completed, no goroutine of the package
// is left, except the goroutine of a hook that ignored its context.
//
// These tests are not parallel: goleak.IgnoreCurrent takes a snapshot of
// the goroutines alive at the start, and a test running alongside would
// add its own.

func ctxHook(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestLeakNoneAfterShutdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []shutdown.Option
		run  func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake)
	}{
		{"solo hooks", nil, func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
			for range 5 {
				c.Register("h", func(context.Context) error { return nil })
			}
			c.Register("fails", func(context.Context) error { return errors.New("boom") })
			c.Register("panics", func(context.Context) error { panic("boom") })
			c.Shutdown(nil)
		}},
		{"stages", nil, func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
			s := c.Stage("wide")
			for range 8 {
				s.Register("h", func(context.Context) error { return nil })
			}
			s.Register("panics", func(context.Context) error { panic("boom") })
			l := c.Stage("limited", shutdown.Limit(2))
			for range 5 {
				l.Register("h", func(context.Context) error { return nil })
			}
			c.Shutdown(nil)
		}},
		{"tasks", nil, func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
			c.Go("stops", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
			c.Go("fails late", func(ctx context.Context) error { <-ctx.Done(); return errors.New("lost") })
			c.Go("ends early", func(context.Context) error { return nil })
			c.Shutdown(nil)
		}},
		{"failed task", nil, func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
			c.Go("other", func(ctx context.Context) error { <-ctx.Done(); return nil })
			c.Go("fails", func(context.Context) error { return errors.New("boom") })
			mustRecv(t, c.Done(), "shutdown after the task failed")
		}},
		{"hooks with timeouts", []shutdown.Option{shutdown.WithHookTimeout(time.Hour)},
			func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
				c.Register("own", func(context.Context) error { return nil }, shutdown.Timeout(time.Hour))
				c.Register("default", func(context.Context) error { return nil })
				c.Register("times out", ctxHook, shutdown.Timeout(time.Millisecond))
				s := c.Stage("s")
				s.Register("times out", ctxHook, shutdown.Timeout(time.Millisecond))
				s.Register("ok", func(context.Context) error { return nil }, shutdown.Timeout(time.Hour))
				c.Shutdown(nil)
			}},
		{"whole deadline", []shutdown.Option{shutdown.WithTimeout(50 * time.Millisecond)},
			func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
				c.Register("skipped", func(context.Context) error { return nil })
				c.Register("waits", ctxHook)
				c.Stage("s").Register("waits", ctxHook)
				c.Shutdown(nil)
			}},
		{"drain delay", []shutdown.Option{shutdown.WithDrainDelay(time.Millisecond)},
			func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
				c.Register("h", func(context.Context) error { return nil })
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, c.Done(), "shutdown")
			}},
		{"forced", []shutdown.Option{shutdown.WithTimeout(time.Hour)},
			func(t *testing.T, c *shutdown.Coordinator, fake *signals.Fake) {
				started := make(chan struct{})
				c.Register("skipped", func(context.Context) error { return nil })
				s := c.Stage("s")
				s.Register("slow", func(ctx context.Context) error {
					close(started)
					return ctxHook(ctx)
				}, shutdown.Timeout(time.Hour))
				s.Register("slow too", ctxHook)
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, started, "slow hook start")
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, c.Done(), "forced shutdown")
				require.True(t, c.Wait().Forced)
			}},
		{"late registration", nil, func(t *testing.T, c *shutdown.Coordinator, _ *signals.Fake) {
			c.Register("registers", func(context.Context) error {
				c.Register("late", func(context.Context) error { return nil }, shutdown.Timeout(time.Hour))
				return nil
			})
			c.Shutdown(nil)
			c.Register("after", func(context.Context) error { return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			c, fake, _ := newTest(t, tc.opts...)
			tc.run(t, c, fake)
			require.True(t, isClosed(c.Done()), "the shutdown completed")
			goleak.VerifyNone(t, ignore)
		})
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// deafHook returns a hook that ignores its context and returns only when
// release is closed. Its goroutine is found by the closure's name.
func deafHook(release <-chan struct{}) shutdown.Hook {
	return func(context.Context) error {
		<-release
		return nil
	}
}

// goroutinesIn counts the live goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(fn+"(")) {
			count++
		}
	}
	return count
}

func TestLeakOnlyTheHookThatIgnoredItsContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []shutdown.Option
		hook []shutdown.HookOption
	}{
		{"whole deadline", []shutdown.Option{shutdown.WithTimeout(50 * time.Millisecond)}, nil},
		{"own timeout", nil, []shutdown.HookOption{shutdown.Timeout(50 * time.Millisecond)}},
		{"hook timeout", []shutdown.Option{shutdown.WithHookTimeout(50 * time.Millisecond)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			release := make(chan struct{})
			defer func() {
				// However the test ends, the hook returns and its
				// goroutine ends with it.
				select {
				case <-release:
				default:
					close(release)
				}
			}()
			deaf := deafHook(release)
			name := runtime.FuncForPC(reflect.ValueOf(deaf).Pointer()).Name()

			c, _, _ := newTest(t, tc.opts...)
			var rec recorder
			c.Register("after", rec.hook("after"))
			c.Register("deaf", deaf, tc.hook...)
			c.Register("before", rec.hook("before"))
			rep := c.Shutdown(nil)
			require.Equal(t, shutdown.TimedOut, result(t, rep, "deaf").Status)

			// Everything but the abandoned hook's goroutine is gone...
			goleak.VerifyNone(t, ignore, goleak.IgnoreAnyFunction(name))
			// ...and that goroutine is left, exactly one.
			assert.Equal(t, 1, goroutinesIn(name), "goroutines running the abandoned hook")
			assert.Error(t, goleak.Find(ignore), "goleak sees the abandoned hook")

			// Once the hook returns, its goroutine ends too.
			close(release)
			goleak.VerifyNone(t, ignore)
		})
	}
}
