package shutdownhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
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
// package documentation gives: idle connections get their grace period,
// then srv.Shutdown stops accepting and the requests in flight are
// answered, and the hook returns as soon as the last connection has
// closed. If the hook's context ends first, it cuts what is left with
// srv.Close and returns the context's error. Give the hook a
// [shutdown.Timeout] of its own so that a slow drain cannot eat the time
// of the hooks after it.
//
// Call Server before srv starts serving: it watches srv's connections
// through srv.ConnState and srv.BaseContext (calling the functions already
// set there), which net/http reads without a lock. Register the hook after
// the task that serves, so that it runs first. A server that began serving
// before Server was called is drained by srv.Shutdown alone, without the
// grace period and at net/http's pace. It panics if srv is nil.
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

// conns follows the connections of one server through ConnState.
type conns struct {
	mu      sync.Mutex
	state   map[net.Conn]connState
	serving bool          // srv.Serve began after watch: the states are complete
	changed chan struct{} // a state changed; capacity 1, never blocks a sender
}

type connState struct {
	st    http.ConnState
	since time.Time
}

// watch installs the ConnState and BaseContext functions that feed conns,
// chaining those already set on srv.
func watch(srv *http.Server) *conns {
	w := &conns{state: map[net.Conn]connState{}, changed: make(chan struct{}, 1)}
	nextState, nextBase := srv.ConnState, srv.BaseContext
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		w.mu.Lock()
		if st == http.StateHijacked || st == http.StateClosed {
			delete(w.state, c)
		} else {
			w.state[c] = connState{st: st, since: time.Now()}
		}
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
		if nextState != nil {
			nextState(c, st)
		}
	}
	srv.BaseContext = func(ln net.Listener) context.Context {
		w.mu.Lock()
		w.serving = true
		w.mu.Unlock()
		if nextBase != nil {
			return nextBase(ln)
		}
		return context.Background()
	}
	return w
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

	// 1. Idle connections get the rest of their grace period, at most
	// grace from now.
	limit := time.Now().Add(grace)
	for {
		wait := time.Until(w.graceEnds(grace, limit))
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

// graceEnds returns when the last idle connection will have been idle for
// grace, no later than limit; a time in the past when none is left to wait
// for.
func (w *conns) graceEnds(grace time.Duration, limit time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var end time.Time
	for _, s := range w.state {
		if s.st == http.StateIdle && s.since.Add(grace).After(end) {
			end = s.since.Add(grace)
		}
	}
	if end.After(limit) {
		return limit
	}
	return end
}

// next waits for a change of state, at most d, or for ctx to end.
func (w *conns) next(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.changed:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (w *conns) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.state)
}
