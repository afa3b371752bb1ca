//go:build linux || darwin

package upgrade

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// A served process of the tests: this test process, with a coordinator,
// an Upgrader, and one listener answering "pid N".
type served struct {
	c       *shutdown.Coordinator
	u       *Upgrader
	addr    string
	pidfile string
	rec     *records
	serve   chan error // the serve task's result
}

// serveHere makes this test process a served process. Ready is called
// unless ready is false. The coordinator listens to no signal; the test's
// cleanup shuts it down.
func serveHere(t *testing.T, ready bool, opts ...Option) *served {
	t.Helper()
	s := &served{
		c:       shutdown.New(shutdown.WithSignals(), shutdown.WithExitFunc(func(int) {}), shutdown.WithLogger(slog.New(slog.DiscardHandler))),
		pidfile: filepath.Join(t.TempDir(), "pid"),
		rec:     newRecords(),
		serve:   make(chan error, 1),
	}
	t.Cleanup(func() { s.c.Shutdown(nil) })
	opts = append([]Option{WithUpgradeSignal(nil), WithPIDFile(s.pidfile), WithLogger(slog.New(s.rec)),
		WithReadyTimeout(10 * time.Second)}, opts...)
	u, err := New(s.c, opts...)
	require.NoError(t, err)
	s.u = u
	const addr = "127.0.0.1:0" // the new process asks for the same
	t.Setenv(envAddr, addr)
	t.Setenv(envPIDFile, s.pidfile)
	ln, err := u.Listen("tcp", addr)
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	s.c.Go("serve", func(context.Context) error {
		err := serveIdentity(ln)
		s.serve <- err
		return err
	})
	s.c.Register("listener", shutdown.Closer(ln)) // runs before the serve task's stop step
	if ready {
		require.NoError(t, u.Ready())
	}
	return s
}

func (s *served) pidInFile(t *testing.T) int {
	t.Helper()
	pid, err := readPIDFile(s.pidfile)
	require.NoError(t, err)
	return pid
}

// stopProcess sends SIGTERM to a process this one started and released,
// reaps it, and returns its wait status.
func stopProcess(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	done := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		done <- ws
	}()
	select {
	case ws := <-done:
		return ws
	case <-time.After(wait):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("process %d still running %v after SIGTERM", pid, wait)
		return <-done
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	dir := "/proc/self/fd"
	if runtime.GOOS == "darwin" {
		dir = "/dev/fd"
	}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	return len(ents)
}

// TestUpgrade: the new process takes the socket (the same port, asked
// for as 127.0.0.1:0 by both), serves on it once Ready has returned, and
// names itself in the PID file; the old one's coordinator shuts down with
// cause ErrUpgraded and exit code 0, its serve task ending without error.
func TestUpgrade(t *testing.T) {
	s := serveHere(t, true)
	require.Equal(t, os.Getpid(), whoServes(t, s.addr))
	require.Equal(t, os.Getpid(), s.pidInFile(t))

	t.Setenv(envChild, "serve")
	require.NoError(t, s.u.Upgrade())
	pid := s.pidInFile(t)
	require.NotEqual(t, os.Getpid(), pid, "the PID file names the new process")
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stopProcess(t, pid)
		}
	})

	rep := s.c.Wait()
	assert.ErrorIs(t, rep.Cause, ErrUpgraded)
	assert.Equal(t, 0, rep.ExitCode(), "%v", rep.Err())
	assert.NoError(t, <-s.serve, "Accept blocked until Close, then said closed")
	for range 5 {
		assert.Equal(t, pid, whoServes(t, s.addr), "the new process serves on the same socket")
	}
	s.rec.waitFor(t, "upgrade: done new_pid="+strconv.Itoa(pid))
	assert.ErrorIs(t, s.u.Upgrade(), ErrStopping, "no second upgrade from a process that handed over")

	ws := stopProcess(t, pid)
	stopped = true
	assert.True(t, ws.Exited() && ws.ExitStatus() == 0, "new process: %v", ws)
	_, err := os.Stat(s.pidfile)
	assert.ErrorIs(t, err, os.ErrNotExist, "the last process removes the PID file at its end")
}

