//go:build linux

package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/internal/fdpass"
	"github.com/lastcall-go/lastcall/internal/proctest"
)

var upgrades = flag.Int("upgrades", 20, "how many in-place upgrades TestUpgrades makes under load")

const (
	// upDrain is the drain delay of the upgrade tests: an upgrade must not
	// wait for it, so an old process that exits well before it proves the
	// delay skipped.
	upDrain   = 10 * time.Second
	upHandler = 50 * time.Millisecond
)

// A server is a family started from a copy of the built binary, in a
// directory of its own, so that a test can replace the binary at its path
// as a deployment does.
type server struct {
	*family
	bin     string // the path the server runs from
	good    string // a copy of the good binary
	pidfile string
	base    string // http://HOST:PORT
	serving int    // the process that serves now
}

// startServer starts the server with a PID file and the upgrade tests'
// flags, then extra, and waits for it to serve.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	s := installServer(t)
	args := append([]string{"-addr", "127.0.0.1:0", "-pidfile", s.pidfile, "-drain-delay", upDrain.String(),
		"-timeout", "30s", "-http-timeout", "10s", "-ready-timeout", "20s"}, extra...)
	s.family = startFamily(t, s.bin, nil, nil, args...)
	s.serving = s.first()
	line, err := s.stdout.Find(0, wait, "listening on ")
	require.NoError(t, err)
	s.base = "http://" + strings.TrimPrefix(line, "listening on ")
	return s
}

func installServer(t *testing.T) *server {
	t.Helper()
	built := proctest.Build(t, "./examples/httpserver")
	dir := t.TempDir()
	s := &server{bin: filepath.Join(dir, "httpserver"), good: filepath.Join(dir, "httpserver.good"), pidfile: filepath.Join(dir, "httpserver.pid")}
	b, err := os.ReadFile(built)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.good, b, 0o755))
	s.deploy(t, b)
	return s
}

// deploy puts content at the binary's path the way a deployment does:
// written beside it, then renamed over it. The running processes keep
// their own binary; the next upgrade runs this one.
func (s *server) deploy(t *testing.T, content []byte) {
	t.Helper()
	tmp := s.bin + ".new"
	require.NoError(t, os.WriteFile(tmp, content, 0o755))
	require.NoError(t, os.Rename(tmp, s.bin))
}

func (s *server) deployGood(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(s.good)
	require.NoError(t, err)
	s.deploy(t, b)
}

// upgradeResult is what one USR2 led to, seen from outside.
type upgradeResult struct {
	newPID  int
	record  string        // the old process's "upgrade: done" or "upgrade: failed" record
	elapsed time.Duration // USR2 to the old process's end (done), or to the record (failed)
}

// upgrade sends USR2 to the serving process and waits for the outcome.
// On success it follows the new process, waits for the old one to end,
// checks it exited 0 without waiting for the drain delay, and checks that
// the PID file names the new process.
func (s *server) upgrade(t *testing.T) (upgradeResult, error) {
	t.Helper()
	old := s.serving
	from := s.stderr.Mark()
	sent := time.Now()
	if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
		return upgradeResult{}, err
	}
	return s.outcome(t, old, from, sent)
}

// outcome waits for the end of the upgrade of old started at the cursor
// from: see upgrade.
func (s *server) outcome(t *testing.T, old, from int, sent time.Time) (upgradeResult, error) {
	t.Helper()
	me := fmt.Sprintf(" pid=%d ", old)
	rec, err := s.stderr.FindFunc(from, wait, "upgrade: done|failed"+me, func(l string) bool {
		return strings.Contains(l, me) && (strings.Contains(l, "upgrade: done") || strings.Contains(l, "upgrade: failed"))
	})
	r := upgradeResult{record: rec, elapsed: time.Since(sent)}
	if err != nil {
		return r, err
	}
	if strings.Contains(rec, "upgrade: failed") {
		return r, fmt.Errorf("%s", rec)
	}
	r.newPID = attrInt(rec, "new_pid")
	s.adopt(r.newPID, old)
	end, err := s.member(old).wait(wait)
	if err != nil {
		return r, err
	}
	r.elapsed = s.member(old).at.Sub(sent)
	if !end.Exited || end.Code != 0 {
		return r, fmt.Errorf("old process %d: %v, want exit status 0", old, end)
	}
	if r.elapsed >= upDrain {
		return r, fmt.Errorf("old process %d ended %v after USR2: it waited for the drain delay (%v)", old, r.elapsed, upDrain)
	}
	if pid, err := readPID(s.pidfile); err != nil || pid != r.newPID {
		return r, fmt.Errorf("PID file names %d (%v), want the new process %d", pid, err, r.newPID)
	}
	s.serving = r.newPID
	return r, nil
}

