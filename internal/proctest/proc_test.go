//go:build unix

package proctest_test

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const wait = 10 * time.Second

func TestSignal(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "/bin/sh", "-c", "echo ready; exec sleep 30")
	assert.Equal(t, "ready", p.MustWaitLine("read", wait))
	require.NoError(t, p.Signal(syscall.SIGTERM))

	r := p.MustWait(wait)
	assert.True(t, r.Signaled, r.String())
	assert.False(t, r.Exited)
	assert.Equal(t, syscall.SIGTERM, r.Signal)
	assert.Equal(t, -1, r.Code)
	assert.Equal(t, []string{"ready"}, r.Stdout)
	assert.Less(t, r.Elapsed, 30*time.Second)
	assert.ErrorIs(t, p.Signal(syscall.SIGTERM), os.ErrProcessDone)
}

func TestExitCodeAndOutput(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "/bin/sh", "-c", "echo one; echo err >&2; printf 'two\\nlast'; exit 3")

	r := p.MustWait(wait)
	assert.True(t, r.Exited, r.String())
	assert.False(t, r.Signaled)
	assert.Equal(t, 3, r.Code)
	assert.Equal(t, "exit status 3", r.String())
	assert.Equal(t, []string{"one", "two", "last"}, r.Stdout)
	assert.Equal(t, []string{"err"}, r.Stderr)
	assert.Equal(t, r.Stdout, p.Stdout())

	again, err := p.Wait(wait)
	require.NoError(t, err)
	assert.Equal(t, r, again)
}

func TestGORACE(t *testing.T) {
	t.Setenv("GORACE", "halt_on_error=1")
	p := proctest.Start(t, "/bin/sh", "-c", `echo "$GORACE"`)
	assert.Equal(t, []string{"halt_on_error=1 atexit_sleep_ms=0"}, p.MustWait(wait).Stdout)
}

func TestWaitLineTimeout(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "/bin/sh", "-c", "echo ready; exec sleep 30")
	p.MustWaitLine("ready", wait)

	start := time.Now()
	_, err := p.WaitLine("never", 50*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "within 50ms")
	assert.Less(t, time.Since(start), wait)
}

func TestWaitLineClosed(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "/bin/sh", "-c", "echo ready")
	_, err := p.WaitLine("never", wait)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "closed")
	assert.Equal(t, 0, p.MustWait(wait).Code)
}

// TestStream: a Stream started by StartCmd finds lines from a cursor on,
// by every substring or by a function, lists them, and ends when the
// process's end of the pipe closes.
func TestStream(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("/bin/sh", "-c", "echo a x; echo b x; echo c y; echo err >&2")
	stdout, stderr, err := proctest.StartCmd(cmd)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait())
	for _, s := range []*proctest.Stream{stdout, stderr} {
		select {
		case <-s.Done():
		case <-time.After(wait):
			t.Fatal("the stream did not end with the process")
		}
	}
	defer stdout.Close()
	defer stderr.Close()

	line, err := stdout.Find(0, wait, "x")
	require.NoError(t, err)
	assert.Equal(t, "a x", line)
	line, err = stdout.Find(1, wait, "x")
	require.NoError(t, err)
	assert.Equal(t, "b x", line, "from the cursor on")
	line, err = stdout.FindFunc(0, wait, "y", func(l string) bool { return strings.HasSuffix(l, "y") })
	require.NoError(t, err)
	assert.Equal(t, "c y", line)
	_, err = stdout.Find(0, wait, "a", "y")
	require.Error(t, err, "every substring")
	assert.Contains(t, err.Error(), `stdout closed without a line containing ["a" "y"]`)

	assert.Equal(t, 3, stdout.Mark())
	assert.Equal(t, []string{"a x", "b x", "c y"}, stdout.Lines(0))
	assert.Equal(t, []string{"b x"}, stdout.Lines(1, "x"))
	assert.Empty(t, stdout.Lines(3))
	assert.Equal(t, []string{"err"}, stderr.Lines(0))
	assert.Regexp(t, `^ *\d+\.\d{3}s c y\n$`, stdout.Tail(1))
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "/bin/sh", "-c", "exec sleep 30")
	_, err := p.Wait(50 * time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still running")
	// The cleanup kills it.
}

func TestSignalGroup(t *testing.T) {
	t.Parallel()
	// sh waits for its child; SIGTERM to the group ends both.
	p := proctest.Start(t, "/bin/sh", "-c", "sleep 30 & echo ready; wait")
	p.MustWaitLine("ready", wait)
	require.NoError(t, p.SignalGroup(syscall.SIGTERM))
	r := p.MustWait(wait)
	assert.True(t, r.Signaled, r.String())
	assert.Equal(t, syscall.SIGTERM, r.Signal)
}

func TestCleanupKillsGroup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	var pid int
	t.Run("child", func(t *testing.T) {
		// The background sleep outlives sh and keeps stdout open.
		p := proctest.Start(t, "/bin/sh", "-c", "sleep 30 & echo $!")
		line := p.MustWaitLine("", wait)
		var err error
		pid, err = strconv.Atoi(line)
		require.NoError(t, err)
	})
	// The kill is asynchronous: the process closes its files (the readers'
	// EOF) a moment before it turns into a zombie or disappears.
	stat := "/proc/" + strconv.Itoa(pid) + "/stat"
	assert.Eventually(t, func() bool {
		b, err := os.ReadFile(stat)
		if err != nil {
			return true // gone
		}
		f := strings.Fields(string(b))
		return len(f) > 2 && f[2] == "Z"
	}, wait, time.Millisecond, "process %d still alive", pid)
}

func TestBuildAndCloseStdout(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./internal/proctest/testdata/child")
	assert.Equal(t, bin, proctest.Build(t, "./internal/proctest/testdata/child"), "built once")

	t.Run("exit code", func(t *testing.T) {
		t.Parallel()
		r := proctest.Start(t, bin, "-code", "7", "x").MustWait(wait)
		assert.Equal(t, 7, r.Code, r.String())
		assert.Equal(t, []string{"ready"}, r.Stdout)
		assert.Equal(t, []string{"args: [x]"}, r.Stderr)
	})
	t.Run("SIGPIPE", func(t *testing.T) {
		t.Parallel()
		p := proctest.Start(t, bin, "-tick", "5ms")
		p.MustWaitLine("tick", wait)
		require.NoError(t, p.CloseStdout())
		require.NoError(t, p.CloseStdout(), "second close")
		r := p.MustWait(wait)
		assert.True(t, r.Signaled, r.String())
		assert.Equal(t, syscall.SIGPIPE, r.Signal)
	})
}

func TestBuildImportPath(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "github.com/lastcall-go/lastcall/internal/proctest/testdata/child")
	r := proctest.Start(t, bin).MustWait(wait)
	assert.Equal(t, 0, r.Code, r.String())
}
