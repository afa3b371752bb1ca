package shutdown_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

// sampleReport runs a shutdown under fake time whose report holds every
// status, a stage and a drain hook, with exact times.
func sampleReport(t *testing.T) *shutdown.Report {
	t.Helper()
	var rep *shutdown.Report
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithDrainDelay(time.Second), shutdown.WithTimeout(10*time.Second))
		release := make(chan struct{})
		defer close(release)
		sleep := func(d time.Duration) shutdown.Hook {
			return func(context.Context) error { time.Sleep(d); return nil }
		}
		// Registered in this order, run in the reverse: the drain hook,
		// then http, the flush stage, cache, db, and stuck, which eats the
		// rest of the deadline so that never is skipped.
		c.Register("never", sleep(0))
		c.Register("stuck", func(context.Context) error { <-release; return nil })
		c.Register("db", sleep(time.Millisecond))
		c.Register("cache", func(context.Context) error { panicInCache(); return nil })
		flush := c.Stage("flush")
		flush.Register("kafka", func(context.Context) error { <-release; return nil }, shutdown.Timeout(3*time.Second))
		flush.Register("file", func(context.Context) error { time.Sleep(200 * time.Millisecond); return errors.New("disk full") })
		c.Register("http", sleep(400*time.Millisecond))
		c.OnDrain("health", sleep(100*time.Microsecond))
		rep = c.Shutdown(errors.New("signal: terminated"))
	})
	return rep
}

//go:noinline
func panicInCache() { panic("cache corrupted") }

var stackRE = regexp.MustCompile(`"stack": "[^"]*"`)

func TestReportJSONGolden(t *testing.T) {
	rep := sampleReport(t)
	b, err := json.MarshalIndent(rep, "", "  ")
	require.NoError(t, err)

	// A stack names files of this machine: check it apart.
	stack := stackRE.Find(b)
	require.NotNil(t, stack, "a panicked hook carries its stack")
	assert.Regexp(t, `^"stack": "github.com/lastcall-go/lastcall/shutdown_test.panicInCache\(`, string(stack),
		"the stack starts at the call that panicked")
	assert.NotContains(t, string(stack), "shutdown.invoke", "the package's own frames are trimmed")
	golden(t, "report.golden.json", append(stackRE.ReplaceAll(b, []byte(`"stack": "..."`)), '\n'))
}

func TestReportJSONRoundTrip(t *testing.T) {
	rep := sampleReport(t)
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back shutdown.Report
	require.NoError(t, json.Unmarshal(b, &back))

	assert.Equal(t, rep.Cause.Error(), back.Cause.Error())
	assert.Equal(t, rep.ExitCode(), back.ExitCode())
	assert.Equal(t, rep.Elapsed, back.Elapsed)
	require.Len(t, back.Hooks, len(rep.Hooks))
	for i, h := range rep.Hooks {
		got := back.Hooks[i]
		assert.Equal(t, h.Name, got.Name)
		assert.Equal(t, h.Stage, got.Stage)
		assert.Equal(t, h.Status, got.Status)
		assert.Equal(t, h.Started, got.Started, h.Name)
		assert.Equal(t, h.Elapsed, got.Elapsed, h.Name)
		if h.Err == nil {
			assert.NoError(t, got.Err)
		} else {
			assert.EqualError(t, got.Err, h.Err.Error())
		}
	}
	var pe *shutdown.PanicError
	require.ErrorAs(t, result(t, &back, "cache").Err, &pe)
	assert.Equal(t, "cache corrupted", pe.Value)

	again, err := json.Marshal(back)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(again), "a decoded report encodes the same")
}

// A shutdown without a cause encodes it as null; a forced one keeps its
// code through a round trip.
func TestReportJSONNullCauseAndForced(t *testing.T) {
	c, _, _ := newTest(t)
	b, err := json.Marshal(c.Shutdown(nil))
	require.NoError(t, err)
	assert.JSONEq(t, `{"cause":null,"exit_code":0,"forced":false,"elapsed_ms":`+string(regexp.MustCompile(`"elapsed_ms":([0-9.e-]+)`).FindSubmatch(b)[1])+`,"hooks":[]}`, string(b))

	var forced shutdown.Report
	require.NoError(t, json.Unmarshal([]byte(`{"cause":"signal: interrupt","exit_code":130,"forced":true,"elapsed_ms":1,"hooks":[]}`), &forced))
	assert.Equal(t, 130, forced.ExitCode())
	assert.True(t, forced.Forced)
}

func TestStatusText(t *testing.T) {
	for s := shutdown.OK; s <= shutdown.Skipped; s++ {
		b, err := s.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, s.String(), string(b))
		var back shutdown.Status
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	_, err := shutdown.Status(42).MarshalText()
	assert.Error(t, err)
	var s shutdown.Status
	assert.Error(t, s.UnmarshalText([]byte("exploded")))
}

func TestTimelineGolden(t *testing.T) {
	golden(t, "timeline.golden.txt", []byte(sampleReport(t).Timeline()))
}
