//go:build linux || darwin

package fdpass

import (
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nonblocking reports whether the socket behind sc is in non-blocking
// mode.
func nonblocking(t *testing.T, sc syscall.Conn) bool {
	t.Helper()
	rc, err := sc.SyscallConn()
	require.NoError(t, err)
	var flags uintptr
	require.NoError(t, rc.Control(func(fd uintptr) {
		flags, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	}))
	return flags&syscall.O_NONBLOCK != 0
}

// TestDup: a copy made by Dup can be handed to exec (which calls Fd)
// without putting the socket into blocking mode; one made by the
// listener's File method cannot.
func TestDup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	tl := ln.(*net.TCPListener)
	require.True(t, nonblocking(t, tl))

	f, err := Dup(tl, "copy")
	require.NoError(t, err)
	f.Fd() // what exec.Cmd does with ExtraFiles
	f.Close()
	assert.True(t, nonblocking(t, tl), "Dup leaves the socket non-blocking")

	f, err = tl.File()
	require.NoError(t, err)
	f.Fd()
	f.Close()
	assert.False(t, nonblocking(t, tl), "File then Fd: the trap Dup avoids")
}

// TestSocketpair: the two ends talk; both are close-on-exec.
func TestSocketpair(t *testing.T) {
	c, f, err := Socketpair("pair")
	require.NoError(t, err)
	defer c.Close()
	other, err := net.FileConn(f)
	f.Close()
	require.NoError(t, err)
	defer other.Close()
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = other.Read(b)
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
}
