package systemd_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
	"github.com/lastcall-go/lastcall/systemd"
)

// newCoordinator returns a coordinator driven by a fake signal source
// whose exit func records the code instead of exiting, logging nowhere.
func newCoordinator(t *testing.T, opts ...shutdown.Option) (*shutdown.Coordinator, *signals.Fake) {
	t.Helper()
	src := signals.NewFake()
	base := []shutdown.Option{
		shutdown.WithSignalSource(src),
		shutdown.WithExitFunc(func(int) {}),
		shutdown.WithLogger(slog.New(slog.DiscardHandler)),
	}
	return shutdown.New(append(base, opts...)...), src
}

// noWatchdog unsets WATCHDOG_USEC and WATCHDOG_PID for the test.
func noWatchdog(t *testing.T) {
	for _, k := range []string{"WATCHDOG_USEC", "WATCHDOG_PID"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// fields splits a datagram into its assignments.
func fields(msg string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(msg, "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func hasStatus(prefix string) func(string) bool {
	return func(msg string) bool { return strings.HasPrefix(fields(msg)["STATUS"], prefix) }
}

// gate is a hook that says it started and waits for the test to let it
// return.
type gate struct {
	started chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{started: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) hook(ctx context.Context) error {
	close(g.started)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A shutdown as systemd hears it over a real socket, at a path and at an
// abstract name: one datagram at the trigger with STOPPING=1 (first), the
// time to the deadline in EXTEND_TIMEOUT_USEC and the cause in STATUS=;
// then STATUS= naming each hook while it runs, in the order they run;
// then the outcome. No hook waits for systemd, and no goroutine is left.
func TestWatchShutdown(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			if abstract && !abstractNames {
				t.Skip("abstract socket names are a Linux feature")
			}
			noWatchdog(t)
			m := newManager(t, abstract)
			before := goleak.IgnoreCurrent()
			const timeout = 30 * time.Second
			c, src := newCoordinator(t, shutdown.WithTimeout(timeout))
			db, http, health := newGate(), newGate(), newGate()
			c.Register("db", db.hook)
			c.Register("http", http.hook)
			c.OnDrain("health", health.hook)
			systemd.Watch(c)

			start := time.Now()
			src.Send(syscall.SIGTERM)
			raw := m.next()
			first := fields(raw)
			assert.True(t, strings.HasPrefix(raw, "STOPPING=1\n"), "STOPPING=1 comes first: %q", raw)
			ext, err := strconv.ParseInt(first["EXTEND_TIMEOUT_USEC"], 10, 64)
			require.NoError(t, err, "EXTEND_TIMEOUT_USEC in %v", first)
			max := (timeout + systemd.ExtendSlack).Microseconds()
			min := (timeout + systemd.ExtendSlack - time.Since(start)).Microseconds()
			assert.LessOrEqual(t, ext, max)
			assert.GreaterOrEqual(t, ext, min)
			assert.True(t, strings.HasPrefix(first["STATUS"], "stopping (signal: terminated)"), "STATUS=%s", first["STATUS"])

			// Each hook, while it runs, is named; the next starts only
			// once the test lets the one before return.
			// A datagram carries the latest status only: the first one may
			// already name the first hook.
			status := first["STATUS"]
			for _, step := range []struct {
				g    *gate
				name string
			}{{health, "drain/health"}, {http, "http"}, {db, "db"}} {
				<-step.g.started
				want := "stopping (signal: terminated): running " + step.name
				for status != want {
					msg := m.next()
					assert.NotContains(t, msg, "STOPPING=1", "STOPPING=1 is said once")
					status = fields(msg)["STATUS"]
				}
				close(step.g.release)
			}
			final := m.nextMatching(hasStatus("stopped"))
			assert.Regexp(t, `^STATUS=stopped: exit code 0, 3 hooks, in \S+$`, final)
			<-c.Done()
			goleak.VerifyNone(t, before)
		})
	}
}

// Watch's datagrams go out on its own goroutine: hooks run while every
// send blocks, as on a socket whose queue is full and that nobody reads,
// and the shutdown ends on time. Hooks that waited for those sends
// (NotifyTimeout each, two events a hook) would take far longer: the
// sends block until their deadline, or until the last hook, registered
// first, lets them go so that the test does not wait for the last ones.
func TestWatchDoesNotBlockHooks(t *testing.T) {
	noWatchdog(t)
	t.Setenv("NOTIFY_SOCKET", "@fake")
	unblock := make(chan struct{})
	t.Cleanup(systemd.SetSend(func(_, _ string, deadline time.Time) error {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-unblock:
			return nil
		case <-timer.C:
			return os.ErrDeadlineExceeded
		}
	}))
	captureLog(t)
	c, src := newCoordinator(t, shutdown.WithTimeout(time.Minute))
	c.Register("unblock", func(context.Context) error { close(unblock); return nil })
	for i := range 20 {
		c.Register(fmt.Sprint("hook", i), func(context.Context) error { return nil })
	}
	systemd.Watch(c)
	src.Send(syscall.SIGTERM)
	rep := c.Wait()
	assert.NoError(t, rep.Err())
	assert.Less(t, rep.Elapsed, 10*time.Second)
}

// A NOTIFY_SOCKET that points nowhere: Watch logs it, once, at error
// level; the shutdown does not hang, and its report does not fail.
func TestWatchNowhere(t *testing.T) {
	noWatchdog(t)
	nowhere := filepath.Join(t.TempDir(), "gone.sock")
	t.Setenv("NOTIFY_SOCKET", nowhere)
	logs := captureLog(t)
	c, _ := newCoordinator(t, shutdown.WithTimeout(time.Minute))
	for i := range 5 {
		c.Register(fmt.Sprint("hook", i), func(context.Context) error { return nil })
	}
	systemd.Watch(c)
	rep := c.Shutdown(nil)
	assert.NoError(t, rep.Err(), "a notify failure is not a hook failure")
	assert.Zero(t, rep.ExitCode())
	assert.Less(t, rep.Elapsed, 10*time.Second)
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "systemd: notify failed"), "logged once: %s", out)
	assert.Contains(t, out, nowhere)
	assert.Contains(t, out, "level=ERROR")
}

