//go:build linux || darwin

package upgrade

import (
	"bufio"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// newProcess is an Upgrader as a new process of an upgrade has it, and
// the old process's end of its handshake, played by the test.
func newProcess(t *testing.T, ready time.Duration) (*Upgrader, net.Conn, *records) {
	t.Helper()
	c := shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { c.Shutdown(nil) })
	theirs, ours := net.Pipe()
	t.Cleanup(func() { theirs.Close() })
	rec := newRecords()
	cfg := defaults()
	cfg.ready, cfg.logger = ready, slog.New(rec)
	cfg.pidfile = filepath.Join(t.TempDir(), "pid")
	return &Upgrader{c: c, cfg: cfg, pid: os.Getpid(), parent: newLink(ours), handed: make(chan struct{})}, theirs, rec
}

// oldProcess plays the old process's side: for each step, read a line
// and check it, or write one, or close.
func oldProcess(conn net.Conn, steps ...string) <-chan string {
	got := make(chan string, 1)
	go func() {
		defer close(got)
		r := bufio.NewReader(conn)
		for _, s := range steps {
			switch {
			case s == "close":
				conn.Close()
				return
			case strings.HasPrefix(s, "<"):
				line, err := r.ReadString('\n')
				if err != nil || line != s[1:]+"\n" {
					got <- "read " + line + ", want " + s[1:]
					return
				}
			default:
				if _, err := conn.Write([]byte(s + "\n")); err != nil {
					got <- "write: " + err.Error()
					return
				}
			}
		}
	}()
	return got
}

func TestReadyHandshake(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []string
		want  string // "" for success
		rec   string
	}{
		{"ok", []string{"<ready", "serve", "<serving", "ok"}, "", ""},
		{"old process gone before serve", []string{"<ready", "close"}, "waiting for the old process to let this one serve: the old process went away", ""},
		{"garbage", []string{"<ready", "what?"}, `not a handshake message: "what?"`, ""},
		{"binary garbage", []string{"<ready", "\x00\x01"}, "not a handshake message", ""},
		{"old process gone after serving", []string{"<ready", "serve", "<serving", "close"}, "", "the old process went away during the handover"},
		{"no answer", []string{"<ready"}, "i/o timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, conn, rec := newProcess(t, 500*time.Millisecond)
			l := newListener("tcp", ":0", nil, "", false)
			u.lns = []*listener{l}
			done := oldProcess(conn, tc.steps...)
			err := u.Ready()
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				assert.Equal(t, starting, u.state)
				assert.False(t, isOpen(l), "listeners stay shut")
				assert.ErrorIs(t, u.Ready(), err, "later calls return the first result")
			} else {
				require.NoError(t, err)
				assert.Equal(t, serving, u.state)
				assert.True(t, isOpen(l), "listeners accept")
				pid, err := readPIDFile(u.cfg.pidfile)
				require.NoError(t, err)
				assert.Equal(t, os.Getpid(), pid)
			}
			if tc.rec != "" {
				rec.waitFor(t, tc.rec)
			}
			conn.Close()
			for msg := range done {
				if tc.want == "" {
					t.Error(msg)
				}
			}
		})
	}
}

// TestReadyFails: a new process that cannot write the PID file tells the
// old one why, and does not serve.
func TestReadyFails(t *testing.T) {
	u, conn, _ := newProcess(t, 5*time.Second)
	u.cfg.pidfile = "/nonexistent/dir/pid"
	got := make(chan string, 1)
	go func() {
		r := bufio.NewReader(conn)
		r.ReadString('\n')
		conn.Write([]byte("serve\n"))
		line, _ := r.ReadString('\n')
		got <- line
	}()
	err := u.Ready()
	require.ErrorContains(t, err, "upgrade: PID file: ")
	assert.True(t, strings.HasPrefix(<-got, "failed: upgrade: PID file: "))
}

func isOpen(l *listener) bool {
	select {
	case <-l.open:
		return true
	default:
		return false
	}
}
