//go:build unix

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

var kills = flag.Int("kills", 10, "how many times TestKills starts the server under load and sends it SIGTERM")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const (
	wait     = 20 * time.Second // bound on every wait for the process
	handler  = 200 * time.Millisecond
	drain    = 500 * time.Millisecond // at least twice the handler time
	nclients = 32
)

// serverArgs are the flags of every run under load.
var serverArgs = []string{"-addr", "127.0.0.1:0", "-drain-delay", drain.String(), "-timeout", "10s", "-http-timeout", "5s"}

// killRun is what one run under load saw, from both sides.
type killRun struct {
	follow, ignore    proctest.Tally // clients that follow /healthz, clients that do not
	probed            bool           // /work answered 200 with Connection: close after /healthz turned 503
	started, finished int            // the server's count of /work requests
	ok                int            // the clients' count of /work requests answered 200 in full
	elapsed           time.Duration  // from SIGTERM to the end of the process
	problems          []string       // how the run broke the contract; empty when it did not
}

func (k *killRun) problem(format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
}

// killUnderLoad starts the server, puts it under load from nclients
// clients, sends SIGTERM mid-load, and checks the contract on both sides.
// Half the clients follow /healthz, as clients behind a load balancer do:
// they send nothing more once it has answered 503. Half of each group keep
// their connection alive, half open a fresh one per request. Every request
// is a POST, which net/http never retries once any of it was written.
func killUnderLoad(t *testing.T, bin string, rng *rand.Rand, extra ...string) killRun {
	t.Helper()
	var k killRun
	p := proctest.Start(t, bin, append(slices.Clone(serverArgs), extra...)...)
	line, err := p.WaitLine("listening on ", wait)
	if err != nil {
		k.problem("%v", err)
		return k
	}
	base := "http://" + strings.TrimPrefix(line, "listening on ")

	watch := proctest.WatchHealth(base+"/healthz", 10*time.Millisecond)
	clients := make([]proctest.Client, nclients)
	for i := range clients {
		clients[i].KeepAlive = i%2 == 0
		if i%4 < 2 {
			clients[i].Follow = watch.Down()
		}
	}
	load := proctest.StartLoad(fmt.Sprintf("%s/work?ms=%d", base, handler.Milliseconds()), clients)
	// Load pacing: SIGTERM comes when requests are in flight on every
	// client and keep-alive connections have been reused.
	time.Sleep(300*time.Millisecond + time.Duration(rng.Int64N(int64(500*time.Millisecond))))
	if err := p.Signal(syscall.SIGTERM); err != nil {
		k.problem("SIGTERM: %v", err)
	}
	sent := time.Now()

	select {
	case <-watch.Done(): // a 503, or an error reported below
	case <-time.After(wait):
		k.problem("/healthz did not answer 503 within %v of SIGTERM", wait)
	}
	if closed(watch.Down()) {
		k.probed = probe(&k, base+"/work?ms=0")
	}

	r, err := p.Wait(wait)
	k.elapsed = time.Since(sent)
	tallies := load.Stop()
	if _, err := watch.Stop(); err != nil {
		k.problem("/healthz failed before it answered 503: %v", err)
	}
	if err != nil {
		k.problem("%v", err)
		return k
	}
	for i, tl := range tallies {
		if clients[i].Follow != nil {
			k.follow.Add(tl)
		} else {
			k.ignore.Add(tl)
		}
	}
	k.ok = k.follow.Kinds[proctest.OK] + k.ignore.Kinds[proctest.OK]
	if k.probed {
		k.ok++
	}

	if !r.Exited || r.Code != 0 {
		k.problem("%v, want exit status 0", r)
	}
	if !stats(r.Stdout, &k.started, &k.finished) {
		k.problem("no stats line on stdout: %q", r.Stdout)
	}
	if k.started != k.finished {
		k.problem("server: started %d requests, finished %d", k.started, k.finished)
	}
	if k.ok != k.started {
		k.problem("server started %d requests, clients got %d full 200s", k.started, k.ok)
	}
	if n := k.follow.Failed(); n > 0 {
		k.problem("clients following /healthz: %d failed: %v %q", n, k.follow, k.follow.Errors)
	}
	if n := k.ignore.Kinds[proctest.ReusedBroken] + k.ignore.Kinds[proctest.Other]; n > 0 {
		k.problem("clients ignoring /healthz: %d failed on reused connections or otherwise: %v %q", n, k.ignore, k.ignore.Errors)
	}
	return k
}

