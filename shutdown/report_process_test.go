//go:build unix

package shutdown_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// The termination file seen from outside: a real process (internal/testprog
// with -report-file) ended by real signals leaves a JSON file that states
// the cause, the exit code and every hook's status, as a container's
// termination message would.

// statuses returns each hook's status in a report file, by name.
func statuses(t *testing.T, path string) (*shutdown.Report, map[string]shutdown.Status) {
	t.Helper()
	rep, b := fileReport(t, path)
	assert.LessOrEqual(t, len(b), shutdown.ReportFileLimit)
	m := map[string]shutdown.Status{}
	for _, h := range rep.Hooks {
		m[h.Name] = h.Status
	}
	return rep, m
}

func TestProcessReportFileOnSIGTERM(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "termination-log")
	p := testprog(t, "-hooks", "3", "-mode", "wait", "-report-file", path)
	p.MustWaitLine("ready", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	requireExited(t, p.MustWait(procWait), 0)

	rep, st := statuses(t, path)
	assert.Equal(t, "signal: terminated", rep.Cause.Error())
	assert.Equal(t, 0, rep.ExitCode())
	assert.Equal(t, map[string]shutdown.Status{"hook 1": shutdown.OK, "hook 2": shutdown.OK, "hook 3": shutdown.OK}, st)
	assert.Equal(t, []string{"hook 3", "hook 2", "hook 1"}, names(rep))
}

func TestProcessReportFileAtTheDeadline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "termination-log")
	p := testprog(t, "-hooks", "2", "-hang", "-timeout", "1s", "-mode", "wait", "-report-file", path)
	p.MustWaitLine("ready", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	requireExited(t, p.MustWait(procWait), 1)

	rep, st := statuses(t, path)
	assert.Equal(t, 1, rep.ExitCode())
	assert.False(t, rep.Forced)
	assert.Equal(t, map[string]shutdown.Status{"hang": shutdown.TimedOut, "hook 2": shutdown.Skipped, "hook 1": shutdown.Skipped}, st)
	assert.ErrorContains(t, result(t, rep, "hang").Err, "deadline exceeded")
}

func TestProcessReportFileForced(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "termination-log")
	p := testprog(t, "-hooks", "2", "-hang", "-timeout", "1h", "-mode", "wait", "-report-file", path)
	p.MustWaitLine("ready", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	p.MustWaitLine("hanging", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	requireExited(t, p.MustWait(procWait), 143)

	rep, st := statuses(t, path)
	assert.True(t, rep.Forced)
	assert.Equal(t, 143, rep.ExitCode())
	assert.Equal(t, "signal: terminated", rep.Cause.Error())
	assert.Equal(t, map[string]shutdown.Status{"hang": shutdown.TimedOut, "hook 2": shutdown.Skipped, "hook 1": shutdown.Skipped}, st)
	assert.ErrorContains(t, result(t, rep, "hang").Err, shutdown.ErrForced.Error())
}

// A report of 10,000 hooks fits a termination message as a summary.
func TestProcessReportFileSummary(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "termination-log")
	p := testprog(t, "-hooks", "10000", "-mode", "wait", "-report-file", path)
	p.MustWaitLine("ready", procWait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	requireExited(t, p.MustWait(procWait), 0)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), shutdown.ReportFileLimit)
	var sum struct {
		Cause    string         `json:"cause"`
		ExitCode int            `json:"exit_code"`
		Summary  bool           `json:"summary"`
		Count    int            `json:"hook_count"`
		Statuses map[string]int `json:"statuses"`
	}
	require.NoError(t, json.Unmarshal(b, &sum))
	assert.True(t, sum.Summary)
	assert.Equal(t, "signal: terminated", sum.Cause)
	assert.Equal(t, 0, sum.ExitCode)
	assert.Equal(t, map[string]int{"ok": 10000}, sum.Statuses)
}
