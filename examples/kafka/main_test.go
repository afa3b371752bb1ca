//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

var kills = flag.Int("kills", 20, "how many times TestKills starts the program and sends it SIGTERM")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const (
	wait    = 30 * time.Second // bound on every wait for the process or the cluster
	timeout = 10 * time.Second // the program's -timeout in TestKills
)

// killRun is what one run saw.
type killRun struct {
	args     []string
	produced int           // N of "produced N"
	elapsed  time.Duration // from SIGTERM to the end of the process
	problems []string      // how the run broke the contract; empty when it did not
}

func (k *killRun) problem(format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
}

// killOnce starts the program with a linger, a buffer and a job time drawn
// at random, on the test's cluster (tc) or, when tc is nil, on its
// embedded one; sends SIGTERM at a random moment up to 1.5 s after it has
// started producing; and checks the contract: exit 0, "produced N", the
// topic holds exactly 1..N in order, once each. On the test's cluster the
// test reads the topic itself; on the embedded one the program's read back
// must say the same.
func killOnce(t *testing.T, bin string, tc *testCluster, topic string, rng *rand.Rand, extra ...string) killRun {
	t.Helper()
	k := killRun{args: []string{
		"-topic", topic,
		"-linger", []string{"0s", "5ms", "20ms", "100ms"}[rng.IntN(4)],
		"-buffer", []string{"50", "10000"}[rng.IntN(2)],
		"-job", []string{"100us", "1ms"}[rng.IntN(2)],
		"-timeout", timeout.String(),
	}}
	if tc != nil {
		k.args = append(k.args, "-brokers", tc.addr())
	}
	k.args = append(k.args, extra...)
	p := proctest.Start(t, bin, k.args...)
	if _, err := p.WaitLine("producing to", wait); err != nil {
		k.problem("%v", err)
		return k
	}
	time.Sleep(time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))) // a random moment
	if err := p.Signal(syscall.SIGTERM); err != nil {
		k.problem("SIGTERM: %v", err)
	}
	sent := time.Now()
	r, err := p.Wait(wait)
	k.elapsed = time.Since(sent)
	if err != nil {
		k.problem("%v", err)
		return k
	}
	if !r.Exited || r.Code != 0 {
		k.problem("%v, want exit status 0", r)
	}
	if k.elapsed > timeout {
		k.problem("took %v after SIGTERM, timeout %v", k.elapsed, timeout)
	}
	found := false
	for _, l := range r.Stdout {
		if _, err := fmt.Sscanf(l, "produced %d", &k.produced); err == nil {
			found = true
		}
	}
	if !found {
		k.problem("no line \"produced N\": %q", r.Stdout)
		return k
	}

	if tc == nil {
		want := fmt.Sprintf("read back %s: %d records, 1..%d in order, once each", topic, k.produced, k.produced)
		if !slices.Contains(r.Stdout, want) {
			k.problem("no line %q: %q", want, r.Stdout)
		}
		return k
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ids, err := tc.readIDs(ctx, topic)
	if err != nil {
		k.problem("read %s: %v", topic, err)
		return k
	}
	if n, err := sequence(ids); err != nil {
		k.problem("topic %s: %v", topic, err)
	} else if n != k.produced {
		k.problem("topic %s holds 1..%d, the program says produced %d", topic, n, k.produced)
	}
	return k
}

