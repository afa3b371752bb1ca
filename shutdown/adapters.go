package shutdown

import (
	"context"
	"io"
)

// Closer returns a hook that calls cl.Close. Close takes no context: if it
// blocks past the hook's deadline it is abandoned (see [Coordinator.Register]).
// It panics if cl is nil.
func Closer(cl io.Closer) Hook {
	if cl == nil {
		panic("shutdown: Closer: nil io.Closer")
	}
	return func(context.Context) error { return cl.Close() }
}

// Func adapts a function that takes no context and cannot fail into a Hook.
// If f outlives the hook's deadline it is abandoned. It panics if f is nil.
func Func(f func()) Hook {
	if f == nil {
		panic("shutdown: Func: nil function")
	}
	return func(context.Context) error { f(); return nil }
}

// Graceful returns a hook for a server that stops in two ways, such as a
// *grpc.Server: Graceful(srv.GracefulStop, srv.Stop). The hook calls
// graceful, which should stop accepting and wait for the work in flight;
// if the hook's context ends first, it calls hard, which should cut what
// is left, and returns the context's error (the hook is recorded
// TimedOut). Give the hook a [Timeout] of its own, so that a slow drain
// cannot eat the time of the hooks after it.
//
// graceful runs on a goroutine of its own; once hard has been called the
// hook returns without waiting for graceful, which a hard stop usually
// makes return at once. Like any hook, it is left behind when its context
// ends: hard runs at that moment while the shutdown moves on, so the next
// step may start before hard has returned, and if nothing comes after, the
// process may end first. For a server whose hard stop cuts its
// connections, either is harmless: the process's end closes them too. A
// panic in either is recovered and reported. It panics if graceful or hard
// is nil.
func Graceful(graceful, hard func()) Hook {
	if graceful == nil || hard == nil {
		panic("shutdown: Graceful: nil function")
	}
	return func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() { done <- invoke(ctx, Func(graceful)) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			hard()
			return ctx.Err()
		}
	}
}
