package shutdown

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Go runs fn on a goroutine of its own, now, with [Coordinator.Context],
// and adds a stop step at this point of the LIFO order: when the shutdown
// reaches it, the step waits for fn to return (bounded like any hook) and
// reports fn's outcome under name.
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
	after := c.add(h, nil)
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
			c.logger().LogAttrs(context.Background(), slog.LevelError, "shutdown: task failed",
				slog.String("task", h.name), slog.String("error", t.err.Error()))
			c.trigger(t.err)
		}
	}()
	t.err = fn(c.ctx)
}

// failed reports whether a task's result is a failure: context.Canceled is
// how a task says it stopped because it was told to, and
// http.ErrServerClosed is what ListenAndServe returns after Shutdown.
func failed(err error) bool {
	if err == nil {
		return false
	}
	if isPanic(err) {
		return true
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed)
}
