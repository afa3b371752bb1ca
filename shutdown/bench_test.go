package shutdown_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

// The benchmarks here measure the library alone; bench/ (a module of its
// own) runs the same workloads against uber-go/fx, oklog/run and a
// hand-written loop and prints the ratios (make bench).

// benchNew returns a coordinator that listens to no signal, logs nowhere
// and never exits: every benchmark calls Shutdown, which waits.
func benchNew(opts ...shutdown.Option) *shutdown.Coordinator {
	return shutdown.New(append([]shutdown.Option{
		shutdown.WithSignals(),
		shutdown.WithLogger(slog.New(slog.DiscardHandler)),
		shutdown.WithExitFunc(func(int) {}),
	}, opts...)...)
}

func noop(context.Context) error { return nil }

// settle runs a garbage collection before a timed stop, with the timer
// stopped: the garbage of the setup (the hooks of the previous iteration,
// the registrations of this one) is not the stop's to collect. Every
// library's stop gets the same start.
func settle() { runtime.GC() }

// registerBatch bounds how many hooks one coordinator of BenchmarkRegister
// holds, so that b.N registrations do not need b.N hooks in memory.
const registerBatch = 100_000

// BenchmarkRegister measures Register of a no-op hook, and reports the heap
// a registered hook keeps alive (handle, its slot in the LIFO order, the
// order's spare capacity) as B-retained/hook.
func BenchmarkRegister(b *testing.B) {
	b.ReportAllocs()
	c := benchNew()
	n := 0
	for b.Loop() {
		if n == registerBatch {
			b.StopTimer()
			c.Shutdown(nil)
			c, n = benchNew(), 0
			b.StartTimer()
		}
		c.Register("hook", noop)
		n++
	}
	b.StopTimer()
	c.Shutdown(nil)
	b.ReportMetric(retainedPerHook(registerBatch), "B-retained/hook")
}

