//go:build linux || darwin

package upgrade

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/internal/fdpass"
)

// accepted runs Accept on a goroutine; the channel gets its result.
func accepted(l net.Listener) <-chan error {
	ch := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			c.Close()
		}
		ch <- err
	}()
	return ch
}

// socketAccepts is a TCP listener that tells of each return of its
// Accept, so that a test knows when an Accept in progress has let go of
// the socket.
type socketAccepts struct {
	*net.TCPListener
	returned chan error
}

func (s socketAccepts) Accept() (net.Conn, error) {
	c, err := s.TCPListener.Accept()
	s.returned <- err
	return c, err
}

// TestListenerHandOver: after the handover, an Accept in progress and
// every later one wait for Close, which they report as net.ErrClosed; so
// http.Server.Serve ends with ErrServerClosed after Shutdown, the way a
// shutdown without upgrade ends it. A connection that arrives after the
// handover, once the Accept in progress has let go of the socket, stays in
// the socket's queue for the process that accepts next. (One that arrives
// at the very moment of the handover may still be taken, and served, by
// the Accept that the handover wakes: the instant both processes accept.)
func TestListenerHandOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	inner := socketAccepts{ln.(*net.TCPListener), make(chan error, 16)}
	l := newListener("tcp", "127.0.0.1:0", inner, "", true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "old") })}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	url := "http://" + inner.Addr().String()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: wait}
	resp, err := hc.Get(url)
	require.NoError(t, err)
	resp.Body.Close()

	// The new process's copy of the socket, as an upgrade makes it.
	f, err := fdpass.Dup(inner, "copy")
	require.NoError(t, err)
	theirs, err := net.FileListener(f)
	f.Close()
	require.NoError(t, err)
	defer theirs.Close()

	l.handOver()
	for err := range inner.returned {
		if err != nil {
			break // Serve's Accept has let go of the socket
		}
	}
	conn, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err, "the socket still accepts into its queue")
	defer conn.Close()
	got, err := theirs.Accept()
	require.NoError(t, err, "the connection waited for the new process")
	got.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
	assert.ErrorIs(t, <-accepted(l), net.ErrClosed)
	assert.ErrorIs(t, l.Close(), net.ErrClosed, "a second Close says closed")
}

// TestListenerGate: a listener of a new process accepts nothing before
// start (Ready); Close before then ends a waiting Accept.
func TestListenerGate(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := newListener("tcp", "127.0.0.1:0", inner, "", false)
	conn, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	ch := accepted(l)
	select {
	case err := <-ch:
		t.Fatalf("Accept returned before start: %v", err)
	case <-time.After(50 * time.Millisecond): // a check of absence, not a synchronisation
	}
	l.start()
	assert.NoError(t, <-ch)
	l.start() // twice is harmless

	inner2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l2 := newListener("tcp", "127.0.0.1:0", inner2, "", false)
	ch = accepted(l2)
	require.NoError(t, l2.Close())
	assert.ErrorIs(t, <-ch, net.ErrClosed)
}

// TestListenerUnlink: a Unix socket's path goes at the last process's
// Close, and stays when a new process serves on it.
func TestListenerUnlink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	inner, err := net.Listen("unix", path)
	require.NoError(t, err)
	l := newListener("unix", path, inner, path, true)
	l.handOver()
	require.NoError(t, l.Close())
	_, err = os.Stat(path)
	assert.NoError(t, err, "handed over: the path stays")

	require.NoError(t, os.Remove(path))
	inner, err = net.Listen("unix", path)
	require.NoError(t, err)
	l = newListener("unix", path, inner, path, true)
	require.NoError(t, l.Close())
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the last process removes the path")
}

// TestListenUnix: Listen records the path of a Unix socket it creates
// for removal, and Close removes it.
func TestListenUnix(t *testing.T) {
	s := serveHere(t, true)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := s.u.Listen("unix", path)
	require.NoError(t, err)
	assert.Equal(t, path, ln.(*listener).unlink)
	require.NoError(t, ln.Close())
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestTake: which inherited socket a Listen call gets.
func TestTake(t *testing.T) {
	listen := func(network, addr string) net.Listener {
		ln, err := net.Listen(network, addr)
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	upg := listen("tcp", "127.0.0.1:0")
	any := listen("tcp", ":0")
	named := listen("tcp", "127.0.0.1:0")
	bound := listen("tcp", "127.0.0.1:0")
	unix := listen("unix", filepath.Join(t.TempDir(), "s"))
	u := &Upgrader{pool: []inherited{
		{ln: unix, name: "unknown", activated: true},
		{ln: any, name: "unknown", activated: true},
		{ln: named, name: "admin", activated: true},
		{ln: bound, name: "unknown", activated: true},
		{network: "tcp", addr: "127.0.0.1:0", ln: upg},
	}}
	take := func(network, addr string) net.Listener {
		in, ok := u.take(network, addr)
		if !ok {
			return nil
		}
		return in.ln
	}
	assert.Equal(t, upg, take("tcp", "127.0.0.1:0"), "an upgrade's socket, by the Listen call that opened it")
	assert.Equal(t, bound, take("tcp", bound.Addr().String()), "socket activation: the same address")
	assert.Equal(t, any, take("tcp4", ":"+portOf(any)), "socket activation: an unspecified address")
	assert.Equal(t, named, take("tcp", "admin"), "socket activation: the name")
	assert.Nil(t, take("tcp", "127.0.0.1:1"), "no TCP socket left")
	assert.Equal(t, unix, take("unix", "/elsewhere"), "socket activation: the first of its kind")
	assert.Empty(t, u.pool)
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
