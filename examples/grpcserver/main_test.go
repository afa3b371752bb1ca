//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/lastcall-go/lastcall/examples/grpcserver/workv1"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

var kills = flag.Int("kills", 10, "how many times TestKills starts the server under load and sends it SIGTERM")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const (
	wait     = 20 * time.Second // bound on every wait for the process
	handler  = 200 * time.Millisecond
	drain    = time.Second // several handler times, and the scheduling delays of two busy cores under -race
	nclients = 32
)

// serverArgs are the flags of every run under load.
var serverArgs = []string{"-addr", "127.0.0.1:0", "-drain-delay", drain.String(), "-timeout", "10s", "-grpc-timeout", "5s"}

func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	return cc
}

// tally counts the outcomes of Work RPCs.
type tally struct {
	ok, unavailable, other int
	errors                 []string // the first few errors other than Unavailable
}

func (t *tally) add(err error) {
	switch status.Code(err) {
	case codes.OK:
		t.ok++
	case codes.Unavailable:
		t.unavailable++
	default:
		t.other++
		if len(t.errors) < 5 {
			t.errors = append(t.errors, err.Error())
		}
	}
}

func (t *tally) merge(o tally) {
	t.ok += o.ok
	t.unavailable += o.unavailable
	t.other += o.other
	t.errors = append(t.errors, o.errors...)
}

func (t tally) failed() int { return t.unavailable + t.other }

func (t tally) String() string {
	return fmt.Sprintf("%d ok, %d unavailable, %d other", t.ok, t.unavailable, t.other)
}

// healthWatch polls the health service's Check until it answers
// NOT_SERVING (down is then closed) or fails.
type healthWatch struct {
	down   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
	at     time.Time // when NOT_SERVING was seen; read after down is closed
	err    error     // an error before NOT_SERVING; read after done
}

func watchHealth(cc *grpc.ClientConn, every time.Duration) *healthWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &healthWatch{down: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	hc := healthgrpc.NewHealthClient(cc)
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			resp, err := hc.Check(ctx, &healthgrpc.HealthCheckRequest{})
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				w.err = err
				return
			case resp.Status == healthgrpc.HealthCheckResponse_NOT_SERVING:
				w.at = time.Now()
				close(w.down)
				return
			}
			select {
			case <-time.After(every):
			case <-ctx.Done():
			}
		}
	}()
	return w
}

func (w *healthWatch) stop() error {
	w.cancel()
	<-w.done
	return w.err
}

// load is nclients clients calling Work in a loop, each on a connection of
// its own. A client given follow stops sending once follow is closed, as a
// client behind a load balancer that follows the health service does.
type load struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	first   sync.WaitGroup // done once every client has had one answer
	tallies []tally
}

