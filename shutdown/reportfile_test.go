package shutdown_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// sequence records, in order, what the report func and the exit func saw.
type sequence struct {
	mu    sync.Mutex
	steps []string
	rep   *shutdown.Report
}

func (s *sequence) report(rep *shutdown.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, "report")
	s.rep = rep
}

func (s *sequence) exit(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, fmt.Sprintf("exit %d", code))
}

func (s *sequence) get() ([]string, *shutdown.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.steps...), s.rep
}

// fileReport reads and decodes a report file.
func fileReport(t *testing.T, path string) (*shutdown.Report, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep shutdown.Report
	require.NoError(t, json.Unmarshal(b, &rep), "%s", b)
	return &rep, b
}

// The report func gets the final report once, and the report file holds
// it, before the exit func, on every path a shutdown can take.
func TestReportOnEveryPath(t *testing.T) {
	errTask := errors.New("queue lost")
	for _, tc := range []struct {
		name     string
		opts     []shutdown.Option
		run      func(t *testing.T, c *shutdown.Coordinator, send func(syscall.Signal), release chan struct{})
		code     int
		statuses map[string]shutdown.Status
	}{
		{
			name: "signal, hooks done",
			run: func(t *testing.T, c *shutdown.Coordinator, send func(syscall.Signal), _ chan struct{}) {
				send(syscall.SIGTERM)
			},
			code:     0,
			statuses: map[string]shutdown.Status{"a": shutdown.OK, "b": shutdown.OK},
		},
		{
			name: "deadline",
			opts: []shutdown.Option{shutdown.WithTimeout(5 * time.Second)},
			run: func(t *testing.T, c *shutdown.Coordinator, send func(syscall.Signal), release chan struct{}) {
				c.Register("hangs", func(context.Context) error { <-release; return nil })
				send(syscall.SIGTERM)
			},
			code:     1,
			statuses: map[string]shutdown.Status{"hangs": shutdown.TimedOut, "b": shutdown.Skipped, "a": shutdown.Skipped},
		},
		{
			name: "Exit",
			run: func(t *testing.T, c *shutdown.Coordinator, _ func(syscall.Signal), _ chan struct{}) {
				go c.Exit(3)
			},
			code:     3,
			statuses: map[string]shutdown.Status{"a": shutdown.OK, "b": shutdown.OK},
		},
		{
			name: "failing task",
			run: func(t *testing.T, c *shutdown.Coordinator, _ func(syscall.Signal), _ chan struct{}) {
				c.Go("consume", func(context.Context) error { return errTask })
			},
			code:     1,
			statuses: map[string]shutdown.Status{"consume": shutdown.Failed, "a": shutdown.OK, "b": shutdown.OK},
		},
		{
			name: "forced by a second signal",
			run: func(t *testing.T, c *shutdown.Coordinator, send func(syscall.Signal), release chan struct{}) {
				started := make(chan struct{})
				c.Register("hangs", func(context.Context) error { close(started); <-release; return nil })
				send(syscall.SIGTERM)
				<-started
				send(syscall.SIGTERM)
			},
			code:     143,
			statuses: map[string]shutdown.Status{"hangs": shutdown.TimedOut, "b": shutdown.Skipped, "a": shutdown.Skipped},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seq sequence
				path := filepath.Join(t.TempDir(), "termination-log")
				opts := append([]shutdown.Option{shutdown.WithReportFunc(seq.report),
					shutdown.WithReportFile(path), shutdown.WithExitFunc(seq.exit)}, tc.opts...)
				c, fake, _ := newTest(t, opts...)
				release := make(chan struct{})
				defer close(release)
				c.Register("a", func(context.Context) error { return nil })
				c.Register("b", func(context.Context) error { return nil })
				tc.run(t, c, func(sig syscall.Signal) { require.Equal(t, 1, fake.Send(sig)) }, release)
				<-c.Done()
				synctest.Wait() // Exit's caller has called the exit func

				steps, rep := seq.get()
				require.Equal(t, []string{"report", fmt.Sprintf("exit %d", tc.code)}, steps,
					"the report func once, then the exit func")
				require.NotNil(t, rep)
				assert.Equal(t, tc.code, rep.ExitCode())

				got, _ := fileReport(t, path)
				assert.Equal(t, tc.code, got.ExitCode())
				assert.Equal(t, rep.Cause.Error(), got.Cause.Error())
				assert.Equal(t, rep.Forced, got.Forced)
				require.Len(t, got.Hooks, len(tc.statuses))
				for _, h := range got.Hooks {
					assert.Equal(t, tc.statuses[h.Name], h.Status, h.Name)
				}
				if tc.code == 143 {
					assert.ErrorContains(t, result(t, got, "hangs").Err, shutdown.ErrForced.Error())
				}
			})
		})
	}
}