// stop sends SIGTERM to the serving process and waits for it to exit 0.
func (s *server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(s.serving, syscall.SIGTERM))
	end, err := s.member(s.serving).wait(wait)
	require.NoError(t, err)
	assert.True(t, end.Exited && end.Code == 0, "last process: %v", end)
}

// requests sums the stats lines of every process that has ended.
func (s *server) requests() (started, finished, lines int) {
	for _, l := range s.stdout.Lines(0, "requests started=") {
		var a, b int
		if _, err := fmt.Sscanf(l, "requests started=%d finished=%d", &a, &b); err == nil {
			started, finished, lines = started+a, finished+b, lines+1
		}
	}
	return started, finished, lines
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// startLoad puts the server under load from nclients clients sending POST
// /work back to back, half of them on keep-alive connections, none of them
// following /healthz: nothing is in front of the server.
func startLoad(base string) *proctest.Load {
	clients := make([]proctest.Client, nclients)
	for i := range clients {
		clients[i].KeepAlive = i%2 == 0
	}
	return proctest.StartLoad(fmt.Sprintf("%s/work?ms=%d", base, upHandler.Milliseconds()), clients)
}

func sum(tallies []proctest.Tally) proctest.Tally {
	var all proctest.Tally
	for _, tl := range tallies {
		all.Add(tl)
	}
	return all
}

// A pidWatch reads the PID file every few milliseconds and checks that it
// names a live process of the family.
type pidWatch struct {
	stop     chan struct{}
	done     chan struct{}
	samples  int
	problems []string
}

func watchPID(path string, f *family) *pidWatch {
	w := &pidWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			pid, err := readPID(path)
			w.samples++
			switch {
			case err != nil:
				w.problem("PID file: %v", err)
			case !slices.Contains(f.live(), pid):
				// Read again: the file may have changed between the
				// read and the look at the processes, the process it
				// named having ended since.
				if again, err := readPID(path); err != nil || again == pid {
					w.problem("PID file names %d, not a live process of the server", pid)
				}
			}
			select {
			case <-tick.C:
			case <-w.stop:
				return
			}
		}
	}()
	return w
}

func (w *pidWatch) problem(format string, args ...any) {
	if len(w.problems) < 5 {
		w.problems = append(w.problems, fmt.Sprintf(format, args...))
	}
}

func (w *pidWatch) end() (int, []string) {
	close(w.stop)
	<-w.done
	return w.samples, w.problems
}

// pace lets the load run between upgrades. It is load pacing, not a
// synchronisation: every wait on the server is on what it prints.
func pace(rng *rand.Rand) {
	time.Sleep(100*time.Millisecond + time.Duration(rng.Int64N(int64(200*time.Millisecond))))
}

