//go:build unix

package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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

var kills = flag.Int("kills", 30, "how many times TestKills starts the worker and sends it SIGTERM")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const (
	wait    = 20 * time.Second // bound on every wait for the process
	timeout = 10 * time.Second // the worker's -timeout in TestKills
)

// killRun is what one run saw.
type killRun struct {
	args     []string
	flushed  int           // N of the last line "flushed N"
	elapsed  time.Duration // from SIGTERM to the end of the process
	problems []string      // how the run broke the contract; empty when it did not
}

func (k *killRun) problem(format string, args ...any) {
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
}

// killOnce starts the worker with a batch size and an interval drawn at
// random (so that both flush triggers are exercised), sends SIGTERM 50 ms
// to 1 s after it has started consuming, and checks the contract: exit 0,
// last line "flushed N", the file holds exactly 1..N.
func killOnce(t *testing.T, bin, out string, rng *rand.Rand, extra ...string) killRun {
	t.Helper()
	k := killRun{args: []string{
		"-out", out,
		"-batch", strconv.Itoa([]int{1, 10, 100, 1000}[rng.IntN(4)]),
		"-interval", []string{"2ms", "20ms", "200ms"}[rng.IntN(3)],
		"-job", []string{"100us", "1ms"}[rng.IntN(2)],
		"-timeout", timeout.String(),
	}}
	k.args = append(k.args, extra...)
	p := proctest.Start(t, bin, k.args...)
	if _, err := p.WaitLine("consuming jobs", wait); err != nil {
		k.problem("%v", err)
		return k
	}
	time.Sleep(50*time.Millisecond + time.Duration(rng.Int64N(int64(950*time.Millisecond))))
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
	last := ""
	if len(r.Stdout) > 0 {
		last = r.Stdout[len(r.Stdout)-1]
	}
	if _, err := fmt.Sscanf(last, "flushed %d", &k.flushed); err != nil {
		k.problem("last line %q, want \"flushed N\"", last)
		return k
	}
	if n, err := sequence(out); err != nil {
		k.problem("%s: %v", out, err)
	} else if n != k.flushed {
		k.problem("%s holds 1..%d, the worker says flushed %d", out, n, k.flushed)
	}
	return k
}

// sequence checks that the file holds 1, 2, 3, … one a line, with no gap
// and no duplicate, and returns the last id (0 for an empty file).
func sequence(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		if sc.Text() != strconv.Itoa(n) {
			return n - 1, fmt.Errorf("line %d is %q, want %d", n, sc.Text(), n)
		}
	}
	return n, sc.Err()
}

// TestKills: whenever SIGTERM comes, the worker exits 0 and prints
// "flushed N", and the file holds exactly the ids 1..N: nothing lost,
// nothing written twice.
func TestKills(t *testing.T) {
	bin := proctest.Build(t, "./examples/worker")
	dir := t.TempDir()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	var failed, flushed int
	var longest time.Duration
	for i := range *kills {
		k := killOnce(t, bin, filepath.Join(dir, fmt.Sprintf("results-%d.txt", i)), rng)
		if len(k.problems) > 0 {
			failed++
			t.Errorf("kill %d %q: %s", i+1, k.args, strings.Join(k.problems, "\n\t"))
		}
		flushed += k.flushed
		longest = max(longest, k.elapsed)
	}
	assert.Positive(t, flushed, "no job was done before the kills")
	t.Logf("worker totals: %d kills, %d failed; %d results flushed, 0 lost, 0 duplicated; longest SIGTERM to exit: %v",
		*kills, failed, flushed, longest.Round(time.Millisecond))
}

// TestMutantCaught runs TestKills' check against -no-graceful, a worker
// without the shutdown flush, to show that the check catches it.
func TestMutantCaught(t *testing.T) {
	bin := proctest.Build(t, "./examples/worker")
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const runs = 5
	caught := 0
	for i := range runs {
		k := killOnce(t, bin, filepath.Join(dir, fmt.Sprintf("results-%d.txt", i)), rng, "-no-graceful")
		if len(k.problems) > 0 {
			caught++
			t.Logf("run %d caught: %s", i+1, strings.Join(k.problems, "; "))
		}
	}
	assert.Positive(t, caught, "no run of the worker without a flush broke the contract: the check proves nothing")
	t.Logf("caught %d of %d", caught, runs)
}

