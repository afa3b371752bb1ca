package systemd_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/systemd"
)

// abstractNames: sockets in the abstract namespace exist on Linux only.
const abstractNames = runtime.GOOS == "linux"

// waitTimeout bounds every wait for a datagram: wide, for a noisy
// machine; a passing test never waits that long.
const waitTimeout = 20 * time.Second

// manager is the service manager's end of NOTIFY_SOCKET: a Unix datagram
// socket whose messages a test reads in the order they were sent.
type manager struct {
	t    *testing.T
	addr string // what NOTIFY_SOCKET holds
	conn *net.UnixConn
	msgs chan string
}

// newManager binds a notify socket at a path (abstract false) or an
// abstract name, and points NOTIFY_SOCKET at it for the test.
func newManager(t *testing.T, abstract bool) *manager {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		addr = fmt.Sprintf("@lastcall-systemd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	require.NoError(t, err)
	m := &manager{t: t, addr: addr, conn: conn, msgs: make(chan string, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(m.msgs)
		buf := make([]byte, 64<<10)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	t.Setenv("NOTIFY_SOCKET", addr)
	return m
}

// next returns the next datagram, failing the test if none comes within
// waitTimeout.
func (m *manager) next() string {
	m.t.Helper()
	select {
	case msg, ok := <-m.msgs:
		require.True(m.t, ok, "the notify socket closed")
		return msg
	case <-time.After(waitTimeout):
		require.FailNow(m.t, "no datagram within "+waitTimeout.String())
		return ""
	}
}

// nextMatching returns the next datagram for which keep is true, skipping
// the others (watchdog pings among shutdown messages).
func (m *manager) nextMatching(keep func(string) bool) string {
	m.t.Helper()
	for {
		msg := m.next()
		if keep(msg) {
			return msg
		}
		m.t.Logf("skipped datagram %q", msg)
	}
}

// A datagram to a socket bound at a path and to an abstract one, each
// exactly the state given.
func TestNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			if abstract && !abstractNames {
				t.Skip("abstract socket names are a Linux feature")
			}
			m := newManager(t, abstract)
			require.NoError(t, systemd.Notify("STATUS=serving\nREADY=1"))
			require.NoError(t, systemd.Notify("WATCHDOG=1"))
			assert.Equal(t, "STATUS=serving\nREADY=1", m.next())
			assert.Equal(t, "WATCHDOG=1", m.next())
		})
	}
}

// The datagram of an upgrade's new process, READY=1 with its MAINPID, is
// byte for byte what systemd's own systemd-notify sends for it.
func TestNotifyReadyMainPIDAsSystemdNotify(t *testing.T) {
	tool, err := exec.LookPath("systemd-notify")
	if err != nil {
		t.Skip("systemd-notify not installed (Debian package systemd)")
	}
	defer systemd.ResetMainPID()
	m := newManager(t, false)
	pid := strconv.Itoa(os.Getpid())
	out, err := exec.Command(tool, "--ready", "--no-block", "--pid="+pid).CombinedOutput()
	require.NoError(t, err, "%s", out)
	want := m.next()
	require.NoError(t, systemd.Notify("READY=1\nMAINPID="+pid))
	assert.Equal(t, want, m.next())
	assert.Equal(t, "READY=1\nMAINPID="+pid, want)
}

// No NOTIFY_SOCKET: not started by systemd; nothing sent, no error.
func TestNotifyUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	assert.NoError(t, systemd.Notify("READY=1"))
	os.Unsetenv("NOTIFY_SOCKET")
	assert.NoError(t, systemd.Notify("READY=1"))
}

// A NOTIFY_SOCKET that points nowhere, or that is not a Unix socket
// address: an error that says which socket, at once.
func TestNotifyNowhere(t *testing.T) {
	dir := t.TempDir()
	nowhere := filepath.Join(dir, "gone.sock")
	t.Setenv("NOTIFY_SOCKET", nowhere)
	start := time.Now()
	err := systemd.Notify("READY=1")
	require.Error(t, err)
	assert.Less(t, time.Since(start), systemd.NotifyTimeout, "an absent socket fails at once")
	assert.Contains(t, err.Error(), "systemd: notify "+nowhere)
	assert.True(t, errors.Is(err, syscall.ENOENT), "errors.Is sees the cause: %v", err)

	// A socket that nobody reads any more: refused.
	m := newManager(t, false)
	m.conn.Close()
	err = systemd.Notify("READY=1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), m.addr)

	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	err = systemd.Notify("READY=1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `NOTIFY_SOCKET="vsock:2:1234"`)
}

// A datagram that cannot be queued because nobody reads a full socket:
// Notify gives up after NotifyTimeout instead of blocking the program.
func TestNotifyFullSocketTimesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("waits NotifyTimeout")
	}
	m := newManager(t, false)
	// Stop the reader: close and rebind the socket ourselves, unread.
	m.conn.Close()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: m.addr, Net: "unixgram"})
	if err != nil {
		os.Remove(m.addr)
		conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: m.addr, Net: "unixgram"})
	}
	require.NoError(t, err)
	defer conn.Close()
	big := strings.Repeat("x", 16<<10)
	var last error
	start := time.Now()
	for i := 0; i < 100_000 && last == nil; i++ {
		last = systemd.Notify("STATUS=" + big)
	}
	require.Error(t, last, "a socket nobody reads fills up")
	assert.ErrorIs(t, last, os.ErrDeadlineExceeded)
	assert.Less(t, time.Since(start), time.Minute)
}
