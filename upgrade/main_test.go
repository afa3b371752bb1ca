package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/shutdown"
)

// The tests that need a new process run this test binary again, the way
// fx tests its exits: with envChild set, TestMain plays the new process
// instead of running the tests.
const (
	envChild   = "UPGRADE_TEST_CHILD"   // the new process's behaviour: see child
	envAddr    = "UPGRADE_TEST_ADDR"    // the address both processes Listen on
	envPIDFile = "UPGRADE_TEST_PIDFILE" // the PID file both processes write
)

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(envChild); ok {
		playNewProcess(mode)
		return
	}
	goleak.VerifyTestMain(m)
}

// playNewProcess is the new process of the tests' upgrades. Modes:
//
//	serve       New, Listen, Ready; answer every connection with "pid N"
//	            until SIGTERM
//	exit1       exit 1 at once
//	hang        never call Ready
//	garbage     write a line that is no message on the handshake, then hang
//	close       close its end of the handshake, then hang
//	fail-ready  Ready fails: its PID file cannot be written
func playNewProcess(mode string) {
	switch mode {
	case "exit1":
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour)
	case "garbage":
		os.NewFile(handshakeFD, "handshake").Write([]byte("hello?\n"))
		time.Sleep(time.Hour)
	case "close":
		syscall.Close(handshakeFD)
		time.Sleep(time.Hour)
	}
	c := shutdown.New(shutdown.WithSignals(syscall.SIGTERM), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	pidfile := os.Getenv(envPIDFile)
	if mode == "fail-ready" {
		pidfile = "/nonexistent/dir/pid"
	}
	u, err := New(c, WithUpgradeSignal(nil), WithPIDFile(pidfile), WithReadyTimeout(10*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ln, err := u.Listen("tcp", os.Getenv(envAddr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	c.Go("serve", func(context.Context) error { return serveIdentity(ln) })
	c.Register("listener", shutdown.Closer(ln)) // runs before the serve task's stop step
	if err := u.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		c.Exit(3)
	}
	os.Exit(c.Wait().ExitCode())
}

// serveIdentity answers every connection with "pid N" and closes it,
// until ln is closed.
func serveIdentity(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(conn, "pid %d\n", os.Getpid())
		conn.Close()
	}
}

// whoServes connects to addr and returns the PID that answers.
func whoServes(t *testing.T, addr string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait))
	var pid int
	if _, err := fmt.Fscanf(conn, "pid %d\n", &pid); err != nil {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return pid
}

// wait bounds every wait of the tests.
const wait = 20 * time.Second

// records is a slog handler that keeps the messages and attributes of the
// records, and tells a waiter when one arrives.
type records struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newRecords() *records { return &records{changed: make(chan struct{})} }

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// waitFor waits for a record containing substr and returns it.
func (r *records) waitFor(t *testing.T, substr string) string {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		r.mu.Lock()
		for _, l := range r.lines {
			if strings.Contains(l, substr) {
				r.mu.Unlock()
				return l
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("no record containing %q within %v; records: %q", substr, wait, r.all())
		}
	}
}

func (r *records) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}
