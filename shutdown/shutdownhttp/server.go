package shutdownhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

// DefaultIdleGrace is how long a connection must have been idle before the
// [Server] hook closes it, unless [IdleGrace] says otherwise.
const DefaultIdleGrace = time.Second

// An Option configures the [Server] hook.
type Option interface{ apply(*serverConfig) }

type serverConfig struct{ grace time.Duration }

type graceOption time.Duration

func (o graceOption) apply(c *serverConfig) { c.grace = time.Duration(o) }

// IdleGrace sets how long a keep-alive connection must have been idle
// before the [Server] hook closes it; a request that arrives on it before
// then is served (with Connection: close when the handler is wrapped in
// [Drain]). 0 closes idle connections at once, as Server.Shutdown does.
// Defaults to [DefaultIdleGrace]; the time counts from the connection's
// last response, so a drain delay at least this long leaves nothing to
// wait for. It panics if d is negative.
func IdleGrace(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("shutdownhttp: IdleGrace: negative duration %v", d))
	}
	return graceOption(d)
}

// Server returns a hook that drains srv gracefully, in the order the
// package documentation gives: requests on their way and idle connections
// get their grace period, then srv.Shutdown stops accepting and the
// requests in flight are answered, and the hook returns as soon as the
// last connection has closed. If the hook's context ends first, it cuts
// what is left with srv.Close and returns the context's error. Give the
// hook a [shutdown.Timeout] of its own so that a slow drain cannot eat the
// time of the hooks after it. Wrap srv's handler in [Drain]: without
// Connection: close on the responses, a keep-alive client may send its
// next request as the connection closes.
//
// Call Server before srv starts serving: it watches srv's connections
// through srv.ConnState, srv.ConnContext, srv.BaseContext and a wrapper of
// srv.Handler (calling what was set there), which net/http reads without a
// lock. Register the hook after the task that serves, so that it runs
// first. A server that began serving before Server was called is drained
// by srv.Shutdown alone, without the grace period and at net/http's pace.
// It panics if srv is nil.
func Server(srv *http.Server, opts ...Option) shutdown.Hook {
	if srv == nil {
		panic("shutdownhttp: Server: nil server")
	}
	cfg := serverConfig{grace: DefaultIdleGrace}
	for _, o := range opts {
		if o == nil {
			panic("shutdownhttp: Server: nil option")
		}
		o.apply(&cfg)
	}
	w := watch(srv)
	return func(ctx context.Context) error {
		err := w.drain(ctx, srv, cfg.grace)
		if ctx.Err() != nil {
			// The deadline: cut what is left, so that it cannot hold
			// the rest of the shutdown.
			err = errors.Join(ctx.Err(), srv.Close())
		}
		return err
	}
}

// drain runs the three steps of the package documentation and returns
// when srv has no connection left, or when ctx ends.
func (w *conns) drain(ctx context.Context, srv *http.Server, grace time.Duration) error {
	w.mu.Lock()
	serving := w.serving
	w.mu.Unlock()
	if !serving {
		return srv.Shutdown(ctx) // nothing watched: net/http's own drain
	}

	// 1. Wait until Shutdown can lose no request, at most grace from now
	// (see unsafeUntil).
	start := time.Now()
	for {
		wait := time.Until(w.unsafeUntil(start, grace))
		if wait <= 0 {
			break
		}
		if err := w.next(ctx, wait); err != nil {
			return err
		}
	}

	// 2. Stop accepting, close the idle connections, answer the rest.
	shutCtx, stop := context.WithCancel(ctx)
	defer stop()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(shutCtx) }()

	// 3. Return when the last connection has closed. Shutdown, told to stop
	// polling, returns only after the accept loops have ended, so that a
	// connection accepted at the last moment is watched too.
	stopped := false
	for {
		if w.count() == 0 {
			if stopped {
				return nil
			}
			stop()
		}
		select {
		case err := <-shut:
			if err == nil || !errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return err // quiescent, a listener's close error, or the deadline
			}
			stopped, shut = true, nil
		case <-w.changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