// probe sends one request during the drain delay, on a keep-alive client,
// and reports whether it got a full 200 telling the client to close.
func probe(k *killRun, url string) bool {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	kind, resp, err := proctest.Post(context.Background(), &http.Client{Transport: tr, Timeout: wait}, url)
	switch {
	case kind != proctest.OK:
		k.problem("/work after /healthz turned 503: %v: %v", kind, err)
	case !resp.Close:
		k.problem("/work after /healthz turned 503: no Connection: close")
	default:
		return true
	}
	return false
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stats reads the line printed by the stats hook.
func stats(stdout []string, started, finished *int) bool {
	for _, l := range stdout {
		if _, err := fmt.Sscanf(l, "requests started=%d finished=%d", started, finished); err == nil {
			return true
		}
	}
	return false
}

// TestKills: under load, SIGTERM ends the server with exit 0; every request
// whose handler started gets its full 200; clients that follow /healthz see
// no failure at all; the others may find the listener gone (refused, or
// reset on a fresh connection) but never lose a request on a reused
// keep-alive connection, because the server says Connection: close while
// draining instead of cutting idle connections under them.
func TestKills(t *testing.T) {
	bin := proctest.Build(t, "./examples/httpserver")
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	var total killRun
	var failed int
	for i := range *kills {
		k := killUnderLoad(t, bin, rng)
		if len(k.problems) > 0 {
			failed++
			t.Errorf("kill %d: %s", i+1, strings.Join(k.problems, "\n\t"))
		}
		total.follow.Add(k.follow)
		total.ignore.Add(k.ignore)
		total.started += k.started
		total.finished += k.finished
		total.ok += k.ok
		total.elapsed = max(total.elapsed, k.elapsed)
		if k.probed {
			total.probed = true
		}
	}
	t.Logf("httpserver totals: %d kills, %d failed; server started %d, finished %d; clients got %d full 200s",
		*kills, failed, total.started, total.finished, total.ok)
	t.Logf("  following /healthz: %v", total.follow)
	t.Logf("  ignoring /healthz:  %v", total.ignore)
	t.Logf("  longest SIGTERM to exit: %v (drain delay %v, handler %v)", total.elapsed.Round(time.Millisecond), drain, handler)
}

// TestMutantCaught runs TestKills' check against -no-graceful, a server
// that closes at once on SIGTERM, to show that the check catches the
// regression.
func TestMutantCaught(t *testing.T) {
	bin := proctest.Build(t, "./examples/httpserver")
	rng := rand.New(rand.NewPCG(1, 2))
	const runs = 3
	caught := 0
	for i := range runs {
		k := killUnderLoad(t, bin, rng, "-no-graceful")
		if len(k.problems) > 0 {
			caught++
			t.Logf("run %d caught by %d checks:", i+1, len(k.problems))
			for _, p := range k.problems {
				t.Logf("  %.140s", p)
			}
		}
	}
	assert.Positive(t, caught, "no run of the server without a drain broke the contract: the check proves nothing")
	t.Logf("caught %d of %d", caught, runs)
}

// TestDrain: from SIGTERM on, /healthz answers 503 at once while /work
// keeps answering 200, with Connection: close, until the drain delay ends.
func TestDrain(t *testing.T) {
	bin := proctest.Build(t, "./examples/httpserver")
	// Long enough that the 503 check (delay/2) and the request answered
	// inside the drain keep wide margins on two busy cores under -race.
	const delay = 3 * time.Second
	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-drain-delay", delay.String())
	base := "http://" + strings.TrimPrefix(p.MustWaitLine("listening on ", wait), "listening on ")

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: wait}
	ctx := context.Background()
	kind, resp, err := proctest.Post(ctx, hc, base+"/work?ms=0")
	require.Equal(t, proctest.OK, kind, "%v", err)
	assert.False(t, resp.Close, "no Connection: close before SIGTERM")
	_, err = proctest.WatchHealth(base+"/healthz", time.Hour).Stop()
	require.NoError(t, err, "/healthz answers 200 before SIGTERM")

	watch := proctest.WatchHealth(base+"/healthz", 5*time.Millisecond)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	sent := time.Now()
	select {
	case <-watch.Down():
	case <-time.After(wait):
		t.Fatal("/healthz did not turn 503")
	}
	at, err := watch.Stop()
	require.NoError(t, err)
	assert.Less(t, at.Sub(sent), delay/2, "503 comes at once")

	// The keep-alive connection from before is still served, and told to close.
	kind, resp, err = proctest.Post(ctx, hc, base+"/work?ms=50")
	require.Equal(t, proctest.OK, kind, "%v", err)
	assert.True(t, resp.Close, "Connection: close while draining")
	assert.Less(t, time.Since(sent), delay, "answered inside the drain delay")

	r := p.MustWait(wait)
	assert.GreaterOrEqual(t, time.Since(sent), delay, "the listener stays open for the drain delay")
	require.True(t, r.Exited, r.String())
	assert.Equal(t, 0, r.Code)
	var started, finished int
	require.True(t, stats(r.Stdout, &started, &finished), "%q", r.Stdout)
	assert.Equal(t, []int{2, 2}, []int{started, finished})
}