// A report too large for a termination message becomes a summary that
// fits: the cause, the exit code, the counts per status, and the hooks
// that did not end OK first.
func TestReportFileSummaryFits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	c, _, _ := newTest(t, shutdown.WithReportFile(path))
	s := c.Stage("many", shutdown.Limit(64))
	errBad := errors.New("this hook failed, and says so at some length, as real errors do")
	for i := range 10000 {
		fn := func(context.Context) error { return nil }
		if i%1000 == 999 {
			fn = func(context.Context) error { return errBad }
		}
		s.Register(fmt.Sprintf("hook %d", i), fn)
	}
	rep := c.Shutdown(errors.New("signal: terminated"))

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), shutdown.ReportFileLimit)
	var sum struct {
		Cause    string         `json:"cause"`
		ExitCode int            `json:"exit_code"`
		Summary  bool           `json:"summary"`
		Count    int            `json:"hook_count"`
		Statuses map[string]int `json:"statuses"`
		Omitted  int            `json:"hooks_omitted"`
		Hooks    []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"hooks"`
	}
	require.NoError(t, json.Unmarshal(b, &sum))
	assert.True(t, sum.Summary)
	assert.Equal(t, "signal: terminated", sum.Cause)
	assert.Equal(t, 1, sum.ExitCode)
	assert.Equal(t, rep.ExitCode(), sum.ExitCode)
	assert.Equal(t, 10000, sum.Count)
	assert.Equal(t, map[string]int{"ok": 9990, "failed": 10}, sum.Statuses)
	require.Greater(t, len(sum.Hooks), 10, "as many hooks as fit")
	for i, h := range sum.Hooks[:10] {
		assert.Equal(t, "failed", h.Status, "failed hooks first: %d", i)
		assert.Equal(t, errBad.Error(), h.Error)
	}
	assert.Equal(t, 10000, len(sum.Hooks)+sum.Omitted)
}

// A report file that cannot be written is logged at error level and
// changes neither the exit code nor the time the shutdown takes.
func TestReportFileUnwritable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newLogSink()
		path := filepath.Join(t.TempDir(), "no such directory", "termination-log")
		c, _, _ := newTest(t, shutdown.WithReportFile(path), shutdown.WithLogger(sink.logger()))
		c.Register("h", func(context.Context) error { time.Sleep(time.Second); return nil })
		t0 := time.Now()
		rep := c.Shutdown(nil)
		assert.Equal(t, time.Second, time.Since(t0))
		assert.Equal(t, 0, rep.ExitCode())
		var logged []logRecord
		for _, r := range sink.records() {
			if r.Message == "shutdown: report file not written" {
				logged = append(logged, r)
			}
		}
		require.Len(t, logged, 1)
		assert.Equal(t, "ERROR", logged[0].Level.String())
		assert.Equal(t, path, logged[0].Attrs["path"].String())
	})
}

// A report func that panics is recovered and logged; one that blocks is
// left behind at the deadline, or FinalGrace past it, like a hook.
func TestReportFuncFaults(t *testing.T) {
	t.Run("panics", func(t *testing.T) {
		sink := newLogSink()
		c, _, _ := newTest(t, shutdown.WithLogger(sink.logger()),
			shutdown.WithReportFunc(func(*shutdown.Report) { panic("dashboard down") }))
		c.Register("h", func(context.Context) error { return nil })
		rep := c.Shutdown(nil)
		assert.Equal(t, 0, rep.ExitCode())
		n := 0
		for _, r := range sink.records() {
			if r.Message == "shutdown: report func panicked" {
				n++
			}
		}
		assert.Equal(t, 1, n)
	})
	t.Run("blocks", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second),
				shutdown.WithReportFunc(func(*shutdown.Report) { <-release }))
			c.Register("h", func(context.Context) error { time.Sleep(9 * time.Second); return nil })
			t0 := time.Now()
			c.Shutdown(nil)
			assert.Equal(t, 10*time.Second, time.Since(t0), "left behind at the deadline")
		})
	})
}

func TestReportOptionsProgrammingErrors(t *testing.T) {
	assert.PanicsWithValue(t, "shutdown: WithReportFile: empty path", func() { shutdown.WithReportFile("") })
	assert.PanicsWithValue(t, "shutdown: WithReportFunc: nil function", func() { shutdown.WithReportFunc(nil) })
}