// retainedPerHook registers n no-op hooks on a fresh coordinator and
// returns the live heap they added, per hook, after a full GC.
func retainedPerHook(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := benchNew()
	for range n {
		c.Register("hook", noop)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	c.Shutdown(nil)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkUnregister measures Unregister of a pending hook, compaction of
// the LIFO order included.
func BenchmarkUnregister(b *testing.B) {
	b.ReportAllocs()
	var c *shutdown.Coordinator
	var hs []*shutdown.Handle
	for b.Loop() {
		if len(hs) == 0 {
			b.StopTimer()
			if c != nil {
				c.Shutdown(nil)
			}
			c = benchNew()
			hs = make([]*shutdown.Handle, registerBatch)
			for i := range hs {
				hs[i] = c.Register("hook", noop)
			}
			b.StartTimer()
		}
		if !hs[len(hs)-1].Unregister() {
			b.Fatal("Unregister = false for a pending hook")
		}
		hs = hs[:len(hs)-1]
	}
	b.StopTimer()
	c.Shutdown(nil)
}

// BenchmarkShutdown measures a whole shutdown of n no-op hooks, from the
// trigger to the complete report: registered one by one ("seq"), or in
// stages of 100 hooks each ("stages"). Each iteration registers its hooks
// with the timer stopped. Besides ns/op it reports ns/hook and
// allocs/hook (allocations of the shutdown divided by n: 0 means the
// per-hook path does not allocate; the report's slice and the run's few
// fixed allocations remain). hooks=0 is the fixed cost of a shutdown (its
// goroutines, timers and contexts); hooks=5 the size of the whole-process
// scenario of bench/cmd/procbench.
func BenchmarkShutdown(b *testing.B) {
	for _, mode := range []string{"seq", "stages"} {
		for _, n := range []int{0, 5, 1_000, 100_000} {
			b.Run(fmt.Sprintf("%s/hooks=%d", mode, n), func(b *testing.B) {
				benchShutdown(b, mode, n)
			})
		}
	}
}

func benchShutdown(b *testing.B, mode string, n int) {
	var m0, m1 runtime.MemStats
	var mallocs uint64
	var ops int
	for b.Loop() {
		b.StopTimer()
		c := benchNew()
		if mode == "seq" {
			for range n {
				c.Register("hook", noop)
			}
		} else {
			var s *shutdown.Stage
			for i := range n {
				if i%100 == 0 {
					s = c.Stage("stage")
				}
				s.Register("hook", noop)
			}
		}
		settle()
		runtime.ReadMemStats(&m0)
		b.StartTimer()

		rep := c.Shutdown(nil)

		b.StopTimer()
		runtime.ReadMemStats(&m1)
		mallocs += m1.Mallocs - m0.Mallocs
		ops++
		if len(rep.Hooks) != n || rep.ExitCode() != 0 {
			b.Fatalf("report: %d hooks, exit code %d; want %d, 0", len(rep.Hooks), rep.ExitCode(), n)
		}
		b.StartTimer()
	}
	if n > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/hook")
		b.ReportMetric(float64(mallocs)/float64(ops*n), "allocs/hook")
	}
}

// sleepHook returns a hook that sleeps d (or less if its context ends) and
// tracks how many hooks run at once in *cur, the most ever in *peak.
func sleepHook(d time.Duration, cur, peak *atomic.Int32) shutdown.Hook {
	return func(ctx context.Context) error {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer cur.Add(-1)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hookSleep is how long each hook of BenchmarkStage sleeps: the floor of a
// stage is hookSleep times the number of waves, ceil(hooks/limit).
const hookSleep = 20 * time.Millisecond

// BenchmarkStage measures one stage of hooks that each sleep 20 ms, all at
// once or at most limit at a time. It reports x-floor, the time divided by
// the floor (20 ms per wave of hooks), and peak, the most hooks seen
// running at once.
func BenchmarkStage(b *testing.B) {
	for _, tc := range []struct{ hooks, limit int }{{200, 0}, {10_000, 0}, {200, 50}} {
		name := fmt.Sprintf("hooks=%d", tc.hooks)
		if tc.limit > 0 {
			name += fmt.Sprintf("/limit=%d", tc.limit)
		}
		b.Run(name, func(b *testing.B) {
			waves := 1
			if tc.limit > 0 {
				waves = (tc.hooks + tc.limit - 1) / tc.limit
			}
			var cur, peak atomic.Int32
			hook := sleepHook(hookSleep, &cur, &peak)
			for b.Loop() {
				b.StopTimer()
				c := benchNew()
				var opts []shutdown.StageOption
				if tc.limit > 0 {
					opts = append(opts, shutdown.Limit(tc.limit))
				}
				s := c.Stage("sleepers", opts...)
				for range tc.hooks {
					s.Register("sleep", hook)
				}
				settle()
				b.StartTimer()
				rep := c.Shutdown(nil)
				b.StopTimer()
				if err := rep.Err(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			floor := time.Duration(waves) * hookSleep
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(floor), "x-floor")
			b.ReportMetric(float64(peak.Load()), "peak")
			if tc.limit > 0 && int(peak.Load()) > tc.limit {
				b.Fatalf("%d hooks ran at once; Limit(%d)", peak.Load(), tc.limit)
			}
		})
	}
}

// BenchmarkHungHook measures how precisely a hook that ignores its context
// is abandoned at its timeout: 300 ms, between two hooks on each side. It
// reports ms, the time from the trigger to the complete report, and
// others-ran, how many of the four other hooks ran (4 is right).
func BenchmarkHungHook(b *testing.B) {
	const timeout = 300 * time.Millisecond
	var ran atomic.Int32
	other := func(context.Context) error { ran.Add(1); return nil }
	release := make(chan struct{})
	var hung sync.WaitGroup
	for b.Loop() {
		b.StopTimer()
		c := benchNew()
		c.Register("before-1", other)
		c.Register("before-2", other)
		c.Register("hung", func(context.Context) error {
			hung.Add(1)
			defer hung.Done()
			<-release // ignores its context
			return nil
		}, shutdown.Timeout(timeout))
		c.Register("after-1", other)
		c.Register("after-2", other)
		ran.Store(0)
		settle()
		b.StartTimer()
		rep := c.Shutdown(nil)
		b.StopTimer()
		if got := result(b, rep, "hung").Status; got != shutdown.TimedOut {
			b.Fatalf("hung hook: %v, want timed out", got)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms")
	b.ReportMetric(float64(ran.Load()), "others-ran")
	close(release) // the abandoned hooks return and their goroutines end
	hung.Wait()
}