// TestUpgradeFails: a new process that exits, hangs, breaks the
// handshake, fails its Ready, or a binary that is gone: Upgrade says why,
// the new process has been killed and reaped, this process serves on and
// the PID file names it, no descriptor leaks, and the next upgrade works.
func TestUpgradeFails(t *testing.T) {
	// The ready timeout bounds, in every case but hang, the start of a
	// -race test binary until its first word on the handshake: wide, for
	// a busy machine.
	s := serveHere(t, true, WithReadyTimeout(5*time.Second))
	exe := s.u.exe
	fds := openFDs(t)
	for _, tc := range []struct {
		mode, want string
	}{
		{"exit1", "exited with status 1 before it was ready"},
		{"hang", "was not ready within the ready timeout (5s); killed"},
		{"garbage", `broke the handshake: not a handshake message: "hello?"; killed`},
		{"close", "closed its end of the handshake before it was ready; killed"},
		{"fail-ready", "could not get ready: upgrade: PID file: "},
		{"gone", "upgrade: start the new process: fork/exec "},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s.u.exe = exe
			if tc.mode == "gone" {
				s.u.exe = filepath.Join(t.TempDir(), "gone")
			}
			t.Setenv(envChild, tc.mode)
			err := s.u.Upgrade()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, s.rec.waitFor(t, "upgrade: failed"), tc.want, "logged at error level")
			s.rec.lines = nil
			if pid := s.u.killed; pid != 0 {
				assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "new process %d reaped", pid)
			}
			assert.Equal(t, os.Getpid(), whoServes(t, s.addr), "this process serves on")
			assert.Equal(t, os.Getpid(), s.pidInFile(t))
			assert.Equal(t, serving, s.u.state)
		})
	}
	s.u.exe = exe
	assert.Equal(t, fds, openFDs(t), "descriptors open before and after the failed upgrades")

	t.Setenv(envChild, "serve")
	require.NoError(t, s.u.Upgrade(), "the next upgrade, with a good binary, works")
	pid := s.pidInFile(t)
	assert.Equal(t, pid, whoServes(t, s.addr))
	ws := stopProcess(t, pid)
	assert.True(t, ws.Exited() && ws.ExitStatus() == 0, "new process: %v", ws)
}

// TestRefused: an upgrade before Ready, during another one, or once the
// shutdown has begun is refused at once, and logged; a shutdown during an
// upgrade ends it (the new process killed and reaped) without waiting for
// the ready timeout.
func TestRefused(t *testing.T) {
	s := serveHere(t, false, WithReadyTimeout(time.Hour))
	assert.ErrorIs(t, s.u.Upgrade(), ErrNotReady)
	assert.Contains(t, s.rec.waitFor(t, "upgrade: refused"), "not ready")
	require.NoError(t, s.u.Ready())

	t.Setenv(envChild, "hang")
	first := make(chan error, 1)
	go func() { first <- s.u.Upgrade() }()
	s.rec.waitFor(t, "upgrade: new process started")
	assert.ErrorIs(t, s.u.Upgrade(), ErrInProgress)

	stopped := make(chan *shutdown.Report, 1)
	go func() { stopped <- s.c.Shutdown(errors.New("stop")) }()
	select {
	case err := <-first:
		assert.ErrorIs(t, err, ErrStopping)
		assert.Contains(t, err.Error(), "killed")
	case <-time.After(wait):
		t.Fatal("the upgrade in progress did not end at the shutdown")
	}
	select {
	case rep := <-stopped:
		assert.Equal(t, 0, rep.ExitCode(), "%v", rep.Err())
	case <-time.After(wait):
		t.Fatal("the shutdown did not complete")
	}
	assert.ErrorIs(t, syscall.Kill(s.u.killed, 0), syscall.ESRCH, "new process reaped")
	assert.ErrorIs(t, s.u.Upgrade(), ErrStopping)
	_, err := os.Stat(s.pidfile)
	assert.ErrorIs(t, err, os.ErrNotExist, "the PID file goes with the service")
}

// TestNewOnce: one Upgrader per process at a time: the sockets handed to
// a process, the upgrade signal and the PID file are the process's.
func TestNewOnce(t *testing.T) {
	s := serveHere(t, true)
	c := shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	defer c.Shutdown(nil)
	_, err := New(c, WithUpgradeSignal(nil))
	assert.ErrorContains(t, err, "already active")
	s.c.Shutdown(nil)
	u, err := New(c, WithUpgradeSignal(nil))
	require.NoError(t, err)
	assert.NotNil(t, u)
}

// TestInheritGarbage: a LASTCALL_UPGRADE for another process's upgrade is
// ignored with a record; one that cannot be read fails New; either way it
// is unset, so that no child of this process sees it.
func TestInheritGarbage(t *testing.T) {
	rec := newRecords()
	t.Setenv(envUpgrade, `{"ppid":1,"listeners":[{"network":"tcp","addr":":80"}]}`)
	c := shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	u, err := New(c, WithUpgradeSignal(nil), WithLogger(slog.New(rec)))
	require.NoError(t, err)
	assert.Nil(t, u.parent)
	assert.Empty(t, u.pool)
	rec.waitFor(t, "another process's upgrade: ignored")
	_, set := os.LookupEnv(envUpgrade)
	assert.False(t, set)
	c.Shutdown(nil)

	t.Setenv(envUpgrade, `{"ppid":`)
	c = shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	defer c.Shutdown(nil)
	_, err = New(c, WithUpgradeSignal(nil))
	assert.ErrorContains(t, err, envUpgrade)
	_, set = os.LookupEnv(envUpgrade)
	assert.False(t, set)
}

