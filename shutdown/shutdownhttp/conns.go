package shutdownhttp

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// conns follows the connections of one server: their state through
// ConnState, and whether a request that arrived on them has reached the
// handler, through a wrapper of the handler. srv.Shutdown drops a request
// that net/http has read but not yet handed to the handler (it checks for
// the shutdown in between), and closes idle connections under requests
// their clients may be sending: the hook calls it only when neither can
// happen, or when it must.
type conns struct {
	mu      sync.Mutex
	state   map[net.Conn]*connState
	serving bool          // srv.Serve began after watch: the states are complete
	changed chan struct{} // a state changed; capacity 1, never blocks a sender
}

type connState struct {
	st      http.ConnState
	since   time.Time
	waiting bool // new, or a request has arrived that has not reached the handler yet
}

type connKey struct{}

// watch installs the ConnState, ConnContext, BaseContext and Handler
// wrappers that feed conns, calling those already set on srv.
func watch(srv *http.Server) *conns {
	w := &conns{state: map[net.Conn]*connState{}, changed: make(chan struct{}, 1)}
	nextState, nextConn, nextBase, next := srv.ConnState, srv.ConnContext, srv.BaseContext, srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		w.set(c, st)
		if nextState != nil {
			nextState(c, st)
		}
	}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if nextConn != nil {
			ctx = nextConn(ctx, c)
		}
		return context.WithValue(ctx, connKey{}, c)
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
	srv.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			w.handled(c)
		}
		next.ServeHTTP(rw, r)
	})
	return w
}

func (w *conns) set(c net.Conn, st http.ConnState) {
	w.mu.Lock()
	switch st {
	case http.StateHijacked, http.StateClosed:
		delete(w.state, c)
	default:
		w.state[c] = &connState{st: st, since: time.Now(), waiting: st != http.StateIdle}
	}
	w.mu.Unlock()
	w.signal()
}

func (w *conns) handled(c net.Conn) {
	w.mu.Lock()
	if s := w.state[c]; s != nil && s.waiting {
		s.waiting = false
		defer w.signal()
	}
	w.mu.Unlock()
}

func (w *conns) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// unsafeUntil returns until when srv.Shutdown could lose a request, never
// later than start+grace; a time in the past means it cannot now:
//   - a new connection, or a request read but not yet in the handler,
//     would be dropped: wait for it to reach the handler;
//   - a request that began before start may be answered without
//     Connection: close, and its client send another on the connection:
//     wait for it to end;
//   - a connection idle for less than grace may be carrying the next
//     request of a client that was just answered: wait for the end of its
//     grace period, or for that request.
func (w *conns) unsafeUntil(start time.Time, grace time.Duration) time.Time {
	limit := start.Add(grace)
	w.mu.Lock()
	defer w.mu.Unlock()
	var until time.Time
	for _, s := range w.state {
		switch {
		case s.waiting, s.st == http.StateActive && s.since.Before(start):
			return limit
		case s.st == http.StateIdle && s.since.Add(grace).After(until):
			until = s.since.Add(grace)
		}
	}
	if until.After(limit) {
		return limit
	}
	return until
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