// TestUpgrades: -upgrades in-place upgrades in a row (USR2 to the process
// the PID file names) under load from 32 clients sending POST requests,
// half on keep-alive connections, with nothing in front of the server. No
// request fails and none is refused; every old process exits 0, without
// waiting for the drain delay; the PID file always names a live process
// of the server; the serving process holds the same descriptors (TCP
// connections aside) after the last upgrade as after the first; and the
// processes together started and finished as many requests as the clients
// got answered.
func TestUpgrades(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	s := startServer(t)
	load := startLoad(s.base)
	pids := watchPID(s.pidfile, s.family)

	var first, last map[string]int
	var longest, sumUp time.Duration
	done := 0
	for i := range *upgrades {
		pace(rng)
		r, err := s.upgrade(t)
		if err != nil {
			t.Errorf("upgrade %d: %v", i+1, err)
			break
		}
		done++
		longest, sumUp = max(longest, r.elapsed), sumUp+r.elapsed
		kinds, err := fdKinds(r.newPID)
		require.NoError(t, err)
		if i == 0 {
			first = kinds
		}
		last = kinds
	}
	samples, problems := pids.end()
	all := sum(load.Stop())
	s.stop(t)

	assert.Empty(t, problems, "PID file (%d samples)", samples)
	assert.Zero(t, all.Failed(), "requests failed or refused: %v %q", all, all.Errors)
	assert.Equal(t, steady(first), steady(last), "descriptors of the serving process, TCP connections aside, after the first and the last upgrade")
	started, finished, lines := s.requests()
	assert.Equal(t, done+1, lines, "a stats line from every process")
	assert.Equal(t, started, finished, "every request a process started, it finished")
	assert.Equal(t, all.Kinds[proctest.OK], started, "the processes started as many requests as the clients got answered")
	t.Logf("httpserver upgrade totals: %d upgrades, %d requests (%d keep-alive clients of %d): %v; server started %d, finished %d",
		done, all.Sent(), nclients/2, nclients, all, started, finished)
	t.Logf("  every old process exited 0; USR2 to old process gone: longest %v, mean %v (drain delay %v, skipped)",
		longest.Round(time.Millisecond), (sumUp / time.Duration(max(done, 1))).Round(time.Millisecond), upDrain)
	t.Logf("  descriptors of the serving process, connections aside: %d after the first upgrade, %d after the last (%v); with its connections: %d, %d",
		total(steady(first)), total(steady(last)), steady(last), total(first), total(last))
	t.Logf("  PID file sampled %d times, always a live process of the server", samples)
}

// TestUpgradeBadBinary: the binary at the path replaced by one that exits
// 1, one that never gets ready, one that writes garbage on the handshake,
// one that closes it at once, then by nothing at all: each upgrade fails,
// the old process logs why at error level and serves on (no request fails
// under load), the new process is gone, the PID file still names the old
// one; then the good binary is back and the next upgrade works.
func TestUpgradeBadBinary(t *testing.T) {
	s := startServer(t, "-ready-timeout", "2s")
	load := startLoad(s.base)
	for _, tc := range []struct {
		name, script, want string
	}{
		{"exits 1", "#!/bin/sh\nexit 1\n", "exited with status 1 before it was ready"},
		{"never ready", "#!/bin/sh\nexec sleep 3600\n", "was not ready within the ready timeout (2s); killed"},
		{"garbage on the handshake", "#!/bin/sh\nprintf 'hello?\\n' >&3\nexec sleep 3600\n", `broke the handshake: not a handshake message: \"hello?\"; killed`},
		{"closes the handshake", "#!/bin/sh\nexec 3>&-\nexec sleep 3600\n", "closed its end of the handshake before it was ready; killed"},
		{"path gone", "", "upgrade: start the new process: fork/exec " + "BIN: no such file or directory"},
	} {
		if tc.script == "" {
			require.NoError(t, os.Remove(s.bin))
		} else {
			s.deploy(t, []byte(tc.script))
		}
		r, err := s.upgrade(t)
		require.Error(t, err, tc.name)
		assert.Contains(t, r.record, "ERROR upgrade: failed", tc.name)
		assert.Contains(t, r.record, strings.ReplaceAll(tc.want, "BIN", s.bin), tc.name)
		assert.Equal(t, []int{s.serving}, s.family.live(), "%s: only the old process runs", tc.name)
		pid, err := readPID(s.pidfile)
		assert.NoError(t, err)
		assert.Equal(t, s.serving, pid, "%s: the PID file names the old process", tc.name)
	}
	s.deployGood(t)
	r, err := s.upgrade(t)
	require.NoError(t, err, "the next upgrade, with a good binary")
	assert.Equal(t, []int{r.newPID}, s.family.live())
	all := sum(load.Stop())
	s.stop(t)
	assert.Zero(t, all.Failed(), "requests failed or refused: %v %q", all, all.Errors)
	t.Logf("bad binaries: 5 failed upgrades and a good one under load: %v", all)
}

