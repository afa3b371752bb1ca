package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

var (
	// ErrNotSupported is returned by [New] where an upgrade cannot work:
	// anywhere but Linux and macOS.
	ErrNotSupported = errors.New("upgrade: not supported on this system")

	// ErrUpgraded is the cause of the shutdown of a process that a new
	// one has taken over from. Its type has a method Drained() bool that
	// returns true, which tells the coordinator to skip its drain delay:
	// the listening socket never stopped accepting, there is no load
	// balancer to wait for.
	ErrUpgraded error = upgradedError{}

	// ErrNotReady refuses an upgrade of a process that has not called
	// [Upgrader.Ready]: it does not serve yet, so there is nothing to hand
	// over, and a process that is itself the new process of an upgrade
	// must first finish taking over.
	ErrNotReady = errors.New("upgrade: refused: this process is not ready yet")

	// ErrInProgress refuses an upgrade while another one runs.
	ErrInProgress = errors.New("upgrade: refused: an upgrade is in progress")

	// ErrStopping refuses an upgrade once the coordinator's shutdown has
	// begun (a signal, a new process that took over), and is the cause of
	// an upgrade cut short by it.
	ErrStopping = errors.New("upgrade: refused: this process is shutting down")
)

type upgradedError struct{}

func (upgradedError) Error() string { return "upgrade: a new process took over" }

// Drained reports true: see [ErrUpgraded].
func (upgradedError) Drained() bool { return true }

// An Upgrader hands this process's listening sockets to a new process of
// the same binary and, once the new one serves, shuts this one down
// through its coordinator. Create it with [New] before opening listeners,
// open them with [Upgrader.Listen], and call [Upgrader.Ready] once the
// program serves. Its methods are safe for concurrent use.
//
// An Upgrader owns two goroutines from New until its coordinator's
// shutdown completes: a task of the coordinator (named "upgrade" in the
// report) and, unless [WithUpgradeSignal](nil), the one that listens for
// the upgrade signal.
type Upgrader struct {
	c      *shutdown.Coordinator
	cfg    config
	exe    string // the binary a new process runs: see executable
	dir    string // the working directory at New: a new process starts there
	pid    int
	parent *link // the handshake with the process that started this one; nil in a first process

	handed chan struct{} // closed when a new process has taken over
	wg     sync.WaitGroup

	mu     sync.Mutex
	state  state
	pool   []inherited // sockets inherited and not yet taken by Listen
	lns    []*listener // the listeners Listen returned, in order; closed ones pruned
	killed int         // the new process of the last failed upgrade, 0 if none

	readyOnce sync.Once // one handshake, however many callers of Ready
	readyErr  error     // its result
}

// state is where an Upgrader is in its life. It changes under
// Upgrader.mu, and only forward except from upgrading back to serving
// when an upgrade fails.
type state int32

const (
	starting  state = iota // New has returned; Ready has not succeeded
	serving                // this process serves: Upgrade may start
	upgrading              // an upgrade runs
	stopping               // the coordinator's shutdown began, or a new process took over
)

var stateNames = [...]string{"starting", "serving", "upgrading", "stopping"}

func (s state) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// An inherited socket, not yet taken by Listen.
type inherited struct {
	network, addr string // from an upgrade: the Listen call that opened it
	name          string // from socket activation: LISTEN_FDNAMES
	ln            net.Listener
	unlink        string
	activated     bool // given by systemd, not by an upgrade
}

// active is the Upgrader of this process, until its coordinator's shutdown
// completes: there is one set of inherited descriptors, one upgrade signal
// and one PID file.
var (
	activeMu sync.Mutex
	active   *Upgrader
)

