//go:build unix

package shutdown_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

// Behaviours 15 and 16, and 5 with real signals, seen from outside: a real
// binary (internal/testprog, built once with -race) is started, signaled
// and its exit status decoded. Every wait is for a printed line or for the
// process's end, bounded.

// procWait bounds each wait for a line or an exit; the binary is built
// with -race and runs next to other tests on two cores.
const procWait = 20 * time.Second

func testprog(t *testing.T, args ...string) *proctest.Proc {
	t.Helper()
	bin := proctest.Build(t, "./internal/testprog")
	return proctest.Start(t, bin, args...)
}

// requireExited fails the test unless the process called exit with code.
func requireExited(t *testing.T, r proctest.Result, code int) {
	t.Helper()
	require.True(t, r.Exited, "want exit status %d, got %v", code, r)
	require.Equal(t, code, r.Code, "exit status")
}

func TestProcessNormalEnd(t *testing.T) {
	t.Parallel()
	// defer c.Shutdown(nil) runs the hooks, last registered first, when
	// main returns.
	r := testprog(t, "-hooks", "3", "-mode", "normal").MustWait(procWait)
	requireExited(t, r, 0)
	assert.Equal(t, []string{"ready", "hook 3", "hook 2", "hook 1"}, r.Stdout)
}

func TestProcessExit(t *testing.T) {
	t.Parallel()
	// Exit runs the hooks, then exits with its code.
	r := testprog(t, "-hooks", "3", "-mode", "exit=3").MustWait(procWait)
	requireExited(t, r, 3)
	assert.Equal(t, []string{"ready", "hook 3", "hook 2", "hook 1"}, r.Stdout)
}

func TestProcessSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		// main waits for the shutdown and exits with its code.
		{"SIGTERM wait", syscall.SIGTERM, []string{"-mode", "wait"}},
		{"SIGINT wait", syscall.SIGINT, []string{"-mode", "wait"}},
		// main is busy: nobody waits, the coordinator ends the process
		// after the hooks.
		{"SIGTERM busy main", syscall.SIGTERM, []string{"-mode", "normal", "-run", "1h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := testprog(t, append([]string{"-hooks", "3"}, tc.args...)...)
			p.MustWaitLine("ready", procWait)
			require.NoError(t, p.Signal(tc.sig))

			r := p.MustWait(procWait)
			requireExited(t, r, 0)
			assert.Equal(t, []string{"ready", "hook 3", "hook 2", "hook 1"}, r.Stdout)
			assert.Less(t, r.Elapsed, procWait, "ended at the signal, not after -run")
		})
	}
}

func TestProcessSecondSignalForcesExit(t *testing.T) {
	t.Parallel()
	p := testprog(t, "-hooks", "2", "-hang", "-timeout", "1h", "-mode", "wait")
	p.MustWaitLine("ready", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	p.MustWaitLine("hanging", procWait)

	sent := time.Now()
	require.NoError(t, p.Signal(syscall.SIGTERM))
	r, err := p.Wait(5 * time.Second)
	require.NoError(t, err, "a second SIGTERM must end the process at once")
	t.Logf("ended %v after the second signal", time.Since(sent))
	requireExited(t, r, 143)
	assert.Equal(t, []string{"ready", "hanging"}, r.Stdout, "no hook ran after the forced exit")

	// The log on stderr names the hook that was still running.
	var named bool
	for _, line := range r.Stderr {
		if strings.Contains(line, "hang") && !strings.Contains(line, "hook=") {
			named = true
		}
	}
	assert.True(t, named, "no stderr line names the running hook:\n%s", strings.Join(r.Stderr, "\n"))
}

func TestProcessClosedStdout(t *testing.T) {
	t.Parallel()
	marks := filepath.Join(t.TempDir(), "marks")
	p := testprog(t, "-hooks", "3", "-mode", "wait", "-marks", marks)
	p.MustWaitLine("ready", procWait)

	// The reader of stdout goes away (a log collector restarts): every
	// hook's write to stdout now hits a broken pipe.
	require.NoError(t, p.CloseStdout())
	require.NoError(t, p.Signal(syscall.SIGTERM))

	r := p.MustWait(procWait)
	require.False(t, r.Signaled, "killed by %v: the shutdown did not survive the gone reader", r.Signal)
	requireExited(t, r, 0)

	data, err := os.ReadFile(marks)
	require.NoError(t, err, "no hook left a mark")
	assert.Equal(t, []string{"hook 3 epipe", "hook 2 epipe", "hook 1 epipe"},
		strings.Split(strings.TrimSpace(string(data)), "\n"),
		"every hook ran, in order, and its write to stdout failed with EPIPE instead of killing the process")
}