// TestUpgradeRaces: USR2 before the process is ready, a second USR2 while
// an upgrade runs, two USR2 at once, SIGTERM to the old process right
// after the handover, then SIGTERM to the old process during an upgrade:
// no hang, never two processes serving once it settles, and no request
// lost. The server takes 2 s to get ready (-warmup), so that the signals
// land where they are meant to: each is sent once a record says the
// process is warming up, and a process must stall for the whole warm-up
// for one to land later.
func TestUpgradeRaces(t *testing.T) {
	s := installServer(t)
	s.family = startFamily(t, s.bin, nil, nil, "-addr", "127.0.0.1:0", "-pidfile", s.pidfile,
		"-drain-delay", upDrain.String(), "-timeout", "30s", "-http-timeout", "10s", "-warmup", "2s")
	s.serving = s.first()

	// USR2 before Ready: refused, logged; the server then serves.
	_, err := s.stderr.Find(0, wait, "warming up", fmt.Sprintf(" pid=%d ", s.serving))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(s.serving, syscall.SIGUSR2))
	rec, err := s.stderr.Find(0, wait, "WARN upgrade: refused", fmt.Sprintf(" pid=%d ", s.serving))
	require.NoError(t, err)
	assert.Contains(t, rec, "not ready")
	line, err := s.stdout.Find(0, wait, "listening on ")
	require.NoError(t, err)
	s.base = "http://" + strings.TrimPrefix(line, "listening on ")
	load := startLoad(s.base)

	// A second USR2 while the upgrade runs: refused at once.
	old, from, sent := s.serving, s.stderr.Mark(), time.Now()
	require.NoError(t, syscall.Kill(old, syscall.SIGUSR2))
	_, err = s.stderr.Find(from, wait, "upgrade: new process started", fmt.Sprintf(" pid=%d ", old))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(old, syscall.SIGUSR2))
	rec, err = s.stderr.Find(from, wait, "WARN upgrade: refused", fmt.Sprintf(" pid=%d ", old))
	require.NoError(t, err)
	assert.Contains(t, rec, "in progress")
	r, err := s.outcome(t, old, from, sent)
	require.NoError(t, err)
	assert.Equal(t, []int{r.newPID}, s.family.live(), "one process serves")

	// Two USR2 at once: one upgrade. The kernel may merge the two.
	old, from, sent = s.serving, s.stderr.Mark(), time.Now()
	require.NoError(t, syscall.Kill(old, syscall.SIGUSR2))
	require.NoError(t, syscall.Kill(old, syscall.SIGUSR2))
	r, err = s.outcome(t, old, from, sent)
	require.NoError(t, err)
	assert.Len(t, s.stderr.Lines(from, "upgrade: new process started", fmt.Sprintf(" pid=%d ", old)), 1, "one new process")
	assert.Equal(t, []int{r.newPID}, s.family.live(), "one process serves")

	// SIGTERM to the old process right after the handover joins its
	// shutdown: it exits 0, the new one serves on.
	old, from, sent = s.serving, s.stderr.Mark(), time.Now()
	require.NoError(t, syscall.Kill(old, syscall.SIGUSR2))
	_, err = s.stderr.Find(from, wait, "upgrade: done", fmt.Sprintf(" pid=%d ", old))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(old, syscall.SIGTERM))
	r, err = s.outcome(t, old, from, sent)
	require.NoError(t, err)
	assert.Equal(t, []int{r.newPID}, s.family.live(), "one process serves")
	all := sum(load.Stop())
	assert.Zero(t, all.Failed(), "requests failed or refused: %v %q", all, all.Errors)

	// SIGTERM to the old process while the new one warms up: the upgrade
	// ends, the new process is killed and reaped, the old one drains and
	// exits 0, and nothing is left. With nothing in front of the server,
	// clients find the port closed once it has stopped, but no request it
	// began is lost.
	load = startLoad(s.base)
	old, from = s.serving, s.stderr.Mark()
	require.NoError(t, syscall.Kill(old, syscall.SIGUSR2))
	rec, err = s.stderr.Find(from, wait, "upgrade: new process started", fmt.Sprintf(" pid=%d ", old))
	require.NoError(t, err)
	_, err = s.stderr.Find(from, wait, "warming up", fmt.Sprintf(" pid=%d ", attrInt(rec, "new_pid")))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(old, syscall.SIGTERM))
	rec, err = s.stderr.Find(from, wait, "ERROR upgrade: failed", fmt.Sprintf(" pid=%d ", old))
	require.NoError(t, err)
	assert.Contains(t, rec, "shutting down")
	end, err := s.member(old).wait(wait)
	require.NoError(t, err)
	assert.True(t, end.Exited && end.Code == 0, "old process: %v", end)
	assert.Empty(t, s.family.live(), "nothing left running")
	stopped := sum(load.Stop())
	assert.Zero(t, stopped.Kinds[proctest.ReusedBroken]+stopped.Kinds[proctest.Other], "requests lost: %v %q", stopped, stopped.Errors)

	started, finished, _ := s.requests()
	assert.Equal(t, started, finished)
	assert.Equal(t, all.Kinds[proctest.OK]+stopped.Kinds[proctest.OK], started, "the processes started as many requests as the clients got answered")
	t.Logf("races: %v; then, stopping: %v", all, stopped)
}

