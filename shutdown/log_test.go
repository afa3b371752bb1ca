package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 11: one record when the shutdown starts (its cause), one per
// hook (name, stage, status, elapsed, and the error of a failure), one at
// the end (elapsed, exit code).

// requireDuration returns the attribute key of r as a duration, failing
// the test if it is missing or of another kind.
func requireDuration(t *testing.T, r logRecord, key string) time.Duration {
	t.Helper()
	v, ok := r.Attrs[key]
	require.True(t, ok, "record %q has no %q: %s", r.Message, key, r.text())
	require.Equal(t, slog.KindDuration, v.Kind(), "%q in %q", key, r.Message)
	return v.Duration()
}

func TestLogRecords(t *testing.T) {
	t.Parallel()
	sink := newLogSink()
	c, _, _ := newTest(t, shutdown.WithLogger(sink.logger()))
	errBoom := errors.New("boom")
	c.Register("db", func(context.Context) error { return nil })
	s := c.Stage("servers")
	s.Register("http", func(context.Context) error { return errBoom })
	s.Register("grpc", func(context.Context) error { return nil })
	c.Register("cache", func(context.Context) error { panic("cache corrupted") })

	rep := c.Shutdown(errors.New("deploy 42"))
	recs := sink.records()
	require.Len(t, recs, 1+4+1, "start, one per hook, end")

	// Start: the cause.
	start := recs[0]
	_, isHook := start.Attrs["hook"]
	assert.False(t, isHook, "the first record is about the shutdown, not a hook")
	require.Contains(t, start.Attrs, "cause")
	assert.Contains(t, start.Attrs["cause"].String(), "deploy 42")

	// One per hook, in the order they ran (the stage's two in either
	// order), each matching the report.
	byName, order := hookRecords(recs[1:5])
	require.Len(t, byName, 4, "one record per hook: %v", order)
	assert.Equal(t, "cache", order[0])
	assert.ElementsMatch(t, []string{"http", "grpc"}, order[1:3])
	assert.Equal(t, "db", order[3])
	for _, h := range rep.Hooks {
		r := byName[h.Name]
		assert.Equal(t, h.Status.String(), r.Attrs["status"].String(), "status of %s", h.Name)
		assert.Equal(t, h.Elapsed, requireDuration(t, r, "elapsed"), "elapsed of %s", h.Name)
		if h.Stage != "" {
			assert.Equal(t, h.Stage, r.Attrs["stage"].String(), "stage of %s", h.Name)
		} else if v, ok := r.Attrs["stage"]; ok {
			assert.Empty(t, v.String(), "stage of solo hook %s", h.Name)
		}
		if h.Err != nil {
			require.Contains(t, r.Attrs, "error", "error of %s", h.Name)
			assert.Contains(t, r.Attrs["error"].String(), h.Err.Error())
		} else {
			assert.NotContains(t, r.Attrs, "error", "error of %s", h.Name)
		}
	}
	assert.Equal(t, "servers", byName["http"].Attrs["stage"].String())
	assert.Equal(t, "failed", byName["http"].Attrs["status"].String())
	assert.Contains(t, byName["http"].Attrs["error"].String(), "boom")
	assert.Equal(t, "panicked", byName["cache"].Attrs["status"].String())
	assert.Contains(t, byName["cache"].Attrs["error"].String(), "cache corrupted")
	assert.Equal(t, "ok", byName["db"].Attrs["status"].String())

	// End: elapsed and exit code, matching the report.
	end := recs[5]
	_, isHook = end.Attrs["hook"]
	assert.False(t, isHook, "the last record is about the shutdown, not a hook")
	assert.Equal(t, rep.Elapsed, requireDuration(t, end, "elapsed"))
	require.Contains(t, end.Attrs, "exit_code")
	assert.Equal(t, int64(1), end.Attrs["exit_code"].Int64())
	assert.Equal(t, 1, rep.ExitCode())
}

