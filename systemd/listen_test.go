//go:build unix

package systemd_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/systemd"
)

// listenFiles opens a TCP listener on loopback and a Unix one in a
// temporary directory, and returns their addresses and descriptors (dups,
// closed when the test ends).
func listenFiles(t *testing.T) (addrs []string, files []*os.File) {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ul, err := net.Listen("unix", filepath.Join(t.TempDir(), "admin.sock"))
	require.NoError(t, err)
	for _, l := range []net.Listener{tl, ul} {
		f, err := l.(interface{ File() (*os.File, error) }).File()
		require.NoError(t, err)
		t.Cleanup(func() { f.Close(); l.Close() })
		addrs = append(addrs, l.Addr().String())
		files = append(files, f)
	}
	return addrs, files
}

// Descriptors passed to a real child process, for its PID and named: the
// child gets them by name, a second call finds none, and neither the
// child's environment nor a process it starts sees the variables.
func TestListenersByName(t *testing.T) {
	addrs, files := listenFiles(t)
	rep := runActivated(t, "by-name", activation{
		files:  files,
		env:    map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin"},
		ownPID: true,
	})
	require.Empty(t, rep.Err)
	assert.Equal(t, map[string][]string{"web": {addrs[0]}, "admin": {addrs[1]}}, rep.ByName)
	assert.Zero(t, rep.Again, "a second call finds the descriptors taken")
	assert.Empty(t, rep.AgainErr)
	assert.Empty(t, rep.Env, "the variables are unset")
	assert.Empty(t, rep.ChildEnv, "a child started afterwards does not see them")
}

// Without LISTEN_FDNAMES the listeners come in descriptor order, all
// named "unknown" as libsystemd names them.
func TestListenersOrderAndUnknownName(t *testing.T) {
	addrs, files := listenFiles(t)
	env := map[string]string{"LISTEN_FDS": "2"}
	rep := runActivated(t, "listeners", activation{files: files, env: env, ownPID: true})
	require.Empty(t, rep.Err)
	assert.Equal(t, addrs, rep.Addrs)

	rep = runActivated(t, "by-name", activation{files: files, env: env, ownPID: true})
	require.Empty(t, rep.Err)
	assert.Equal(t, map[string][]string{"unknown": addrs}, rep.ByName)
}

// LISTEN_PID naming another process (here, the parent that did not take
// them): no listener and no error, the variables still unset, as
// sd_listen_fds(1) does.
func TestListenersOtherPID(t *testing.T) {
	_, files := listenFiles(t)
	rep := runActivated(t, "listeners", activation{
		files: files,
		env:   map[string]string{"LISTEN_FDS": "2", "LISTEN_PID": strconv.Itoa(os.Getpid())},
	})
	assert.Empty(t, rep.Err)
	assert.Empty(t, rep.Addrs)
	assert.Empty(t, rep.Env)
	assert.Empty(t, rep.ChildEnv)
}

// A LISTEN_PIDFDID that is not this process's pidfd: the PID was reused,
// the descriptors are not ours; this process's own: they are. Only where
// the kernel can tell (pidfs).
func TestListenersOtherPIDFDID(t *testing.T) {
	if _, ok := systemd.SelfPIDFDID(); !ok {
		t.Skip("no pidfs: the PID alone decides")
	}
	_, files := listenFiles(t)
	rep := runActivated(t, "listeners", activation{
		files:  files,
		env:    map[string]string{"LISTEN_FDS": "2", "LISTEN_PIDFDID": "1"},
		ownPID: true,
	})
	assert.Empty(t, rep.Err)
	assert.Empty(t, rep.Addrs)
	assert.Empty(t, rep.Env)

	rep = runActivated(t, "listeners-own-pidfdid", activation{
		files:  files,
		env:    map[string]string{"LISTEN_FDS": "2"},
		ownPID: true,
	})
	assert.Empty(t, rep.Err)
	assert.Len(t, rep.Addrs, 2, "this process's pidfd: the descriptors are ours")
}

// Garbage in the variables: an error that names the variable and its
// value, no listener, and the variables unset all the same.
func TestListenersGarbage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		ownPID bool
		want   string
	}{
		{"fds not a number", map[string]string{"LISTEN_FDS": "two"}, true, `LISTEN_FDS="two"`},
		{"fds zero", map[string]string{"LISTEN_FDS": "0"}, true, `LISTEN_FDS="0"`},
		{"fds negative", map[string]string{"LISTEN_FDS": "-1"}, true, `LISTEN_FDS="-1"`},
		{"pid not a number", map[string]string{"LISTEN_FDS": "2", "LISTEN_PID": "me"}, false, `LISTEN_PID="me"`},
		{"pidfdid not a number", map[string]string{"LISTEN_FDS": "2", "LISTEN_PIDFDID": "x"}, true, `LISTEN_PIDFDID="x"`},
		{"names too few", map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "web"}, true, `LISTEN_FDNAMES="web" names 1 descriptors, LISTEN_FDS=2`},
		{"names too many", map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "a::b"}, true, `names 3 descriptors`},
		{"fds not open", map[string]string{"LISTEN_FDS": "1000"}, true, "not open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, files := listenFiles(t)
			rep := runActivated(t, "listeners", activation{files: files, env: tc.env, ownPID: tc.ownPID})
			assert.Contains(t, rep.Err, tc.want)
			assert.Contains(t, rep.Err, "systemd: ")
			assert.Empty(t, rep.Addrs)
			assert.Empty(t, rep.Env)
			assert.Empty(t, rep.ChildEnv)
		})
	}
}

// A datagram socket among the descriptors: Listeners says which one is
// not a listener; Files takes them all, named and close-on-exec.
func TestListenersNotListening(t *testing.T) {
	_, files := listenFiles(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	uf, err := pc.(*net.UDPConn).File()
	require.NoError(t, err)
	t.Cleanup(func() { uf.Close() })
	a := activation{
		files:  []*os.File{files[0], uf},
		env:    map[string]string{"LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:dns"},
		ownPID: true,
	}

	rep := runActivated(t, "listeners", a)
	assert.Contains(t, rep.Err, `fd 4 ("dns"): not a listening stream socket`)
	assert.Empty(t, rep.Addrs)

	rep = runActivated(t, "files", a)
	require.Empty(t, rep.Err)
	assert.Equal(t, []string{"web", "dns"}, rep.Files)
	assert.Equal(t, []bool{true, true}, rep.CloExec, "the descriptors are close-on-exec")
	assert.Zero(t, rep.Again)
	assert.Empty(t, rep.ChildEnv)
}

// Not socket-activated: nothing, no error.
func TestListenersUnset(t *testing.T) {
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	ls, err := systemd.Listeners()
	assert.NoError(t, err)
	assert.Empty(t, ls)
	m, err := systemd.ListenersByName()
	assert.NoError(t, err)
	assert.Nil(t, m)
	fs, err := systemd.Files()
	assert.NoError(t, err)
	assert.Empty(t, fs)
}