// TestKills: whenever SIGTERM comes, the program exits 0 and prints
// "produced N", and the topic holds exactly 1..N: nothing lost, nothing
// written twice, nothing out of order. Every other run uses the embedded
// cluster.
func TestKills(t *testing.T) {
	bin := proctest.Build(t, ".")
	tc := newCluster(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	var failed, produced, embedded int
	var longest time.Duration
	for i := range *kills {
		cluster := tc
		if i%2 == 1 {
			cluster = nil
			embedded++
		}
		k := killOnce(t, bin, cluster, "jobs-"+strconv.Itoa(i), rng)
		if len(k.problems) > 0 {
			failed++
			t.Errorf("kill %d %q: %s", i+1, k.args, strings.Join(k.problems, "\n\t"))
		}
		produced += k.produced
		longest = max(longest, k.elapsed)
	}
	assert.Positive(t, produced, "no record was produced before the kills")
	t.Logf("kafka totals: %d kills (%d on the embedded cluster), %d failed; %d records produced and read back, 0 lost, 0 duplicated, 0 out of order; longest SIGTERM to exit: %v",
		*kills, embedded, failed, produced, longest.Round(time.Millisecond))
}

// TestMutantCaught runs TestKills' check against -no-inflight, which gives
// Produce the consume task's context, canceled at the trigger: the client
// then fails the records it holds and has not sent. The check must catch
// it. A mutant killed when every record it holds is already on its way to
// the broker loses nothing, so the runs linger 100 ms, as a producer that
// batches for throughput does: then records are always waiting.
func TestMutantCaught(t *testing.T) {
	bin := proctest.Build(t, ".")
	tc := newCluster(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const runs = 4
	caught := 0
	for i := range runs {
		var cluster *testCluster
		if i%2 == 0 {
			cluster = tc
		}
		k := killOnce(t, bin, cluster, "mutant-"+strconv.Itoa(i), rng, "-no-inflight", "-linger", "100ms")
		if len(k.problems) > 0 {
			caught++
			t.Logf("run %d caught: %s", i+1, strings.Join(k.problems, "; "))
		}
	}
	assert.Equal(t, runs, caught, "a producer given the task's context passed the check: it proves nothing")
	t.Logf("caught %d of %d", caught, runs)
}

// TestBrokerStops: a broker that stops answering while records are
// buffered makes the flush give up at its timeout; the program says how
// many records were not acknowledged and exits 1, well inside its
// timeout; the topic holds 1..M in order, once each, for some M: what
// reached the broker before it stopped.
func TestBrokerStops(t *testing.T) {
	bin := proctest.Build(t, ".")
	tc := newCluster(t)
	const flushTimeout = 2 * time.Second
	p := proctest.Start(t, bin, "-brokers", tc.addr(), "-topic", "stops", "-linger", "5ms",
		"-flush-timeout", flushTimeout.String(), "-timeout", timeout.String())
	p.MustWaitLine("producing to", wait)

	// Records have reached the broker...
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		ids, err := tc.readIDs(ctx, "stops")
		require.NoError(t, err)
		if len(ids) > 0 {
			break
		}
	}
	// ...and then it stops answering, with records on their way to it.
	tc.proxy.pause()
	select {
	case <-tc.proxy.droppedProduce():
	case <-time.After(wait):
		t.Fatal("no Produce request reached the paused broker")
	}
	sent := time.Now() // before the signal, so that a pause here cannot shorten what is measured
	require.NoError(t, p.Signal(syscall.SIGTERM))
	r := p.MustWait(wait)
	elapsed := time.Since(sent)

	require.True(t, r.Exited, r.String())
	assert.Equal(t, 1, r.Code)
	assert.GreaterOrEqual(t, elapsed, flushTimeout, "the flush waits for the broker until its timeout")
	assert.Less(t, elapsed, timeout, "then gives up, inside the whole timeout")
	var k int
	found := false
	for _, l := range r.Stdout {
		if _, err := fmt.Sscanf(l, "unflushed %d", &k); err == nil {
			found = true
		}
		assert.NotContains(t, l, "produced", "never a success with records missing")
	}
	require.True(t, found, "no line \"unflushed K\": %q", r.Stdout)
	assert.Positive(t, k)
	assert.True(t, slices.ContainsFunc(r.Stderr, func(l string) bool {
		return strings.Contains(l, "hook=flush") && strings.Contains(l, `status="timed out"`)
	}), "%q", r.Stderr)

	tc.proxy.resume()
	ids, err := tc.readIDs(ctx, "stops")
	require.NoError(t, err)
	_, err = sequence(ids)
	assert.NoError(t, err, "the topic holds 1..M")
	t.Logf("broker stopped: unflushed %d, the topic holds 1..%d, exit 1 after %v", k, len(ids), elapsed.Round(time.Millisecond))
}

// TestNoBroker: brokers that do not answer at start, whether nothing
// listens (connection refused) or something accepts and never answers,
// are an error: the program says so and exits 1 within -start-timeout.
func TestNoBroker(t *testing.T) {
	bin := proctest.Build(t, ".")
	const startTimeout = 2 * time.Second

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedAddr := refused.Addr().String()
	require.NoError(t, refused.Close())

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held []net.Conn // accepted, held open, never answered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	defer func() {
		silent.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	}()

	for name, addr := range map[string]string{"refused": refusedAddr, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			p := proctest.Start(t, bin, "-brokers", addr, "-start-timeout", startTimeout.String())
			r := p.MustWait(wait)
			require.True(t, r.Exited, r.String())
			assert.Equal(t, 1, r.Code)
			stderr := strings.Join(r.Stderr, "\n")
			assert.Contains(t, stderr, "kafka: brokers "+addr)
			assert.Empty(t, r.Stdout, "it never started producing")
			t.Logf("%s: %v: %q", name, r, r.Stderr)
		})
	}
}

// TestFlags: -timeout works on its own (the flush timeout left at its
// default shrinks to fit); an explicit flush timeout that leaves no time
// for the hooks after it is refused.
func TestFlags(t *testing.T) {
	bin := proctest.Build(t, ".")
	t.Run("timeout alone", func(t *testing.T) {
		p := proctest.Start(t, bin, "-timeout", "2s")
		p.MustWaitLine("producing to", wait)
		require.NoError(t, p.Signal(syscall.SIGTERM))
		r := p.MustWait(wait)
		assert.Equal(t, 0, r.Code, r.String())
		assert.True(t, slices.ContainsFunc(r.Stdout, func(l string) bool { return strings.HasPrefix(l, "produced ") }), "%q", r.Stdout)
	})
	t.Run("flush timeout not shorter than timeout", func(t *testing.T) {
		r := proctest.Start(t, bin, "-timeout", "2s", "-flush-timeout", "2s").MustWait(wait)
		assert.Equal(t, 2, r.Code, r.String())
		assert.Contains(t, strings.Join(r.Stderr, "\n"), "-flush-timeout 2s must be shorter than -timeout 2s")
	})
}