func startLoad(t testing.TB, addr string, follow []<-chan struct{}) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, tallies: make([]tally, len(follow))}
	l.first.Add(len(follow))
	for i := range follow {
		cc := dial(t, addr)
		wc := workv1.NewWorkerClient(cc)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer cc.Close()
			firstDone := false
			defer func() {
				if !firstDone {
					l.first.Done()
				}
			}()
			for ctx.Err() == nil && !closed(follow[i]) {
				rctx, rcancel := context.WithTimeout(ctx, wait)
				resp, err := wc.Work(rctx, &workv1.WorkRequest{Ms: handler.Milliseconds()})
				rcancel()
				if ctx.Err() != nil && err != nil {
					return // the test stopped the load: not an outcome
				}
				if err == nil && resp.Ms != handler.Milliseconds() {
					err = status.Errorf(codes.Internal, "answered ms=%d, want %d", resp.Ms, handler.Milliseconds())
				}
				l.tallies[i].add(err)
				if !firstDone {
					firstDone = true
					l.first.Done()
				}
				if err != nil {
					// The server is gone: try again a little later.
					select {
					case <-time.After(5 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	return l
}

// started waits until every client has had an answer, or timeout.
func (l *load) started(timeout time.Duration) bool {
	ch := make(chan struct{})
	go func() { l.first.Wait(); close(ch) }()
	select {
	case <-ch:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (l *load) stop() []tally {
	l.cancel()
	l.wg.Wait()
	return l.tallies
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// killRun is what one run under load saw, from both sides.
type killRun struct {
	follow, ignore    tally // clients that follow the health service, clients that do not
	sawNotServing     bool  // health answered NOT_SERVING
	judged            bool  // NOT_SERVING was seen soon enough to hold the followers to no failure
	probed            bool  // Work answered after health turned NOT_SERVING
	started, finished int   // the server's count of Work RPCs
	ok                int   // the clients' count of Work RPCs answered in full
	elapsed           time.Duration
	problems          []string
}

func (k *killRun) problem(format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
}

// killUnderLoad starts the server, puts it under load from nclients
// clients, sends SIGTERM at a random moment once every client has been
// answered, and checks the contract on both sides. Half the clients
// follow the health service: they send nothing more once it has answered
// NOT_SERVING.
func killUnderLoad(t *testing.T, bin string, rng *rand.Rand, extra ...string) killRun {
	t.Helper()
	var k killRun
	p := proctest.Start(t, bin, append(slices.Clone(serverArgs), extra...)...)
	line, err := p.WaitLine("listening on ", wait)
	if err != nil {
		k.problem("%v", err)
		return k
	}
	addr := strings.TrimPrefix(line, "listening on ")

	hcc := dial(t, addr)
	defer hcc.Close()
	watch := watchHealth(hcc, 10*time.Millisecond)
	follow := make([]<-chan struct{}, nclients)
	for i := range follow {
		if i%2 == 0 {
			follow[i] = watch.down
		}
	}
	l := startLoad(t, addr, follow)
	if !l.started(wait) {
		k.problem("not every client was answered within %v", wait)
	}
	time.Sleep(time.Duration(rng.Int64N(int64(2 * handler)))) // a random moment under load
	if err := p.Signal(syscall.SIGTERM); err != nil {
		k.problem("SIGTERM: %v", err)
	}
	sent := time.Now()

	select {
	case <-watch.done: // NOT_SERVING, or an error reported below
	case <-time.After(wait):
		k.problem("health did not answer NOT_SERVING within %v of SIGTERM", wait)
	}
	if closed(watch.down) {
		k.sawNotServing = true
		// The trigger came after sent: an RPC sent well inside the drain
		// delay from then must be answered. One sent later proves nothing.
		// Likewise the followers can be held to no failure only when they
		// learnt of NOT_SERVING well inside the drain delay: a load
		// balancer that looks later sends after the drain, as it would in
		// production. On two busy cores under -race that happens.
		k.judged = watch.at.Sub(sent) < drain/2
		if time.Since(sent) < drain/2 {
			k.probed = probe(&k, hcc)
		}
	}

	r, err := p.Wait(wait)
	k.elapsed = time.Since(sent)
	tallies := l.stop()
	if err := watch.stop(); err != nil {
		k.problem("health failed before it answered NOT_SERVING: %v", err)
	}
	if err != nil {
		k.problem("%v", err)
		return k
	}
	for i, tl := range tallies {
		if follow[i] != nil {
			k.follow.merge(tl)
		} else {
			k.ignore.merge(tl)
		}
	}
	k.ok = k.follow.ok + k.ignore.ok
	if k.probed {
		k.ok++
	}

	if !r.Exited || r.Code != 0 {
		k.problem("%v, want exit status 0", r)
	}
	if !rpcStats(r.Stdout, &k.started, &k.finished) {
		k.problem("no stats line on stdout: %q", r.Stdout)
	}
	if k.started != k.finished {
		k.problem("server: started %d RPCs, finished %d", k.started, k.finished)
	}
	if k.ok != k.started {
		k.problem("server started %d RPCs, clients got %d answers", k.started, k.ok)
	}
	if n := k.follow.failed(); n > 0 && k.judged {
		k.problem("clients following health: %d failed: %v %q", n, k.follow, k.follow.errors)
	}
	if k.ignore.other > 0 {
		k.problem("clients ignoring health: %d failed other than Unavailable: %q", k.ignore.other, k.ignore.errors)
	}
	return k
}

// probe sends one RPC once health has answered NOT_SERVING, on the
// connection that saw it, and reports whether it was answered: the server
// still serves during the drain delay.
func probe(k *killRun, cc *grpc.ClientConn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := workv1.NewWorkerClient(cc).Work(ctx, &workv1.WorkRequest{Ms: 0})
	if err != nil {
		k.problem("Work after health turned NOT_SERVING: %v", err)
		return false
	}
	return resp.Ms == 0
}

// rpcStats reads the line printed by the stats hook.
func rpcStats(stdout []string, started, finished *int) bool {
	for _, l := range stdout {
		if _, err := fmt.Sscanf(l, "rpcs started=%d finished=%d", started, finished); err == nil {
			return true
		}
	}
	return false
}

// TestKills: under load, SIGTERM ends the server with exit 0; health turns
// NOT_SERVING while Work is still served; every RPC the server began is
// answered in full; clients that follow health see no failure at all; the
// others may find the server gone (Unavailable) but nothing else.
func TestKills(t *testing.T) {
	bin := proctest.Build(t, ".")
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	var total killRun
	var failed, seen, notServing, judged int
	for i := range *kills {
		k := killUnderLoad(t, bin, rng)
		if len(k.problems) > 0 {
			failed++
			t.Errorf("kill %d: %s", i+1, strings.Join(k.problems, "\n\t"))
		}
		total.follow.merge(k.follow)
		total.ignore.merge(k.ignore)
		total.started += k.started
		total.finished += k.finished
		total.ok += k.ok
		total.elapsed = max(total.elapsed, k.elapsed)
		if k.sawNotServing {
			seen++
		}
		if k.probed {
			notServing++
		}
		if k.judged {
			judged++
		}
	}
	assert.Positive(t, notServing, "no kill showed Work served after health turned NOT_SERVING")
	assert.Positive(t, judged, "no kill held the clients following health to no failure")
	t.Logf("grpcserver totals: %d kills, %d failed; server started %d RPCs, finished %d; clients got %d answers",
		*kills, failed, total.started, total.finished, total.ok)
	t.Logf("  following health: %v (held to no failure in %d kills, the others saw NOT_SERVING too late)", total.follow, judged)
	t.Logf("  ignoring health:  %v", total.ignore)
	t.Logf("  NOT_SERVING seen: %d of %d kills; with Work still served after it: %d (the others saw it too late to tell)", seen, *kills, notServing)
	t.Logf("  longest SIGTERM to exit: %v (drain delay %v, handler %v)", total.elapsed.Round(time.Millisecond), drain, handler)
}

// TestMutantCaught runs TestKills' check against -no-graceful, a server
// that stops at once on SIGTERM, to show that the check catches it.
func TestMutantCaught(t *testing.T) {
	bin := proctest.Build(t, ".")
	rng := rand.New(rand.NewPCG(1, 2))
	const runs = 3
	caught := 0
	for i := range runs {
		k := killUnderLoad(t, bin, rng, "-no-graceful")
		if len(k.problems) > 0 {
			caught++
			t.Logf("run %d caught by %d checks:", i+1, len(k.problems))
			for _, p := range k.problems {
				t.Logf("  %.160s", p)
			}
		}
	}
	assert.Equal(t, runs, caught, "a server without graceful stop passed the check: it proves nothing")
	t.Logf("caught %d of %d", caught, runs)
}

// TestHealthWatch: a Watch stream on the health service sees NOT_SERVING
// at the trigger, and is ended when GracefulStop starts, so that it does
// not hold the server until its timeout.
func TestHealthWatch(t *testing.T) {
	bin := proctest.Build(t, ".")
	const delay = 300 * time.Millisecond
	const grpcTimeout = 10 * time.Second
	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-drain-delay", delay.String(),
		"-grpc-timeout", grpcTimeout.String(), "-timeout", "15s")
	addr := strings.TrimPrefix(p.MustWaitLine("listening on ", wait), "listening on ")
	cc := dial(t, addr)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	stream, err := healthgrpc.NewHealthClient(cc).Watch(ctx, &healthgrpc.HealthCheckRequest{
		Service: workv1.Worker_ServiceDesc.ServiceName,
	})
	require.NoError(t, err)
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.Equal(t, healthgrpc.HealthCheckResponse_SERVING, resp.Status)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	sent := time.Now()
	resp, err = stream.Recv()
	require.NoError(t, err)
	assert.Equal(t, healthgrpc.HealthCheckResponse_NOT_SERVING, resp.Status)
	_, err = stream.Recv()
	assert.Equal(t, codes.Unavailable, status.Code(err), "the stream ends when the server stops: %v", err)

	r := p.MustWait(wait)
	assert.Less(t, time.Since(sent), grpcTimeout, "the Watch stream did not hold GracefulStop to its timeout")
	require.True(t, r.Exited, r.String())
	assert.Equal(t, 0, r.Code)
}

// TestStuckRPC: an RPC that outlives the gRPC hook's timeout is cut by
// Stop, the hooks after it still run, and the hook is recorded timed out,
// so the exit code is 1.
func TestStuckRPC(t *testing.T) {
	bin := proctest.Build(t, ".")
	const grpcTimeout = time.Second
	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-drain-delay", "0s",
		"-grpc-timeout", grpcTimeout.String(), "-timeout", "10s")
	addr := strings.TrimPrefix(p.MustWaitLine("listening on ", wait), "listening on ")
	sentHeaders := make(chan struct{})
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(headersSent{method: "/lastcall.examples.work.v1.Worker/Work", ms: 60000, ch: sentHeaders}))
	require.NoError(t, err)
	defer cc.Close()
	wc := workv1.NewWorkerClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	stuck := make(chan error, 1)
	go func() {
		_, err := wc.Work(ctx, &workv1.WorkRequest{Ms: 60000})
		stuck <- err
	}()
	select {
	case <-sentHeaders:
	case <-time.After(wait):
		t.Fatal("the long RPC was not sent")
	}
	// Streams of one connection reach the server in order: once a later
	// RPC is answered, the server has begun the long one.
	_, err = wc.Work(ctx, &workv1.WorkRequest{Ms: 0})
	require.NoError(t, err)

	sent := time.Now() // before the signal, so that a pause here cannot shorten what is measured
	require.NoError(t, p.Signal(syscall.SIGTERM))
	r := p.MustWait(wait)
	elapsed := time.Since(sent)
	assert.GreaterOrEqual(t, elapsed, grpcTimeout, "GracefulStop waits for the RPC until its timeout")
	assert.Less(t, elapsed, grpcTimeout+5*time.Second, "then Stop cuts it")
	require.True(t, r.Exited, r.String())
	assert.Equal(t, 1, r.Code, "the gRPC hook timed out: exit 1")
	assert.Contains(t, r.Stdout, "rpcs started=2 finished=1", "the hook after the gRPC hook ran")
	assert.True(t, slices.ContainsFunc(r.Stderr, func(l string) bool {
		return strings.Contains(l, "hook=grpc") && strings.Contains(l, `status="timed out"`)
	}), "%q", r.Stderr)
	select {
	case err := <-stuck:
		assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	case <-time.After(wait):
		t.Fatal("the stuck RPC was not cut")
	}
}

// TestAddrInUse: an address another process listens on is an error at
// start, with the reason, and a non-zero exit.
func TestAddrInUse(t *testing.T) {
	bin := proctest.Build(t, ".")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	r := proctest.Start(t, bin, "-addr", ln.Addr().String()).MustWait(wait)
	require.True(t, r.Exited, r.String())
	assert.NotEqual(t, 0, r.Code)
	assert.Contains(t, strings.Join(r.Stderr, "\n"), "address already in use")
	assert.Empty(t, r.Stdout, "it never said it was listening")
}

// TestFlags: -timeout works on its own (the drain delay and the gRPC
// timeout left at their defaults shrink to fit); an explicit drain delay
// that leaves no time is refused.
func TestFlags(t *testing.T) {
	bin := proctest.Build(t, ".")
	t.Run("timeout alone", func(t *testing.T) {
		p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-timeout", "2s")
		p.MustWaitLine("listening on ", wait)
		require.NoError(t, p.Signal(syscall.SIGTERM))
		sent := time.Now()
		r := p.MustWait(wait)
		assert.Equal(t, 0, r.Code, r.String())
		assert.Less(t, time.Since(sent), 2*time.Second+wait/4)
		assert.True(t, slices.ContainsFunc(r.Stderr, func(l string) bool {
			return strings.Contains(l, "timeout=2s") && strings.Contains(l, "drain_delay=500ms")
		}), "%q", r.Stderr)
	})
	t.Run("drain not shorter than timeout", func(t *testing.T) {
		r := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-timeout", "2s", "-drain-delay", "2s").MustWait(wait)
		assert.Equal(t, 2, r.Code, r.String())
		assert.Contains(t, strings.Join(r.Stderr, "\n"), "-drain-delay 2s must be shorter than -timeout 2s")
	})
}

// TestBadRequest: ms out of range is InvalidArgument and not counted.
func TestBadRequest(t *testing.T) {
	bin := proctest.Build(t, ".")
	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-drain-delay", "0s")
	addr := strings.TrimPrefix(p.MustWaitLine("listening on ", wait), "listening on ")
	cc := dial(t, addr)
	wc := workv1.NewWorkerClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, ms := range []int64{-1, 60001} {
		_, err := wc.Work(ctx, &workv1.WorkRequest{Ms: ms})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "ms=%d: %v", ms, err)
	}
	resp, err := wc.Work(ctx, &workv1.WorkRequest{Ms: 5})
	require.NoError(t, err)
	assert.Equal(t, int64(5), resp.Ms)
	require.NoError(t, cc.Close())
	require.NoError(t, p.Signal(syscall.SIGINT))
	r := p.MustWait(wait)
	assert.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, "rpcs started=1 finished=1")
}

// headersSent is a client stats handler that closes ch once the headers of
// a call to method asking for ms have been sent.
type headersSent struct {
	method string
	ms     int64
	ch     chan struct{}
}

type callKey struct{}

func (h headersSent) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, callKey{}, info.FullMethodName)
}

func (h headersSent) HandleRPC(ctx context.Context, s stats.RPCStats) {
	switch s := s.(type) {
	case *stats.OutPayload:
		// The payload follows the headers on the wire.
		if req, ok := s.Payload.(*workv1.WorkRequest); ok && ctx.Value(callKey{}) == h.method && req.Ms == h.ms {
			close(h.ch)
		}
	}
}

func (headersSent) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (headersSent) HandleConn(context.Context, stats.ConnStats)                       {}