func TestLogCauses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger func(c *shutdown.Coordinator, send func())
		cause   string
	}{
		{"signal", func(_ *shutdown.Coordinator, send func()) { send() }, "terminated"},
		{"Exit", func(c *shutdown.Coordinator, _ func()) { c.Exit(4) }, "4"},
		{"failed task", func(c *shutdown.Coordinator, _ func()) {
			c.Go("consumer", func(context.Context) error { return errors.New("queue lost") })
		}, "queue lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := newLogSink()
			c, fake, _ := newTest(t, shutdown.WithLogger(sink.logger()))
			tc.trigger(c, func() { require.Equal(t, 1, fake.Send(syscall.SIGTERM)) })
			mustRecv(t, c.Done(), "shutdown")

			// A failed task also logs its failure, in any order with the
			// start record: find the records by what they hold.
			var starts, ends []logRecord
			for _, r := range sink.records() {
				if _, ok := r.Attrs["cause"]; ok {
					starts = append(starts, r)
				}
				if _, ok := r.Attrs["exit_code"]; ok {
					ends = append(ends, r)
				}
			}
			require.Len(t, starts, 1, "one record with the cause")
			assert.Contains(t, starts[0].Attrs["cause"].String(), tc.cause)
			require.Len(t, ends, 1, "one record with the exit code")
			assert.Equal(t, int64(c.Wait().ExitCode()), ends[0].Attrs["exit_code"].Int64())
			requireDuration(t, ends[0], "elapsed")
		})
	}
}

func TestLogTimedOutAndSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newLogSink()
		c, _, _ := newTest(t, shutdown.WithLogger(sink.logger()), shutdown.WithTimeout(10*time.Second))
		release := make(chan struct{})
		defer close(release)
		c.Register("never", func(context.Context) error { return nil })
		c.Register("hung", func(context.Context) error { <-release; return nil })

		rep := c.Shutdown(nil)
		recs := sink.records()
		require.Len(t, recs, 1+2+1, "start, one per hook, end")
		byName, order := hookRecords(recs)
		assert.Equal(t, []string{"hung", "never"}, order)

		hung := byName["hung"]
		assert.Equal(t, "timed out", hung.Attrs["status"].String())
		assert.Equal(t, 10*time.Second, requireDuration(t, hung, "elapsed"))
		assert.Contains(t, hung.Attrs, "error")
		never := byName["never"]
		assert.Equal(t, "skipped", never.Attrs["status"].String())
		assert.Contains(t, never.Attrs, "error")

		end := recs[3]
		assert.Equal(t, 10*time.Second, requireDuration(t, end, "elapsed"))
		assert.Equal(t, int64(1), end.Attrs["exit_code"].Int64())
		assert.Equal(t, 10*time.Second, rep.Elapsed)
	})
}

// panicHandler is a slog handler that panics: in Enabled, or in Handle.
type panicHandler struct{ inEnabled bool }

func (h panicHandler) Enabled(context.Context, slog.Level) bool {
	if h.inEnabled {
		panic("Enabled exploded")
	}
	return true
}
func (h panicHandler) Handle(context.Context, slog.Record) error { panic("Handle exploded") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h panicHandler) WithGroup(string) slog.Handler             { return h }

// A log handler that panics loses its records, never the shutdown: every
// hook runs and is reported, whether the log is the only observer or
// another observer is told too, and a second signal is still handled.
func TestLogHandlerPanicLosesRecordsNotTheShutdown(t *testing.T) {
	for _, inEnabled := range []bool{false, true} {
		for _, observed := range []bool{false, true} {
			t.Run(fmt.Sprintf("panic-in-enabled=%v/observed=%v", inEnabled, observed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c, fake, _ := newTest(t, shutdown.WithLogger(slog.New(panicHandler{inEnabled})))
					var ended atomic.Int32
					if observed {
						c.Observe(func(e shutdown.Event) {
							if e.Kind == shutdown.HookEnded {
								ended.Add(1)
							}
						})
					}
					c.Register("db", func(context.Context) error { return nil })
					s := c.Stage("servers")
					s.Register("http", func(context.Context) error { return errors.New("boom") })
					s.Register("grpc", func(context.Context) error { return nil })
					c.Register("cache", func(context.Context) error { panic("cache corrupted") })
					c.Register("slow", func(ctx context.Context) error {
						fake.Send(syscall.SIGINT) // joins the shutdown: logged, or not
						return nil
					})

					rep := c.Shutdown(errors.New("deploy"))

					got := map[string]shutdown.Status{}
					for _, h := range rep.Hooks {
						got[h.Name] = h.Status
					}
					assert.Equal(t, map[string]shutdown.Status{
						"slow": shutdown.OK, "cache": shutdown.Panicked,
						"http": shutdown.Failed, "grpc": shutdown.OK, "db": shutdown.OK,
					}, got)
					assert.Equal(t, 1, rep.ExitCode())
					if observed {
						assert.EqualValues(t, 5, ended.Load(), "the other observer saw every hook end")
					}
				})
			})
		}
	}
}