// TestIdleConnection: a connection that never sends a byte (net/http's
// Shutdown waits 5 s for those) is cut when the HTTP hook's timeout ends,
// and the hook after it still runs. The hook is recorded timed out, so the
// exit code is 1.
func TestIdleConnection(t *testing.T) {
	bin := proctest.Build(t, "./examples/httpserver")
	const (
		delay       = 100 * time.Millisecond
		httpTimeout = time.Second
	)
	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-drain-delay", delay.String(),
		"-http-timeout", httpTimeout.String(), "-timeout", "10s")
	addr := strings.TrimPrefix(p.MustWaitLine("listening on ", wait), "listening on ")

	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()
	// The accept queue is first in, first out: once a later connection has
	// been served, the server has accepted the idle one and tracks it.
	_, err = proctest.WatchHealth("http://"+addr+"/healthz", time.Hour).Stop()
	require.NoError(t, err)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	sent := time.Now()
	r := p.MustWait(wait)
	elapsed := time.Since(sent)

	assert.GreaterOrEqual(t, elapsed, delay+httpTimeout, "the hook waits for the connection until its timeout")
	// The bound is net/http's, not a guess at this machine's speed:
	// Server.Shutdown left to itself closes a connection that never sent a
	// byte only once it has been new for 5 s, so a process that ended
	// sooner did not wait for it. The hook's own timeout (1 s) leaves
	// seconds of margin for a busy machine under -race.
	assert.Less(t, elapsed, delay+5*time.Second, "then cuts it, before net/http's 5 s")
	require.True(t, r.Exited, r.String())
	assert.Equal(t, 1, r.Code, "the HTTP hook timed out: exit 1")
	assert.Contains(t, r.Stdout, "requests started=0 finished=0", "the hook after the HTTP hook ran")
	assert.True(t, slices.ContainsFunc(r.Stderr, func(l string) bool {
		return strings.Contains(l, "hook=http") && strings.Contains(l, `status="timed out"`)
	}), "%q", r.Stderr)

	require.NoError(t, idle.SetReadDeadline(time.Now().Add(wait)))
	_, err = idle.Read(make([]byte, 1))
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the idle connection was closed: %v", err)
	assert.Error(t, err)
}

func TestBadRequest(t *testing.T) {
	bin := proctest.Build(t, "./examples/httpserver")
	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-drain-delay", "0s")
	base := "http://" + strings.TrimPrefix(p.MustWaitLine("listening on ", wait), "listening on ")
	for _, q := range []string{"", "?ms=x", "?ms=-1", "?ms=60001"} {
		resp, err := http.Get(base + "/work" + q)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
	http.DefaultClient.CloseIdleConnections()
	require.NoError(t, p.Signal(syscall.SIGINT))
	r := p.MustWait(wait)
	assert.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "requests started=0 finished=0")
}
