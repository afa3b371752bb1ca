package shutdownhttp_test

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// pipeListener is a net.Listener of in-memory connections (net.Pipe), so
// that a server and its clients can run inside a synctest bubble, where
// time is exact: "the hook returned as the last connection closed" is then
// a comparison of two instants, not a bet on a margin.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects a client to the listener; it fails once the listener is
// closed, as a refused connection does.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, errRefused
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// client returns an HTTP client that dials the listener; its idle
// connections are closed when the caller is done with it.
func (l *pipeListener) client() (*http.Client, *http.Transport) {
	tr := &http.Transport{DialContext: l.dial}
	return &http.Client{Transport: tr}, tr
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

var errRefused = &net.OpError{Op: "dial", Net: "pipe", Err: net.ErrClosed}
