package upgrade

import (
	"net"
	"os"
	"sync"
	"time"
)

// A listener is what Listen returns: the socket, plus the two moments an
// upgrade adds to its life. In a new process it accepts nothing until the
// old one has let it (open, at Ready); in the old process, once the new
// one has taken over, Accept blocks until Close instead of taking
// connections the new process should serve (handed).
//
// Blocking, rather than closing the socket or failing Accept, is what lets
// a server end the way a shutdown ends it: http.Server.Serve returns
// http.ErrServerClosed once Shutdown has closed the listener, where an
// Accept error before that would be a failure of the serve task. Closing
// the descriptor here would not close the socket (the new process holds
// it), but the socket must stay open anyway: its queue of connections not
// yet accepted is what the new process serves first.
type listener struct {
	net.Listener         // the socket: *net.TCPListener or *net.UnixListener
	network, addr string // the key: what Listen was given
	unlink        string // a Unix socket path to remove at a last Close; "" for none

	open   chan struct{} // closed once this process may accept
	closed chan struct{} // closed by the first Close

	mu     sync.Mutex
	handed bool // a new process accepts on this socket from now on
}

// deadliner is what *net.TCPListener and *net.UnixListener have in common
// beyond net.Listener.
type deadliner interface{ SetDeadline(time.Time) error }

func newListener(network, addr string, ln net.Listener, unlink string, open bool) *listener {
	if ul, ok := ln.(*net.UnixListener); ok {
		// The path outlives this process when a new one serves on it;
		// Close removes it only at the end of the last process.
		ul.SetUnlinkOnClose(false)
	}
	l := &listener{
		Listener: ln,
		network:  network,
		addr:     addr,
		unlink:   unlink,
		open:     make(chan struct{}),
		closed:   make(chan struct{}),
	}
	if open {
		close(l.open)
	}
	return l
}

// Accept waits until this process may accept, then accepts. Once the
// socket has been handed over it blocks until Close and returns an error
// wrapping net.ErrClosed, as Accept on a closed listener does.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case <-l.open:
	case <-l.closed:
		return nil, l.errClosed()
	}
	c, err := l.Listener.Accept()
	if err == nil {
		// Accepted before or at the handover: this process serves it.
		return c, nil
	}
	if !l.isHanded() {
		return nil, err
	}
	<-l.closed
	return nil, l.errClosed()
}

// Close closes this process's descriptor. The socket itself closes when
// the last process holding it closes its own. A Unix socket's path is
// removed when this process created it (or inherited it from one that
// did) and has not handed it over.
func (l *listener) Close() error {
	select {
	case <-l.closed:
		return l.errClosed()
	default:
	}
	l.mu.Lock()
	select {
	case <-l.closed:
		l.mu.Unlock()
		return l.errClosed()
	default:
		close(l.closed)
	}
	handed := l.handed
	l.mu.Unlock()
	err := l.Listener.Close()
	if l.unlink != "" && !handed {
		os.Remove(l.unlink)
	}
	return err
}

// start lets Accept take connections.
func (l *listener) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.open:
	default:
		close(l.open)
	}
}

// handOver stops this process from accepting: an Accept in progress
// returns at once (a deadline in the past wakes it without touching the
// socket), and every later one blocks until Close.
func (l *listener) handOver() {
	l.mu.Lock()
	l.handed = true
	l.mu.Unlock()
	if d, ok := l.Listener.(deadliner); ok {
		d.SetDeadline(time.Unix(1, 0))
	}
}

func (l *listener) isHanded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handed
}

func (l *listener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

func (l *listener) errClosed() error {
	return &net.OpError{Op: "accept", Net: l.network, Addr: l.Listener.Addr(), Err: net.ErrClosed}
}