// captureLog sends slog.Default to a buffer for the test.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Watch called after the trigger: STOPPING=1 at once, the deadline with
// the shutdown's next event.
func TestWatchAfterTrigger(t *testing.T) {
	noWatchdog(t)
	m := newManager(t, false)
	c, src := newCoordinator(t, shutdown.WithTimeout(time.Minute))
	g := newGate()
	c.Register("slow", g.hook)
	src.Send(syscall.SIGTERM)
	<-g.started
	systemd.Watch(c)
	first := fields(m.next())
	assert.Equal(t, "1", first["STOPPING"])
	assert.True(t, strings.HasPrefix(first["STATUS"], "stopping (signal: terminated)"), "STATUS=%s", first["STATUS"])
	close(g.release)
	later := m.nextMatching(func(msg string) bool { return fields(msg)["EXTEND_TIMEOUT_USEC"] != "" })
	ext, err := strconv.ParseInt(fields(later)["EXTEND_TIMEOUT_USEC"], 10, 64)
	require.NoError(t, err)
	assert.Positive(t, ext)
	assert.LessOrEqual(t, ext, (time.Minute + systemd.ExtendSlack).Microseconds())
	if !hasStatus("stopped")(later) { // the last status may come with it
		m.nextMatching(hasStatus("stopped"))
	}
	<-c.Done()
}

// A second Watch of the same coordinator says nothing twice; Watch of a
// finished coordinator and Watch without NOTIFY_SOCKET start nothing;
// Watch(nil) panics.
func TestWatchOnce(t *testing.T) {
	noWatchdog(t)
	m := newManager(t, false)
	c, src := newCoordinator(t)
	c.Register("one", func(context.Context) error { return nil })
	systemd.Watch(c)
	systemd.Watch(c)
	src.Send(syscall.SIGTERM)
	var stopping int
	for {
		msg := m.next()
		stopping += strings.Count(msg, "STOPPING=1")
		if hasStatus("stopped")(msg) {
			break
		}
	}
	assert.Equal(t, 1, stopping)
	<-c.Done()

	c2, _ := newCoordinator(t)
	before := goleak.IgnoreCurrent()
	systemd.Watch(c) // finished
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	systemd.Watch(c2) // not under systemd
	goleak.VerifyNone(t, before)
	c2.Shutdown(nil)

	assert.PanicsWithValue(t, "systemd: Watch: nil coordinator", func() { systemd.Watch(nil) })
}