// TestSocketActivation: started by systemd-socket-activate, the server
// serves on the socket it is given, not on -addr, and an upgrade under
// load keeps that socket: no request fails or is refused.
func TestSocketActivation(t *testing.T) {
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (Debian package systemd; .ci/run installs it)")
	}
	s := installServer(t)
	addr := freeAddr(t)
	s.family = startFamily(t, tool, nil, nil, "-l", addr, "--", s.bin, "-addr", "127.0.0.1:0",
		"-pidfile", s.pidfile, "-drain-delay", upDrain.String(), "-timeout", "30s", "-http-timeout", "10s")
	s.serving = s.first() // systemd-socket-activate execs the server in its place
	// It does so at the first connection once it listens; the connection
	// waits in the socket's queue for the server.
	_, err = s.stderr.Find(0, wait, "Listening on "+addr)
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: wait}
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		first <- err
	}()
	line, err := s.stdout.Find(0, wait, "listening on ")
	require.NoError(t, err)
	assert.Equal(t, "listening on "+addr, line, "the activated socket, not -addr")
	require.NoError(t, <-first, "the connection that started the server")
	s.base = "http://" + addr
	load := startLoad(s.base)
	pace(rand.New(rand.NewPCG(1, 2)))
	r, err := s.upgrade(t)
	require.NoError(t, err)
	line, err = s.stdout.Find(1, wait, "listening on ")
	require.NoError(t, err)
	assert.Equal(t, "listening on "+addr, line, "the new process serves on the same socket")
	pace(rand.New(rand.NewPCG(1, 2)))
	all := sum(load.Stop())
	assert.Zero(t, all.Failed(), "requests failed or refused: %v %q", all, all.Errors)
	assert.Positive(t, all.Kinds[proctest.OK])
	assert.Equal(t, []int{r.newPID}, s.family.live())
	s.stop(t)
	t.Logf("socket activation: upgrade under load: %v", all)
}

// TestListenFDsOtherPID: LISTEN_FDS meant for another process (LISTEN_PID
// names another one) is ignored with a record: the server listens on
// -addr and does not touch descriptor 3.
func TestListenFDsOtherPID(t *testing.T) {
	s := installServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	f, err := fdpass.Dup(ln.(*net.TCPListener), "theirs")
	require.NoError(t, err)
	s.family = startFamily(t, s.bin, []string{"LISTEN_PID=1", "LISTEN_FDS=1"}, []*os.File{f}, "-addr", "127.0.0.1:0")
	f.Close()
	rec, err := s.stderr.Find(0, wait, "LISTEN_FDS is meant for another process")
	require.NoError(t, err)
	assert.Contains(t, rec, "listen_pid=1")
	line, err := s.stdout.Find(0, wait, "listening on ")
	require.NoError(t, err)
	addr := strings.TrimPrefix(line, "listening on ")
	assert.NotEqual(t, ln.Addr().String(), addr)
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	s.serving = s.first()
	s.stop(t)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
