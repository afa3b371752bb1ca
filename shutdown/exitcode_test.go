package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 9: exit codes, first match wins: 128+signo when forced; the
// code given to Exit; 1 when any hook failed, timed out, panicked or was
// skipped, or a task failed; else 0.

func TestExitCodeFromStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		statuses []shutdown.Status
		want     int
	}{
		{nil, 0},
		{[]shutdown.Status{shutdown.OK}, 0},
		{[]shutdown.Status{shutdown.OK, shutdown.OK, shutdown.OK}, 0},
		{[]shutdown.Status{shutdown.Failed}, 1},
		{[]shutdown.Status{shutdown.OK, shutdown.TimedOut}, 1},
		{[]shutdown.Status{shutdown.Panicked, shutdown.OK}, 1},
		{[]shutdown.Status{shutdown.OK, shutdown.OK, shutdown.Skipped}, 1},
		{[]shutdown.Status{shutdown.Failed, shutdown.TimedOut, shutdown.Panicked, shutdown.Skipped}, 1},
	} {
		rep := &shutdown.Report{}
		for i, st := range tc.statuses {
			rep.Hooks = append(rep.Hooks, shutdown.HookResult{Name: fmt.Sprint("h", i), Status: st})
		}
		assert.Equal(t, tc.want, rep.ExitCode(), "%v", tc.statuses)
	}
	var nilReport *shutdown.Report
	assert.Equal(t, 0, nilReport.ExitCode())
}

// exitCase is one row of TestExitCodeFirstMatch: run makes a coordinator
// end in some way and returns its report and the codes its exit func got.
type exitCase struct {
	name  string
	run   func(t *testing.T) (*shutdown.Report, []int)
	want  int
	exits []int // the codes the exit func was called with, in order
}

// failingHooks registers a hook that fails, one that panics and one that
// times out.
func failingHooks(c *shutdown.Coordinator) {
	c.Register("fails", func(context.Context) error { return errors.New("boom") })
	c.Register("panics", func(context.Context) error { panic("boom") })
	c.Register("times out", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, shutdown.Timeout(time.Millisecond))
}