// New returns an Upgrader that hands the listeners of c's program to a
// new process on each upgrade signal, or when the program calls
// [Upgrader.Upgrade]. If this process was started by an upgrade, New takes
// the sockets its parent handed over (keyed by the Listen call that opened
// them); otherwise it takes those of systemd socket activation, if any.
// Call New once, early, before opening listeners: from then on the upgrade
// signal starts an upgrade (refused until Ready) instead of ending the
// process, which is that signal's default action.
//
// New returns [ErrNotSupported] anywhere but Linux and macOS, an error if
// another Upgrader is active (until its coordinator's shutdown completes),
// and an error if the sockets handed to this process cannot be taken. It
// panics if c is nil or an option is nil.
func New(c *shutdown.Coordinator, opts ...Option) (*Upgrader, error) {
	if c == nil {
		panic("upgrade: New: nil coordinator")
	}
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			panic("upgrade: New: nil option")
		}
		o.apply(&cfg)
	}
	if !supported {
		return nil, ErrNotSupported
	}
	u := &Upgrader{c: c, cfg: cfg, pid: os.Getpid(), handed: make(chan struct{})}

	activeMu.Lock()
	defer activeMu.Unlock()
	if active != nil {
		select {
		case <-active.c.Done():
		default:
			return nil, errors.New("upgrade: New: an Upgrader is already active in this process")
		}
	}

	var err error
	if u.exe, err = executable(); err != nil {
		return nil, fmt.Errorf("upgrade: New: the binary to run: %w", err)
	}
	if u.dir, err = os.Getwd(); err != nil {
		return nil, fmt.Errorf("upgrade: New: %w", err)
	}
	if u.cfg.pidfile != "" && !filepath.IsAbs(u.cfg.pidfile) {
		u.cfg.pidfile = filepath.Join(u.dir, u.cfg.pidfile)
	}
	if err := u.inherit(); err != nil {
		u.dropInherited()
		return nil, err
	}
	active = u

	c.Go("upgrade", u.task)
	if cfg.signal != nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, cfg.signal)
		go u.listen(ch)
	}
	return u, nil
}

// Listen returns a listener for network and address: the socket that a
// parent process opened with the same arguments, if this process was
// started by an upgrade; else a socket of systemd socket activation (see
// the package documentation for which); else a new one. The network must
// be "tcp", "tcp4", "tcp6", "unix" or "unixpacket".
//
// In a process started by an upgrade, the listener accepts nothing until
// Ready has returned: the parent serves until then. The listener is not a
// *net.TCPListener; closing it closes this process's descriptor only.
//
// Listen is safe to call from any goroutine, at any time; listeners
// opened after Ready are handed over by later upgrades too. Calling it
// twice with the same arguments gives two sockets, and an upgrade hands
// each to the matching call of the new process, in order.
func (u *Upgrader) Listen(network, addr string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix", "unixpacket":
	default:
		return nil, fmt.Errorf("upgrade: Listen: network %q: want tcp, tcp4, tcp6, unix or unixpacket", network)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	in, ok := u.take(network, addr)
	if !ok {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		in = inherited{ln: ln}
		if network != "tcp" && network != "tcp4" && network != "tcp6" && isPath(addr) {
			in.unlink = addr
		}
	}
	open := u.parent == nil || u.state != starting
	l := newListener(network, addr, in.ln, in.unlink, open)
	u.lns = append(slices.DeleteFunc(u.lns, (*listener).isClosed), l)
	return l, nil
}

// Ready says that this process serves. In a process started by an
// upgrade it completes the handshake with the parent: once Ready returns
// nil, the parent stops accepting and shuts down through its
// coordinator with cause [ErrUpgraded], and this process's listeners
// accept. In every process it writes the PID file ([WithPIDFile]), tells
// systemd READY=1 and MAINPID (when NOTIFY_SOCKET is set), and closes the
// inherited sockets that no Listen call took. From then on, an upgrade
// may start.
//
// If Ready returns an error the process must not serve: exit. In a
// process started by an upgrade the parent keeps serving, and the error
// says why the handover did not happen. Once the coordinator's shutdown
// has begun (SIGTERM during a slow start), Ready writes nothing and
// returns an error wrapping [ErrStopping]: the shutdown runs on. Ready is
// meant to be called once; later calls return the first call's result.
func (u *Upgrader) Ready() error {
	u.readyOnce.Do(func() { u.readyErr = u.becomeReady() })
	return u.readyErr
}

