package shutdownhttp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
	"github.com/lastcall-go/lastcall/signals"
)

// The tests of the Server hook run inside synctest bubbles over in-memory
// connections: time is exact, so "the hook returns as the last connection
// closes" compares two instants, and net/http's polling, which would
// return at its next tick, fails them.

// fixture is a server on a pipe listener with the Server hook installed
// before Serve, and a ConnState of the test's own that the hook must keep
// calling.
type fixture struct {
	ln     *pipeListener
	srv    *http.Server
	hook   shutdown.Hook
	served chan error

	mu     sync.Mutex
	states []connEvent
}

type connEvent struct {
	conn  net.Conn
	state http.ConnState
	at    time.Time
}

func serve(t *testing.T, h http.Handler, opts ...shutdownhttp.Option) *fixture {
	t.Helper()
	f := &fixture{ln: newPipeListener(), served: make(chan error, 1)}
	f.srv = &http.Server{Handler: h, ConnState: f.record}
	f.hook = shutdownhttp.Server(f.srv, opts...)
	go func() { f.served <- f.srv.Serve(f.ln) }()
	t.Cleanup(func() {
		_ = f.srv.Close()
		assert.ErrorIs(t, <-f.served, http.ErrServerClosed)
	})
	return f
}

func (f *fixture) record(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = append(f.states, connEvent{c, st, time.Now()})
}

// closedAt returns when each connection the server closed was closed.
func (f *fixture) closedAt() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var at []time.Time
	for _, e := range f.states {
		if e.state == http.StateClosed {
			at = append(at, e.at)
		}
	}
	return at
}

// drain runs the hook on a goroutine of its own and returns a channel that
// gets its error and the instant it returned.
func (f *fixture) drain(ctx context.Context) <-chan hookEnd {
	end := make(chan hookEnd, 1)
	go func() {
		err := f.hook(ctx)
		end <- hookEnd{err, time.Now()}
	}()
	return end
}

type hookEnd struct {
	err error
	at  time.Time
}

// post sends one POST and returns the response with its body read, and
// whether it went on a connection used before.
func post(t *testing.T, cl *http.Client) (resp *http.Response, body string, reused bool, err error) {
	t.Helper()
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "http://pipe/work", strings.NewReader("job"))
	require.NoError(t, err)
	resp, err = cl.Do(req)
	if err != nil {
		return nil, "", reused, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), reused, err
}

func quietCoordinator(t *testing.T) *shutdown.Coordinator {
	c := shutdown.New(shutdown.WithSignalSource(signals.NewFake()), shutdown.WithLogger(slog.New(slog.DiscardHandler)),
		shutdown.WithExitFunc(func(int) {}))
	t.Cleanup(func() { c.Shutdown(nil) })
	return c
}

func TestServerReturnsAsTheLastConnectionCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := quietCoordinator(t)
		f := serve(t, shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			_, _ = io.WriteString(w, "done")
		})))
		cl, tr := f.ln.client()
		defer tr.CloseIdleConnections()
		results := make(chan string, 3)
		for range 3 {
			go func() {
				_, body, _, err := post(t, cl)
				if err != nil {
					body = err.Error()
				}
				results <- body
			}()
		}
		synctest.Wait() // three requests in their handler

		c.Shutdown(nil)
		end := f.drain(context.Background())
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		require.Empty(t, end, "the hook returned with requests in flight")

		released := time.Now()
		close(release)
		e := <-end
		require.NoError(t, e.err)
		assert.Equal(t, released, e.at,
			"the hook returns as the last connection closes, not at net/http's next poll")
		for range 3 {
			assert.Equal(t, "done", <-results, "every request in flight gets its full response")
		}
		synctest.Wait() // the connections' goroutines report them closed
		assert.Len(t, f.closedAt(), 3)
	})
}

// A keep-alive connection that went idle less than the grace period ago is
// left open for the rest of it: a request its client sends then is served
// (with Connection: close), not lost. One idle for longer is closed at
// once.
func TestServerIdleConnectionGetsItsGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = time.Second
		c := quietCoordinator(t)
		f := serve(t, shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		})), shutdownhttp.IdleGrace(grace))
		stale, staleTr := f.ln.client()
		defer staleTr.CloseIdleConnections()
		recent, recentTr := f.ln.client()
		defer recentTr.CloseIdleConnections()

		_, _, _, err := post(t, stale)
		require.NoError(t, err)
		time.Sleep(3 * time.Second)
		_, _, _, err = post(t, recent)
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)

		c.Shutdown(nil) // Drain now closes connections after their response
		start := time.Now()
		end := f.drain(context.Background())
		synctest.Wait()
		require.Empty(t, f.closedAt(), "no connection is closed while one is in its grace period")

		time.Sleep(400 * time.Millisecond)
		resp, body, reused, err := post(t, recent)
		require.NoError(t, err, "a request on a connection within its grace period is served")
		assert.True(t, reused, "sent on the connection that was idle")
		assert.Equal(t, "ok", body)
		assert.True(t, resp.Close, "with Connection: close")

		e := <-end
		require.NoError(t, e.err)
		then := start.Add(400 * time.Millisecond)
		assert.Equal(t, then, e.at, "the hook returns once that connection has closed")
		synctest.Wait() // the connections' goroutines report them closed
		assert.Equal(t, []time.Time{then, then}, f.closedAt(), "the recent connection after its answer, then the stale one")
	})
}