// TestSinkHang: when the file cannot be written, the flush gives up at its
// timeout, the worker says how many results it could not flush and exits
// 1, well inside the shutdown's timeout.
func TestSinkHang(t *testing.T) {
	bin := proctest.Build(t, "./examples/worker")
	out := filepath.Join(t.TempDir(), "results.txt")
	const flushTimeout = time.Second
	p := proctest.Start(t, bin, "-out", out, "-sink-hang", "-batch", "10",
		"-flush-timeout", flushTimeout.String(), "-timeout", timeout.String())
	p.MustWaitLine("consuming jobs", wait)
	// A batch is stuck in the write: its results are not flushed.
	_, err := p.WaitStderrLine("hangs", wait)
	require.NoError(t, err)
	sent := time.Now() // before the signal, so that a pause here cannot shorten what is measured
	require.NoError(t, p.Signal(syscall.SIGTERM))
	r := p.MustWait(wait)
	elapsed := time.Since(sent)

	require.True(t, r.Exited, r.String())
	assert.Equal(t, 1, r.Code)
	assert.GreaterOrEqual(t, elapsed, flushTimeout)
	assert.Less(t, elapsed, flushTimeout+3*time.Second, "inside the timeout (%v)", timeout)
	require.NotEmpty(t, r.Stdout)
	var k int
	_, err = fmt.Sscanf(r.Stdout[len(r.Stdout)-1], "unflushed %d", &k)
	require.NoError(t, err, "last line %q", r.Stdout[len(r.Stdout)-1])
	assert.Positive(t, k)
	assert.True(t, slices.ContainsFunc(r.Stderr, func(l string) bool {
		return strings.Contains(l, "hook=flush") && strings.Contains(l, `status="timed out"`)
	}), "%q", r.Stderr)
	n, err := sequence(out)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing reached the file")
}

// TestTimeoutAlone: -timeout works on its own, shorter than the default
// flush timeout, which shrinks to fit inside it; the flush still bounds a
// sink that hangs, and the summary still runs.
func TestTimeoutAlone(t *testing.T) {
	bin := proctest.Build(t, "./examples/worker")
	dir := t.TempDir()
	t.Run("flushed", func(t *testing.T) {
		out := filepath.Join(dir, "results.txt")
		p := proctest.Start(t, bin, "-out", out, "-timeout", "2s")
		p.MustWaitLine("consuming jobs", wait)
		require.NoError(t, p.Signal(syscall.SIGTERM))
		r := p.MustWait(wait)
		require.True(t, r.Exited, r.String())
		assert.Equal(t, 0, r.Code)
		var n int
		_, err := fmt.Sscanf(r.Stdout[len(r.Stdout)-1], "flushed %d", &n)
		require.NoError(t, err, "%q", r.Stdout)
		got, err := sequence(out)
		require.NoError(t, err)
		assert.Equal(t, n, got)
	})
	t.Run("sink hangs", func(t *testing.T) {
		const timeout = 2 * time.Second
		p := proctest.Start(t, bin, "-out", filepath.Join(dir, "hang.txt"), "-sink-hang", "-batch", "10", "-timeout", timeout.String())
		p.MustWaitLine("consuming jobs", wait)
		_, err := p.WaitStderrLine("hangs", wait)
		require.NoError(t, err)
		sent := time.Now() // before the signal, so that a pause here cannot shorten what is measured
		require.NoError(t, p.Signal(syscall.SIGTERM))
		r := p.MustWait(wait)
		elapsed := time.Since(sent)
		require.True(t, r.Exited, r.String())
		assert.Equal(t, 1, r.Code)
		assert.GreaterOrEqual(t, elapsed, timeout/2, "the flush gave up at half the timeout")
		assert.Less(t, elapsed, timeout+time.Second, "and the summary ran inside the timeout")
		assert.True(t, strings.HasPrefix(r.Stdout[len(r.Stdout)-1], "unflushed "), "%q", r.Stdout)
	})
}

// TestFlushTimeoutFlag: an explicit flush timeout that would leave no
// time for the summary is refused at start.
func TestFlushTimeoutFlag(t *testing.T) {
	bin := proctest.Build(t, "./examples/worker")
	out := filepath.Join(t.TempDir(), "results.txt")
	r := proctest.Start(t, bin, "-out", out, "-flush-timeout", "2s", "-timeout", "2s").MustWait(wait)
	assert.Equal(t, 1, r.Code, r.String())
	assert.Contains(t, strings.Join(r.Stderr, "\n"), "-flush-timeout must be shorter than -timeout")
}