// A service's life as systemd hears it, in order, on the real clock over a
// real socket: READY=1 with its MAINPID; WATCHDOG=1 at half of
// WATCHDOG_USEC, the k-th ping never before k half-intervals have passed;
// at the trigger STOPPING=1 with EXTEND_TIMEOUT_USEC and STATUS=; pings
// while it stops; the last STATUS=; then nothing, and no goroutine left.
func TestWatchSequence(t *testing.T) {
	const usec = 400_000 // pings every 200 ms
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(usec))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	defer systemd.ResetMainPID()
	m := newManager(t, false)
	before := goleak.IgnoreCurrent()
	c, src := newCoordinator(t, shutdown.WithTimeout(time.Minute))
	g := newGate()
	c.Register("slow", g.hook)
	ready := "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid())
	require.NoError(t, systemd.Notify(ready))
	assert.Equal(t, ready, m.next())
	start := time.Now()
	systemd.Watch(c)

	half := usec * time.Microsecond / 2
	for k := 1; k <= 3; k++ {
		assert.Equal(t, "WATCHDOG=1", m.next())
		assert.GreaterOrEqual(t, time.Since(start), time.Duration(k)*half, "ping %d came early", k)
	}

	src.Send(syscall.SIGTERM)
	stop := fields(m.nextMatching(func(msg string) bool { return msg != "WATCHDOG=1" }))
	assert.Equal(t, "1", stop["STOPPING"])
	assert.NotEmpty(t, stop["EXTEND_TIMEOUT_USEC"])
	assert.True(t, strings.HasPrefix(stop["STATUS"], "stopping (signal: terminated)"), "STATUS=%s", stop["STATUS"])
	<-g.started
	for msg := ""; msg != "WATCHDOG=1"; {
		msg = m.next() // a ping while the hook runs
		assert.NotContains(t, msg, "STOPPING=1", "said once")
		assert.NotContains(t, msg, "STATUS=stopped", "not yet")
	}
	close(g.release)
	m.nextMatching(hasStatus("stopped"))
	<-c.Done()
	goleak.VerifyNone(t, before) // the pinger has ended
}

// On a fake clock, exactly: with WATCHDOG_USEC=10s a ping every 5 s from
// Watch's call, through a 12 s hook, until completion and no later; the
// trigger's EXTEND_TIMEOUT_USEC is the timeout plus ExtendSlack, to the
// microsecond.
func TestWatchdogExactTimes(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "10000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("NOTIFY_SOCKET", "@fake")
	synctest.Test(t, func(t *testing.T) {
		rec := record(t)
		c, src := newCoordinator(t, shutdown.WithTimeout(time.Minute))
		c.Register("slow", func(ctx context.Context) error {
			time.Sleep(12 * time.Second)
			return nil
		})
		t0 := time.Now()
		systemd.Watch(c)
		time.Sleep(26 * time.Second)
		src.Send(syscall.SIGTERM) // at 26 s
		<-c.Done()                // at 38 s
		time.Sleep(time.Minute)   // nothing after completion

		var pings []time.Duration
		for _, s := range rec.all() {
			if s.state == "WATCHDOG=1" {
				pings = append(pings, s.at.Sub(t0))
			}
		}
		want := []time.Duration{5, 10, 15, 20, 25, 30, 35}
		for i := range want {
			want[i] *= time.Second
		}
		assert.Equal(t, want, pings)

		stop := rec.first("STOPPING=1")
		require.NotNil(t, stop)
		assert.Equal(t, 26*time.Second, stop.at.Sub(t0))
		assert.Equal(t, strconv.FormatInt((time.Minute+systemd.ExtendSlack).Microseconds(), 10),
			fields(stop.state)["EXTEND_TIMEOUT_USEC"])
		end := rec.first("STATUS=stopped")
		require.NotNil(t, end)
		assert.Equal(t, "STATUS=stopped: exit code 0, 1 hooks, in 12s", end.state)
	})
}

// sent is one datagram as the stubbed sender saw it.
type sent struct {
	at    time.Time
	state string
}

type recorder struct {
	mu   sync.Mutex
	msgs []sent
}

// record stubs the package's sender for the test and records what it is
// given, with the (fake) time.
func record(t *testing.T) *recorder {
	r := &recorder{}
	restore := systemd.SetSend(func(_, state string, _ time.Time) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.msgs = append(r.msgs, sent{time.Now(), state})
		return nil
	})
	t.Cleanup(restore)
	return r
}