// forcedAfter registers a slow hook, then extra's hooks, starts a shutdown
// with trigger, waits for the slow hook to start, sends SIGTERM twice and
// returns the report and the exit func's codes.
func forcedAfter(t *testing.T, extra func(*shutdown.Coordinator), trigger func(*shutdown.Coordinator)) (*shutdown.Report, []int) {
	exits := newExitCalls()
	c, fake, _ := newTest(t, shutdown.WithExitFunc(exits.exit), shutdown.WithTimeout(time.Hour))
	started := make(chan struct{})
	c.Register("slow", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	extra(c) // registered later: they run before the slow hook
	done := make(chan struct{})
	go func() {
		defer close(done)
		trigger(c)
	}()
	mustRecv(t, started, "slow hook start")
	// The first signal joins the shutdown the program started; the
	// second forces the exit.
	require.Equal(t, 1, fake.Send(syscall.SIGTERM))
	require.Equal(t, 1, fake.Send(syscall.SIGTERM))
	mustRecv(t, done, "trigger call")
	mustRecv(t, c.Done(), "shutdown")
	synctest.Wait() // the exit func, if any, has been called
	return c.Wait(), exits.codes()
}

func TestExitCodeFirstMatch(t *testing.T) {
	for _, tc := range []exitCase{
		{
			name: "forced beats Exit",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				return forcedAfter(t, func(*shutdown.Coordinator) {}, func(c *shutdown.Coordinator) { c.Exit(3) })
			},
			want:  143,
			exits: []int{143, 143}, // the forced exit, then Exit's own call once the exit func returned
		},
		{
			name: "forced beats failures",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				return forcedAfter(t, failingHooks, func(c *shutdown.Coordinator) { c.Shutdown(nil) })
			},
			want:  143,
			exits: []int{143},
		},
		{
			name: "forced beats an Exit called by a hook",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, fake, _ := newTest(t, shutdown.WithExitFunc(exits.exit), shutdown.WithTimeout(time.Hour))
				c.Register("waits", untilDone)
				c.Register("exits", func(context.Context) error { c.Exit(4); return nil })
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				synctest.Wait() // Exit(4) has returned; "waits" waits
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, c.Done(), "shutdown")
				synctest.Wait() // the exit func, if any, has been called
				rep := c.Wait()
				assert.Equal(t, shutdown.OK, result(t, rep, "exits").Status)
				return rep, exits.codes()
			},
			want:  143,
			exits: []int{143}, // once: Exit's own call is the forced one
		},
		{
			name: "Exit beats failing hooks",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, _, _ := newTest(t, shutdown.WithExitFunc(exits.exit))
				failingHooks(c)
				mustReturn(t, "Exit", func() { c.Exit(3) })
				rep := c.Wait()
				var ee *shutdown.ExitError
				require.ErrorAs(t, rep.Cause, &ee)
				assert.Equal(t, 3, ee.Code)
				assert.Error(t, rep.Err(), "the hooks did fail")
				synctest.Wait()
				return rep, exits.codes()
			},
			want:  3,
			exits: []int{3},
		},
		{
			name: "Exit(0) beats failing hooks",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, _, _ := newTest(t, shutdown.WithExitFunc(exits.exit))
				failingHooks(c)
				mustReturn(t, "Exit", func() { c.Exit(0) })
				synctest.Wait() // the exit func, if any, has been called
				return c.Wait(), exits.codes()
			},
			want:  0,
			exits: []int{0},
		},
		{
			name: "Exit during a signal's shutdown",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, fake, _ := newTest(t, shutdown.WithExitFunc(exits.exit))
				started, release := make(chan struct{}), make(chan struct{})
				c.Register("fails", func(context.Context) error { return errors.New("boom") })
				c.Register("blocked", blockedHook(started, release))
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, started, "blocked hook start")
				exited := make(chan struct{})
				go func() {
					defer close(exited)
					c.Exit(7)
				}()
				// Release the hook only once Exit is blocked waiting for
				// the shutdown: its code is recorded by then.
				synctest.Wait()
				close(release)
				mustRecv(t, exited, "Exit")
				synctest.Wait() // the exit func, if any, has been called
				return c.Wait(), exits.codes()
			},
			want:  7,
			exits: []int{7},
		},
		{
			name: "first Exit code wins",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, _, _ := newTest(t, shutdown.WithExitFunc(exits.exit))
				started, release := make(chan struct{}), make(chan struct{})
				c.Register("blocked", blockedHook(started, release))
				first := make(chan struct{})
				go func() {
					defer close(first)
					c.Exit(3)
				}()
				mustRecv(t, started, "blocked hook start") // Exit(3) has triggered
				second := make(chan struct{})
				go func() {
					defer close(second)
					c.Exit(5)
				}()
				synctest.Wait()
				close(release)
				mustRecv(t, first, "Exit(3)")
				mustRecv(t, second, "Exit(5)")
				synctest.Wait() // the exit func, if any, has been called
				return c.Wait(), exits.codes()
			},
			want:  3,
			exits: []int{3, 3},
		},
		{
			name: "failed hook",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				c, _, rec := newTest(t)
				c.Register("ok", func(context.Context) error { return nil })
				c.Register("fails", func(context.Context) error { return errors.New("boom") })
				rep := c.Shutdown(nil)
				synctest.Wait()
				return rep, rec.Codes()
			},
			want: 1,
		},
		{
			name: "failed task",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, _, _ := newTest(t, shutdown.WithExitFunc(exits.exit))
				errTaskFailed := errors.New("task failed")
				c.Go("worker", func(context.Context) error { return errTaskFailed })
				mustRecv(t, c.Done(), "shutdown after the task failed")
				rep := c.Wait()
				assert.ErrorIs(t, rep.Cause, errTaskFailed)
				// Nobody waited: the coordinator ended the process itself.
				synctest.Wait()
				return rep, exits.codes()
			},
			want:  1,
			exits: []int{1},
		},
		{
			name: "task failing after the trigger",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				c, _, rec := newTest(t)
				c.Go("worker", func(ctx context.Context) error {
					<-ctx.Done()
					return errors.New("lost work")
				})
				rep := c.Shutdown(nil)
				synctest.Wait()
				return rep, rec.Codes()
			},
			want: 1,
		},
		{
			name: "task stopping on its context",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				c, _, rec := newTest(t)
				c.Go("worker", func(ctx context.Context) error {
					<-ctx.Done()
					return ctx.Err()
				})
				rep := c.Shutdown(nil)
				synctest.Wait()
				return rep, rec.Codes()
			},
			want: 0,
		},
		{
			name: "graceful SIGTERM",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				exits := newExitCalls()
				c, fake, _ := newTest(t, shutdown.WithExitFunc(exits.exit))
				c.Register("ok", func(context.Context) error { return nil })
				require.Equal(t, 1, fake.Send(syscall.SIGTERM))
				mustRecv(t, c.Done(), "shutdown")
				synctest.Wait() // the exit func, if any, has been called
				return c.Wait(), exits.codes()
			},
			want:  0,
			exits: []int{0},
		},
		{
			name: "all hooks succeed",
			run: func(t *testing.T) (*shutdown.Report, []int) {
				c, _, rec := newTest(t)
				c.Register("a", func(context.Context) error { return nil })
				c.Stage("s").Register("b", func(context.Context) error { return nil })
				rep := c.Shutdown(errors.New("cause"))
				synctest.Wait()
				return rep, rec.Codes()
			},
			want: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// In a bubble, synctest.Wait tells when a call is blocked
			// waiting for the shutdown.
			synctest.Test(t, func(t *testing.T) {
				rep, exits := tc.run(t)
				assert.Equal(t, tc.want, rep.ExitCode())
				assert.Equal(t, tc.exits, exits, "exit func calls")
			})
		})
	}
}

func TestExitRunsHooksThenExitFunc(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		events []string
	)
	event := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	var c *shutdown.Coordinator
	c, _, _ = newTest(t, shutdown.WithExitFunc(func(code int) {
		select {
		case <-c.Done():
			event(fmt.Sprint("exit ", code))
		default:
			event(fmt.Sprint("exit ", code, " before the shutdown completed"))
		}
	}))
	c.Register("a", func(context.Context) error { event("hook a"); return nil })
	c.Stage("s").Register("b", func(context.Context) error { event("hook b"); return nil })

	// The exit func returns (a test), so Exit returns.
	mustReturn(t, "Exit", func() { c.Exit(3) })
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"hook b", "hook a", "exit 3"}, events)
	assert.Equal(t, 3, c.Wait().ExitCode())
}