// becomeReady is the one run of Ready.
func (u *Upgrader) becomeReady() error {
	if err := u.ready(); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state == starting {
		u.state = serving
	}
	for _, l := range u.lns {
		l.start()
	}
	for _, in := range u.pool {
		in.ln.Close()
	}
	u.pool = nil
	return nil
}

// Upgrade starts a new process of the binary found now at the path this
// one was started from (see the package documentation), with this
// process's listening sockets, and waits until it is ready. It returns nil
// once the new process serves: this process has stopped accepting, and
// its coordinator shuts down with cause [ErrUpgraded], running the same
// hooks, under the same deadlines, as on SIGTERM, without the drain
// delay.
//
// Otherwise it returns an error saying why, and this process keeps
// serving: [ErrNotReady], [ErrInProgress] or [ErrStopping] when the
// upgrade is refused at once; a failure to start the binary; or a new
// process that exited, closed its end of the handshake, sent garbage on
// it, said it failed, or was not ready within the ready timeout, in which
// case it was killed and reaped before Upgrade returns. A shutdown that
// begins during an upgrade ends it the same way. Upgrade logs its start
// and its outcome; the caller need not log the error again.
//
// Upgrade is safe to call from any goroutine; one upgrade runs at a time,
// and a call while one runs is refused, never queued.
func (u *Upgrader) Upgrade() error {
	if err := u.begin(); err != nil {
		u.logger().Warn("upgrade: refused", "err", err)
		return err
	}
	defer u.wg.Done()
	start := time.Now()
	u.logger().Info("upgrade: starting", "binary", u.exe)
	pid, err := u.upgrade(start)
	if err != nil {
		u.logger().Error("upgrade: failed", "err", err, "elapsed", time.Since(start))
		return err
	}
	u.logger().Info("upgrade: done", "new_pid", pid, "elapsed", time.Since(start))
	return nil
}

// begin moves to upgrading, or says why not.
func (u *Upgrader) begin() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.c.Context().Err() != nil {
		u.state = stopping
	}
	switch u.state {
	case starting:
		return ErrNotReady
	case upgrading:
		return ErrInProgress
	case stopping:
		return ErrStopping
	}
	u.state = upgrading
	u.wg.Add(1)
	return nil
}

// task is the Upgrader's task of the coordinator. It triggers the
// shutdown when a new process has taken over: from a task, Shutdown does
// not wait for the shutdown it starts, so this goroutine does not take
// over the end of the process from the program's own Wait. At the
// trigger, whatever its cause, it stops upgrades and waits for one in
// progress to end (its new process killed and reaped).
func (u *Upgrader) task(ctx context.Context) error {
	select {
	case <-u.handed:
		u.c.Shutdown(ErrUpgraded)
	case <-ctx.Done():
	}
	// Under the lock, so that every begin either came first (its wg.Add
	// before the Wait) or sees the context ended and refuses. An upgrade
	// in progress ends on the context, its new process killed.
	u.mu.Lock()
	u.state = stopping
	u.mu.Unlock()
	u.wg.Wait()
	select {
	case <-u.handed:
	default:
		// The service stops: a PID file naming this process would name
		// a process that is gone.
		u.removePID()
	}
	return nil
}

// listen starts an upgrade on each signal, until the shutdown completes.
func (u *Upgrader) listen(ch chan os.Signal) {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer signal.Stop(ch)
	for {
		select {
		case <-ch:
			wg.Go(func() { u.Upgrade() })
		case <-u.c.Done():
			return
		}
	}
}

func (u *Upgrader) logger() *slog.Logger {
	if u.cfg.logger != nil {
		return u.cfg.logger
	}
	return slog.Default()
}
