//go:build linux

package systemd_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

// Under systemd's own systemd-socket-activate: the tool binds two named
// Unix sockets, starts the service on the first connection (exec, so
// LISTEN_PID is the service's PID) and the service finds both listeners
// by name, serves the connection waiting in the backlog and the next
// one, and leaves no variable to its children.
func TestSystemdSocketActivate(t *testing.T) {
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (Debian package systemd; .ci/run installs it)")
	}
	bin, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	web, admin := filepath.Join(dir, "web.sock"), filepath.Join(dir, "admin.sock")
	p := proctest.Start(t, tool, "-l", web, "-l", admin, "--fdname=web:admin",
		"-E", childEnv+"=by-name-serve", "-E", "GORACE=atexit_sleep_ms=0", bin)
	_, err = p.WaitStderrLine("Listening on "+admin, time.Minute)
	require.NoError(t, err)

	// The first connection starts the service; it waits in the backlog.
	assert.Equal(t, "web", ask(t, web))
	line, err := p.WaitLine(`"pid"`, time.Minute)
	require.NoError(t, err)
	rep := parseReport(t, line)
	require.Empty(t, rep.Err)
	assert.Equal(t, p.Pid(), rep.PID, "the tool execs the service: same PID as LISTEN_PID")
	assert.Equal(t, map[string][]string{"web": {web}, "admin": {admin}}, rep.ByName)
	assert.Zero(t, rep.Again)
	assert.Empty(t, rep.Env)
	assert.Empty(t, rep.ChildEnv)

	assert.Equal(t, "admin", ask(t, admin))
	res := p.MustWait(time.Minute)
	assert.True(t, res.Exited && res.Code == 0, "the service ended with %v", res)
}

// ask connects to a Unix socket and returns the line the server writes.
func ask(t *testing.T, path string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", path, time.Minute)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Minute)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// A service under systemd-socket-activate with a notify socket, ended by
// a real SIGTERM: systemd hears READY=1 with its MAINPID, then STOPPING=1
// with the time to its deadline, then the outcome; it exits 0.
func TestSystemdSocketActivateNotify(t *testing.T) {
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (Debian package systemd; .ci/run installs it)")
	}
	bin, err := os.Executable()
	require.NoError(t, err)
	m := newManager(t, false)
	web := filepath.Join(t.TempDir(), "web.sock")
	p := proctest.Start(t, tool, "-l", web, "-E", "NOTIFY_SOCKET="+m.addr,
		"-E", childEnv+"=service", "-E", "GORACE=atexit_sleep_ms=0", bin)
	_, err = p.WaitStderrLine("Listening on "+web, time.Minute)
	require.NoError(t, err)

	assert.Equal(t, "hello", ask(t, web))
	assert.Equal(t, "READY=1\nMAINPID="+strconv.Itoa(p.Pid()), m.next())
	p.MustWaitLine("ready", time.Minute)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	raw := m.next()
	stop := fields(raw)
	assert.Equal(t, "1", stop["STOPPING"])
	assert.NotEmpty(t, stop["EXTEND_TIMEOUT_USEC"])
	// A shutdown this short may be over before the first datagram leaves:
	// then it carries the last status, which replaced the cause's.
	if !hasStatus("stopped")(raw) {
		assert.True(t, strings.HasPrefix(stop["STATUS"], "stopping (signal: terminated)"), "STATUS=%s", stop["STATUS"])
		raw = m.nextMatching(hasStatus("stopped"))
	}
	assert.Regexp(t, `STATUS=stopped: exit code 0, 2 hooks, in \S+$`, raw)
	res := p.MustWait(time.Minute)
	assert.True(t, res.Exited && res.Code == 0, "the service ended with %v", res)
}