// TestErrUpgraded: the cause says the service is drained, so the
// coordinator skips its drain delay.
func TestErrUpgraded(t *testing.T) {
	var d interface{ Drained() bool }
	require.ErrorAs(t, ErrUpgraded, &d)
	assert.True(t, d.Drained())
	assert.ErrorIs(t, errors.Join(errors.New("x"), ErrUpgraded), ErrUpgraded)

	c := shutdown.New(shutdown.WithSignals(), shutdown.WithDrainDelay(time.Hour), shutdown.WithTimeout(2*time.Hour),
		shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	done := make(chan *shutdown.Report, 1)
	go func() { done <- c.Shutdown(ErrUpgraded) }()
	select {
	case rep := <-done:
		assert.ErrorIs(t, rep.Cause, ErrUpgraded)
	case <-time.After(wait):
		t.Fatal("the drain delay was not skipped")
	}
}

// TestPIDFile: Ready writes the PID file; a shutdown that is not an
// upgrade removes it if it names this process, and leaves it otherwise.
func TestPIDFile(t *testing.T) {
	s := serveHere(t, true)
	assert.Equal(t, os.Getpid(), s.pidInFile(t))
	b, err := os.ReadFile(s.pidfile)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b))
	ents, err := os.ReadDir(filepath.Dir(s.pidfile))
	require.NoError(t, err)
	assert.Len(t, ents, 1, "no temporary file left")
	s.c.Shutdown(nil)
	_, err = os.Stat(s.pidfile)
	assert.ErrorIs(t, err, os.ErrNotExist)

	s = serveHere(t, true)
	require.NoError(t, writePIDFile(s.pidfile, 1))
	s.c.Shutdown(nil)
	pid, err := readPIDFile(s.pidfile)
	require.NoError(t, err)
	assert.Equal(t, 1, pid, "a PID file naming another process is not this one's to remove")
}

// TestPIDFileRelative: a relative path is taken from the working
// directory at New.
func TestPIDFileRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c := shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	defer c.Shutdown(nil)
	u, err := New(c, WithUpgradeSignal(nil), WithPIDFile("run/x.pid"))
	require.NoError(t, err)
	require.NoError(t, os.Mkdir("run", 0o755))
	t.Chdir(t.TempDir())
	require.NoError(t, u.Ready())
	_, err = os.Stat(filepath.Join(dir, "run", "x.pid"))
	assert.NoError(t, err)
}

// TestExecutable: the binary of an upgrade is the path the program was
// started from, kept as a path (a symbolic link is followed at the
// upgrade, not at the start), when it names this binary; else
// os.Executable.
func TestExecutable(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	link := filepath.Join(t.TempDir(), "current")
	require.NoError(t, os.Symlink(exe, link))
	args := os.Args
	defer func() { os.Args = args }()

	os.Args = append([]string{link}, args[1:]...)
	got, err := executable()
	require.NoError(t, err)
	assert.Equal(t, link, got)

	os.Args = append([]string{"/bin/sh"}, args[1:]...)
	got, err = executable()
	require.NoError(t, err)
	assert.Equal(t, exe, got, "a path naming another binary is not trusted")
}

func TestOptions(t *testing.T) {
	assert.PanicsWithValue(t, "upgrade: WithReadyTimeout: duration 0s is not positive", func() { WithReadyTimeout(0) })
	assert.PanicsWithValue(t, "upgrade: WithLogger: nil logger", func() { WithLogger(nil) })
	assert.PanicsWithValue(t, "upgrade: New: nil coordinator", func() { New(nil) })
	c := shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	defer c.Shutdown(nil)
	assert.PanicsWithValue(t, "upgrade: New: nil option", func() { New(c, nil) })
	_, err := (&Upgrader{}).Listen("udp", ":0")
	assert.ErrorContains(t, err, `network "udp"`)

	cfg := defaults()
	assert.Equal(t, syscall.SIGUSR2, cfg.signal)
	assert.Equal(t, time.Minute, cfg.ready)
	for _, o := range []Option{WithUpgradeSignal(syscall.SIGHUP), WithReadyTimeout(time.Second), WithPIDFile("p")} {
		o.apply(&cfg)
	}
	assert.Equal(t, config{signal: syscall.SIGHUP, ready: time.Second, pidfile: "p"}, cfg)
}

func TestStateString(t *testing.T) {
	assert.Equal(t, "starting serving upgrading stopping state(9)",
		starting.String()+" "+serving.String()+" "+upgrading.String()+" "+stopping.String()+" "+state(9).String())
}

var _ net.Listener = (*listener)(nil)

// TestReadyAfterTrigger: Ready once the shutdown has begun writes no PID
// file (nothing would remove it) and says why.
func TestReadyAfterTrigger(t *testing.T) {
	s := serveHere(t, false)
	s.c.Shutdown(nil)
	assert.ErrorIs(t, s.u.Ready(), ErrStopping)
	_, err := os.Stat(s.pidfile)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
