package shutdown

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// HTTPServer returns a hook that shuts srv down gracefully: srv.Shutdown
// closes the listeners, then waits for active requests to finish and idle
// connections to close. If the hook's context ends first, it falls back to
// srv.Close, which cuts the remaining connections, so a stuck or silent
// connection cannot hold the shutdown; the hook then returns the context's
// error and is recorded TimedOut. Give the hook a [Timeout] of its own so
// that a slow drain cannot eat the time of the hooks after it.
//
// As with Server.Shutdown, hijacked connections (WebSockets) are not
// tracked; close them in a hook of their own. It panics if srv is nil.
func HTTPServer(srv *http.Server) Hook {
	if srv == nil {
		panic("shutdown: HTTPServer: nil server")
	}
	return func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if err != nil && ctx.Err() != nil {
			if cerr := srv.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
		return err
	}
}

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