// An idle connection whose client sends nothing is closed when its grace
// period ends, and not before.
func TestServerIdleConnectionClosedAtTheEndOfItsGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = time.Second
		f := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), shutdownhttp.IdleGrace(grace))
		cl, tr := f.ln.client()
		defer tr.CloseIdleConnections()
		_, _, _, err := post(t, cl)
		require.NoError(t, err)
		idleSince := time.Now()

		time.Sleep(200 * time.Millisecond)
		e := <-f.drain(context.Background())
		require.NoError(t, e.err)
		assert.Equal(t, idleSince.Add(grace), e.at)
		synctest.Wait() // the connection's goroutine reports it closed
		assert.Equal(t, []time.Time{idleSince.Add(grace)}, f.closedAt())
	})
}

// With IdleGrace(0) idle connections are closed at once, as a bare
// Server.Shutdown does.
func TestServerNoGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), shutdownhttp.IdleGrace(0))
		cl, tr := f.ln.client()
		defer tr.CloseIdleConnections()
		_, _, _, err := post(t, cl)
		require.NoError(t, err)

		start := time.Now()
		e := <-f.drain(context.Background())
		require.NoError(t, e.err)
		assert.Equal(t, start, e.at)
	})
}

// A connection that never sends a byte cannot hold the drain past the
// hook's deadline: the hook cuts it and reports the deadline.
func TestServerDeadlineCutsWhatIsLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		silent, err := f.ln.dial(context.Background(), "", "")
		require.NoError(t, err)
		defer silent.Close()
		synctest.Wait() // accepted: a new connection, no request yet

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		e := <-f.drain(ctx)
		require.ErrorIs(t, e.err, context.DeadlineExceeded)
		assert.Equal(t, start.Add(2*time.Second), e.at)
		_, err = silent.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "the silent connection is closed")
	})
}

// A server that began serving before Server was called has its
// connections unwatched: the hook falls back to Server.Shutdown, which
// still drains it.
func TestServerCalledAfterServeFallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		})}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		synctest.Wait() // Serve has begun: it waits for a connection

		// No connection yet, so nothing reads ConnState while Server sets it.
		hook := shutdownhttp.Server(srv)
		cl, tr := ln.client()
		defer tr.CloseIdleConnections()
		_, body, _, err := post(t, cl)
		require.NoError(t, err)
		require.Equal(t, "ok", body)
		start := time.Now()
		require.NoError(t, hook(context.Background()))
		assert.Less(t, time.Since(start), shutdownhttp.DefaultIdleGrace, "no grace period: Shutdown closes the idle connection")
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
	})
}

// The ConnState and BaseContext the server had are still called.
func TestServerKeepsConnStateAndBaseContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		ln := newPipeListener()
		var mu sync.Mutex
		var states []http.ConnState
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, r.Context().Value(key{}).(string))
			}),
			ConnState: func(_ net.Conn, st http.ConnState) {
				mu.Lock()
				defer mu.Unlock()
				states = append(states, st)
			},
			BaseContext: func(net.Listener) context.Context {
				return context.WithValue(context.Background(), key{}, "base")
			},
		}
		hook := shutdownhttp.Server(srv)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		cl, tr := ln.client()
		defer tr.CloseIdleConnections()
		_, body, _, err := post(t, cl)
		require.NoError(t, err)
		assert.Equal(t, "base", body)

		require.NoError(t, hook(context.Background()))
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed}, states)
	})
}

// Keep-alive clients that pause between their POSTs for anything from
// nothing to longer than the grace period lose none of them through a
// drain: each request is served in full, or never sent because its
// client found its connection closed and the listener gone. Each client
// stops at its first Connection: close, as a load balancer that follows
// Readiness stops sending to this server.
func TestServerLosesNoRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := quietCoordinator(t)
		f := serve(t, shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			_, _ = io.WriteString(w, "ok")
		})))
		pauses := []time.Duration{0, 0, time.Millisecond, 3 * time.Millisecond, 50 * time.Millisecond,
			300 * time.Millisecond, 900 * time.Millisecond, 1300 * time.Millisecond, 2100 * time.Millisecond}
		type tally struct{ ok, closed, refused, lost int }
		tallies := make(chan tally, len(pauses))
		for i, pause := range pauses {
			go func() {
				cl, tr := f.ln.client()
				defer tr.CloseIdleConnections()
				var n tally
				defer func() { tallies <- n }()
				for {
					resp, body, _, err := post(t, cl)
					switch {
					case err == nil && body == "ok" && resp.Close:
						n.ok++
						n.closed++
						return
					case err == nil && body == "ok":
						n.ok++
					case errors.Is(err, net.ErrClosed):
						n.refused++
						return
					default:
						n.lost++
						t.Logf("client %d (pause %v): %v %q", i, pause, err, body)
						return
					}
					time.Sleep(pause)
				}
			}()
		}
		time.Sleep(3 * time.Second)
		c.Shutdown(nil)
		e := <-f.drain(context.Background())
		require.NoError(t, e.err)
		var total tally
		for range pauses {
			n := <-tallies
			total.ok, total.closed, total.refused, total.lost = total.ok+n.ok, total.closed+n.closed, total.refused+n.refused, total.lost+n.lost
		}
		t.Logf("served %d, told Connection: close %d, refused after the listener closed %d, lost %d",
			total.ok, total.closed, total.refused, total.lost)
		assert.Zero(t, total.lost)
		assert.Equal(t, len(pauses), total.closed+total.refused+total.lost, "every client ended")
		assert.Positive(t, total.closed, "clients were sending through the drain")
	})
}

func TestServerProgrammingErrors(t *testing.T) {
	assert.PanicsWithValue(t, "shutdownhttp: Server: nil server", func() { shutdownhttp.Server(nil) })
	assert.PanicsWithValue(t, "shutdownhttp: Server: nil option", func() { shutdownhttp.Server(&http.Server{}, nil) })
	assert.PanicsWithValue(t, "shutdownhttp: IdleGrace: negative duration -1s", func() { shutdownhttp.IdleGrace(-time.Second) })
}
