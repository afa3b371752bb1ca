//go:build unix

package shutdown_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
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
// with -race and runs next to other tests on two cores. forcedWait bounds
// the wait for an exit that must come at once.
const (
	procWait   = 20 * time.Second
	forcedWait = 5 * time.Second
)

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

// jsonRecords returns the coordinator's JSON log records (testprog
// -json-log) among the lines of stderr whose message is msg.
func jsonRecords(t *testing.T, stderr []string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range stderr {
		if !strings.HasPrefix(line, "{") {
			continue // the race detector's or the runtime's own lines
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "stderr line %q", line)
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
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
			p := testprog(t, append([]string{"-hooks", "3", "-json-log"}, tc.args...)...)
			p.MustWaitLine("ready", procWait)
			require.NoError(t, p.Signal(tc.sig))

			// Busy main works for an hour: only the signal's shutdown
			// can end it within the wait.
			r, err := p.Wait(procWait)
			require.NoError(t, err, "the process did not end at the signal")
			requireExited(t, r, 0)
			assert.Equal(t, []string{"ready", "hook 3", "hook 2", "hook 1"}, r.Stdout)
			started := jsonRecords(t, r.Stderr, "shutdown: started")
			require.Len(t, started, 1, "one shutdown")
			assert.Equal(t, "signal: "+tc.sig.String(), started[0]["cause"], "the shutdown was the signal's")
			end := jsonRecords(t, r.Stderr, "shutdown: complete")
			require.Len(t, end, 1, "the shutdown completed")
			assert.EqualValues(t, 0, end[0]["exit_code"])
			assert.EqualValues(t, 3, end[0]["hooks"])
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

// Behaviour 9 with real signals: a second signal forces 128+signo even when
// the program had asked for another code with Exit. Exit(3) starts the
// shutdown, a hook hangs; the first SIGTERM joins the shutdown the program
// started, the second forces the exit.
func TestProcessSecondSignalBeatsExit(t *testing.T) {
	t.Parallel()
	p := testprog(t, "-hooks", "2", "-hang", "-timeout", "1h", "-mode", "exit=3", "-json-log")
	p.MustWaitLine("hanging", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	// Two signals sent back to back can merge into one: wait until the
	// first has been handled.
	_, err := p.WaitStderrLine("shutdown already in progress", procWait)
	require.NoError(t, err, "the first SIGTERM was not handled")
	require.NoError(t, p.Signal(syscall.SIGTERM))

	r, err := p.Wait(forcedWait)
	require.NoError(t, err, "a second SIGTERM must end the process at once")
	requireExited(t, r, 143)
	assert.Equal(t, []string{"ready", "hanging"}, r.Stdout, "no hook ran after the forced exit")
	started := jsonRecords(t, r.Stderr, "shutdown: started")
	require.Len(t, started, 1)
	assert.Equal(t, "exit code 3", started[0]["cause"])
	end := jsonRecords(t, r.Stderr, "shutdown: complete")
	require.Len(t, end, 1, "the report of a forced exit")
	assert.Equal(t, true, end[0]["forced"])
	assert.EqualValues(t, 143, end[0]["exit_code"])
}

// Behaviour 16, the log's side: stderr is a pipe nobody reads when the
// signal comes, so the coordinator's first record of the shutdown, and
// every one after it, is written to a broken pipe. The process is not
// killed by SIGPIPE: every hook runs and it exits 0. The first hook's own
// write to stderr shows that stderr was really broken.
func TestProcessBrokenStderr(t *testing.T) {
	t.Parallel()
	marks := filepath.Join(t.TempDir(), "marks")
	p := testprog(t, "-hooks", "3", "-mode", "wait", "-marks", marks, "-break-stderr")
	p.MustWaitLine("ready", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))

	r := p.MustWait(procWait)
	require.False(t, r.Signaled, "killed by %v: the shutdown did not survive its log's gone reader", r.Signal)
	requireExited(t, r, 0)
	assert.Equal(t, []string{"ready", "hook 3", "hook 2", "hook 1"}, r.Stdout)
	data, err := os.ReadFile(marks)
	require.NoError(t, err, "no hook left a mark")
	assert.Equal(t, []string{"stderr epipe", "hook 3 ok", "hook 2 ok", "hook 1 ok"},
		strings.Split(strings.TrimSpace(string(data)), "\n"))
}

// A signal ignored when the program started (sh's trap "" INT, as a
// background job of a script gets it) is left ignored by the coordinator,
// so it is not a second signal either: SIGINT while a hook holds the
// shutdown is dropped by the kernel, and the shutdown runs to its end and
// exits 0. The control run, started without the trap, shows that the same
// SIGINT at the same point forces the exit with 130.
func TestProcessIgnoredSignalIsNoSecondSignal(t *testing.T) {
	bin := proctest.Build(t, "./internal/testprog")
	for _, tc := range []struct {
		name    string
		ignored bool
	}{
		{"SIGINT ignored at start", true},
		{"control", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fifo := filepath.Join(t.TempDir(), "hold")
			require.NoError(t, syscall.Mkfifo(fifo, 0o600))
			args := []string{"-hooks", "2", "-mode", "wait", "-hold", fifo, "-json-log"}
			var p *proctest.Proc
			if tc.ignored {
				// exec keeps an ignored disposition: the program starts
				// with SIGINT ignored, under the same process id.
				p = proctest.Start(t, "/bin/sh", append([]string{"-c", `trap "" INT; exec "$0" "$@"`, bin}, args...)...)
			} else {
				p = proctest.Start(t, bin, args...)
			}
			p.MustWaitLine("ready", procWait)
			require.NoError(t, p.Signal(syscall.SIGTERM))
			p.MustWaitLine("holding", procWait)
			require.NoError(t, p.Signal(syscall.SIGINT))

			if !tc.ignored {
				r, err := p.Wait(forcedWait)
				require.NoError(t, err, "SIGINT during the shutdown must force the exit")
				requireExited(t, r, 130)
				releaseFIFO(t, fifo, false)
				return
			}
			if runtime.GOOS == "linux" {
				// The kernel drops a signal that is ignored when it is
				// sent: once kill has returned, it is gone.
				assert.True(t, p.IgnoresSignal(syscall.SIGINT), "SIGINT is no longer ignored")
			}
			releaseFIFO(t, fifo, true)
			r := p.MustWait(procWait)
			requireExited(t, r, 0)
			assert.Equal(t, []string{"ready", "holding", "hook 2", "hook 1"}, r.Stdout)
			assert.Empty(t, jsonRecords(t, r.Stderr, "shutdown: second signal, forcing exit"))
			for _, rec := range jsonRecords(t, r.Stderr, "shutdown: signal ignored, shutdown in progress") {
				t.Errorf("the coordinator received %v", rec["signal"])
			}
		})
	}
}

// releaseFIFO opens the named pipe for writing and closes it, which ends
// the read of the hook holding on it. With reader false nobody will read:
// it only makes sure no open is left blocked.
func releaseFIFO(t *testing.T, fifo string, reader bool) {
	t.Helper()
	flags := os.O_WRONLY
	if !reader {
		flags |= syscall.O_NONBLOCK // ENXIO at once when there is no reader
	}
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, flags, 0)
		if err == nil {
			err = f.Close()
		}
		done <- err
	}()
	timer := time.NewTimer(procWait)
	defer timer.Stop()
	select {
	case err := <-done:
		if reader {
			require.NoError(t, err)
		}
	case <-timer.C:
		// Be the reader that the blocked open waits for, so that it
		// returns before the test does.
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-done
			r.Close()
		}
		t.Fatal("the hook never opened the pipe")
	}
}
