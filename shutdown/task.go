package shutdown

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// Go runs fn on a goroutine of its own, now, with [Coordinator.Context],
// and adds a stop step at this point of the LIFO order: when the shutdown
// reaches it, the step waits for fn to return (bounded like any hook) and
// reports fn's outcome under name.
//
// The context fn gets is canceled at the trigger: it tells fn to stop
// taking new work. Work that fn has already taken and must finish (a
// record handed to a producer, a request being answered) must not use it:
// give those calls [Coordinator.InFlight], or a client given fn's context
// fails them at the trigger, before the hooks that flush them have run.
//
// A task that returns an error before the trigger, other than
// context.Canceled and http.ErrServerClosed, triggers the shutdown with that
// error as cause; a task that panics is recovered and does the same with a
// *PanicError. A task that fails after the trigger is recorded as a failed
// stop step. A task that returns nil simply ends.
//
// Go is safe for concurrent use. It panics if name is empty or fn is nil.
func (c *Coordinator) Go(name string, fn func(ctx context.Context) error) {
	if fn == nil {
		panic(fmt.Sprintf("shutdown: Go %q: nil function", name))
	}
	t := &task{done: make(chan struct{})}
	h := c.newHandle("Go", name, nil, t.stop, nil)
	after := c.add(h)
	go runTask(c, h, t, fn)
	if after {
		// The shutdown is over: the stop step runs at once, as a late hook
		// does, and waits for the task started above.
		c.runAfter(h)
	}
}

type task struct {
	done chan struct{}
	err  error // written before done is closed
}

func (t *task) stop(ctx context.Context) error {
	select {
	case <-t.done:
		if failed(t.err) {
			return t.err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runTask is one of the two frames by which insideHook recognises a task's
// goroutine.
//
//go:noinline
func runTask(c *Coordinator, h *Handle, t *task, fn func(context.Context) error) {
	defer func() {
		if v := recover(); v != nil {
			t.err = &PanicError{Value: v, Stack: debug.Stack()}
		}
		close(t.done)
		if failed(t.err) {
			// Logged before the trigger, so that the record of why comes
			// before the record of the shutdown it starts.
			c.logTaskFailed(h.res.Name, t.err)
			c.trigger(t.err)
		}
	}()
	t.err = fn(c.ctx)
	mustPrint(t.err)
}

// failed reports whether a task's result is a failure: context.Canceled is
// how a task says it stopped because it was told to, and
// http.ErrServerClosed is what Serve returns after Shutdown.
func failed(err error) bool {
	if err == nil {
		return false
	}
	if isPanic(err) {
		return true
	}
	return !errors.Is(err, context.Canceled) && !isServerClosed(err)
}

// serverClosed is the text of net/http's ErrServerClosed. The package does
// not import net/http (a program that serves no HTTP should not link it),
// so it recognises that error by its text, anywhere in err's chain. The
// value is part of net/http's API and its text has never changed.
const serverClosed = "http: Server closed"

func isServerClosed(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		for _, err := range e.Unwrap() {
			if isServerClosed(err) {
				return true
			}
		}
		return false
	}
	return err.Error() == serverClosed || isServerClosed(errors.Unwrap(err))
}
