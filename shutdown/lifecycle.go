package shutdown

import (
	"context"
	"errors"
	"time"

	"github.com/lastcall-go/lastcall/signals"
)

// The calls that trigger a shutdown, wait for it, and watch it: what a
// program does with a Coordinator once its hooks are registered.

// Context returns a context that is canceled when the shutdown is
// triggered, with the cause (see [Report.Cause]) available through
// context.Cause. It means "stop taking new work": derive the loops that
// accept work from it. Work already taken must not be canceled by it; give
// that [Coordinator.InFlight]. It is the same context on every call, from
// any goroutine.
func (c *Coordinator) Context() context.Context { return c.ctx }

// InFlight returns a context for work already taken: it is not canceled at
// the trigger, only when the shutdown ends: at its deadline (its cause then
// context.DeadlineExceeded), on a forced exit, or when its last hook is
// done (context.Canceled). Give it to the calls that finish, send or flush
// work in flight, such as a producer's Produce: a client given
// [Coordinator.Context] fails its buffered work at the trigger, and a
// flush after that may report success with the work gone. It is the same
// context on every call, from any goroutine.
func (c *Coordinator) InFlight() context.Context { return c.flight }

// Done returns a channel that is closed when the shutdown has completed and
// its report is final. It is the same channel on every call, safe to use
// from any goroutine.
func (c *Coordinator) Done() <-chan struct{} { return c.doneCh }

// Shutdown triggers the shutdown with cause, unless it was already
// triggered, and waits for it to complete. It is safe to call from many
// goroutines, any number of times; every call returns the same *Report,
// and every hook runs at most once.
//
// Called from inside a hook or a task of the shutdown in progress, Shutdown
// does not wait for the shutdown it is part of: it returns the report at
// once, still being written; read it only after [Coordinator.Done] is
// closed.
//
// To run the hooks when main ends normally, the way atexit handlers run,
// defer it: defer c.Shutdown(nil).
func (c *Coordinator) Shutdown(cause error) *Report {
	nowait := c.enter()
	c.trigger(cause)
	if !nowait {
		<-c.doneCh
	}
	return c.report
}

// Wait waits for the shutdown to be triggered (by a signal, Shutdown, Exit
// or a failing task) and to complete, and returns its report. Called from
// inside a hook or task, it returns as soon as the shutdown is triggered,
// as Shutdown does.
//
// A goroutine blocked in Wait, Shutdown or Exit when the shutdown completes
// owns the end of the process; when there is none, the coordinator ends the
// process itself through the exit func with [Report.ExitCode], the way the
// signal would have ended it, but after the hooks.
func (c *Coordinator) Wait() *Report {
	nowait := c.enter()
	<-c.trigCh
	if !nowait {
		<-c.doneCh
	}
	return c.report
}

// enter is called first by every call that may wait for the shutdown. It
// reports whether the caller must not wait, because it runs inside a hook
// or task; otherwise it counts the caller as a waiter before any trigger
// the caller causes, so that the shutdown cannot complete unseen between
// the two.
func (c *Coordinator) enter() (nowait bool) {
	select {
	case <-c.doneCh:
		return false
	default:
	}
	if insideHook() {
		return true
	}
	c.mu.Lock()
	c.waiters++
	c.mu.Unlock()
	return false
}

// Exit runs the shutdown with an *ExitError cause, unless it was already
// triggered, waits for it, and then calls the exit func (os.Exit by
// default) with the code: the counterpart of Python's sys.exit. The first
// code given to Exit is the report's exit code, unless a second signal
// forced the exit. Exit returns only if the exit func does.
//
// Called from inside a hook or a task of the shutdown in progress, Exit
// records the code and returns at once; the exit func runs when the
// shutdown completes.
func (c *Coordinator) Exit(code int) {
	nowait := c.enter()
	c.mu.Lock()
	if c.phase != finished {
		if !c.report.hasExit {
			c.report.hasExit, c.report.exitCode = true, code
		}
		c.exitInHook = c.exitInHook || nowait
	} else {
		nowait = false // finished: nothing left to wait for
	}
	c.mu.Unlock()
	c.trigger(&ExitError{Code: code})
	if nowait {
		return
	}
	<-c.doneCh
	if r := c.report; r.Forced || r.hasExit {
		code = r.ExitCode()
	}
	c.cfg.exit(code)
}

// trigger starts the shutdown with cause; it reports false if it had
// already started.
func (c *Coordinator) trigger(cause error) bool {
	c.mu.Lock()
	if c.phase != idle {
		c.mu.Unlock()
		return false
	}
	c.phase = stopping
	c.start = time.Now()
	c.deadline = c.start.Add(c.cfg.timeout)
	c.report.Cause = cause
	var d interface{ Drained() bool }
	c.drained = errors.As(cause, &d) && d.Drained()
	c.mu.Unlock()

	if c.cfg.source == signals.OS {
		protectStdio()
	}
	c.cancel(cause) // nil: context.Cause reports context.Canceled
	close(c.trigCh)
	return true
}

// watch is the coordinator's goroutine: it waits for the first trigger,
// then runs the shutdown.
func (c *Coordinator) watch() {
	select {
	case sig := <-c.sigCh:
		c.trigger(signalError(sig)) // false if a call won the race: the signal joins it
		c.signaled = true
	case <-c.trigCh:
	}
	c.run()
}