func (r *recorder) all() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.msgs...)
}

// first returns the first datagram containing substr, or nil.
func (r *recorder) first(substr string) *sent {
	for _, s := range r.all() {
		if strings.Contains(s.state, substr) {
			return &s
		}
	}
	return nil
}

// The old process of an upgrade: once it has named another process as
// the main one, Watch says nothing more for it, neither STOPPING=1 (which
// would stop the unit) nor pings. The new process: WATCHDOG_PID names the
// old one, so it pings only once it has said it is the main process.
func TestWatchHandover(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "10000000")
	t.Setenv("NOTIFY_SOCKET", "@fake")
	defer systemd.ResetMainPID()

	t.Run("old process", func(t *testing.T) {
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
		synctest.Test(t, func(t *testing.T) {
			defer systemd.ResetMainPID()
			rec := record(t)
			c, src := newCoordinator(t)
			c.Register("drain", func(context.Context) error { time.Sleep(20 * time.Second); return nil })
			systemd.Watch(c)
			time.Sleep(6 * time.Second) // one ping, at 5 s
			require.NoError(t, systemd.Notify("MAINPID="+strconv.Itoa(os.Getpid()+1)))
			src.Send(syscall.SIGTERM)
			<-c.Done()
			synctest.Wait() // Watch's goroutine has ended
			var states []string
			for _, s := range rec.all() {
				states = append(states, s.state)
			}
			assert.Equal(t, []string{"WATCHDOG=1", "MAINPID=" + strconv.Itoa(os.Getpid()+1)}, states)
			d, err := systemd.Watchdog()
			assert.NoError(t, err)
			assert.Zero(t, d, "the watchdog is the new main process's")
		})
	})

	t.Run("new process", func(t *testing.T) {
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()-1)) // the old process
		synctest.Test(t, func(t *testing.T) {
			defer systemd.ResetMainPID()
			rec := record(t)
			c, _ := newCoordinator(t)
			systemd.Watch(c)
			d, err := systemd.Watchdog()
			assert.NoError(t, err)
			assert.Zero(t, d, "not this process's watchdog yet")
			time.Sleep(12 * time.Second) // no ping: not the main process
			ready := "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid())
			require.NoError(t, systemd.Notify(ready))
			time.Sleep(9 * time.Second) // pings at 15 and 20 s
			c.Shutdown(nil)
			synctest.Wait() // Watch's goroutine has ended
			var states []string
			for _, s := range rec.all() {
				if s.state == "WATCHDOG=1" || s.state == ready {
					states = append(states, s.state)
				}
			}
			assert.Equal(t, []string{ready, "WATCHDOG=1", "WATCHDOG=1"}, states)
			d, err = systemd.Watchdog()
			assert.NoError(t, err)
			assert.Equal(t, 10*time.Second, d)
		})
	})
}

// Watchdog reads WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled(3)
// does, without unsetting them.
func TestWatchdog(t *testing.T) {
	systemd.ResetMainPID()
	defer systemd.ResetMainPID()
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		usec, pid string // "-": unset
		want      time.Duration
		err       string
	}{
		{"-", "-", 0, ""},
		{"3000000", "-", 3 * time.Second, ""},
		{"3000000", pid, 3 * time.Second, ""},
		{"3000000", "1", 0, ""},
		{"0", "-", 0, `WATCHDOG_USEC="0"`},
		{"soon", "-", 0, `WATCHDOG_USEC="soon"`},
		{"18446744073709551615", "-", 0, `WATCHDOG_USEC="18446744073709551615"`},
		{"3000000", "me", 0, `WATCHDOG_PID="me"`},
	} {
		t.Run(tc.usec+"/"+tc.pid, func(t *testing.T) {
			for k, v := range map[string]string{"WATCHDOG_USEC": tc.usec, "WATCHDOG_PID": tc.pid} {
				t.Setenv(k, v)
				if v == "-" {
					os.Unsetenv(k)
				}
			}
			d, err := systemd.Watchdog()
			assert.Equal(t, tc.want, d)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
			_, set := os.LookupEnv("WATCHDOG_USEC")
			assert.Equal(t, tc.usec != "-", set, "left as it was")
		})
	}
}
