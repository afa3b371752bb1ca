package compare

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/run"
	"go.uber.org/fx"
	"golang.org/x/sync/errgroup"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Every benchmark name ends in /lib=NAME: lastcall, fx, oklog, hand (a
// hand-written loop over []func(context.Context) error), and floors, the
// hand-written code doing one more thing lastcall does: hand+clock and
// hand+report for the no-op workload (see BenchmarkStop), hand+deadline
// and hand+contract for BenchmarkSmall, hand+handle for Register,
// hand+errgroup and hand+contract for BenchmarkStage.
// cmd/report groups the results by everything before /lib= and prints
// each library's figure beside lastcall's.

func noop(context.Context) error { return nil }

// settle runs a garbage collection before a timed stop, with the timer
// stopped: the garbage of the setup (the hooks of the previous iteration,
// the registrations of this one) is not the stop's to collect. Every
// library's stop gets the same start, the hand-written ones included: a
// collection also empties the runtime's caches (of the sudogs a select
// parks with, among others), which a stage of 10,000 hooks then refills.
// A real shutdown comes long after the last collection emptied them.
func settle() { runtime.GC() }

func newLastcall(opts ...shutdown.Option) *shutdown.Coordinator {
	return shutdown.New(append([]shutdown.Option{
		shutdown.WithSignals(),
		shutdown.WithLogger(slog.New(slog.DiscardHandler)),
		shutdown.WithExitFunc(func(int) {}),
	}, opts...)...)
}

// newFx returns a started fx app whose lifecycle holds the OnStop hooks
// given, in registration order.
func newFx(tb testing.TB, stopTimeout time.Duration, hooks ...func(context.Context) error) *fx.App {
	app := fx.New(
		fx.NopLogger,
		fx.StopTimeout(stopTimeout),
		fx.Invoke(func(lc fx.Lifecycle) {
			for _, h := range hooks {
				lc.Append(fx.Hook{OnStop: h})
			}
		}),
	)
	if err := app.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return app
}

// fxStop stops app the way app.Run does: with a context bounded by the
// app's StopTimeout.
func fxStop(app *fx.App) error {
	ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	return app.Stop(ctx)
}

// oklogGroup is a run.Group with one actor per hook, plus a trigger actor
// whose return starts the interrupts: each hook actor blocks until it is
// interrupted, then runs its hook and returns, the way oklog/run actors do
// their cleanup.
type oklogGroup struct {
	g       run.Group
	trigger chan struct{}
	started sync.WaitGroup
	done    chan error
}

func newOklog(ctx context.Context, hooks ...func(context.Context) error) *oklogGroup {
	o := &oklogGroup{trigger: make(chan struct{}), done: make(chan error, 1)}
	o.g.Add(func() error { <-o.trigger; return nil }, func(error) {})
	for _, h := range hooks {
		stop := make(chan struct{})
		o.started.Add(1)
		o.g.Add(func() error {
			o.started.Done()
			<-stop
			return h(ctx)
		}, func(error) { close(stop) })
	}
	return o
}

// start runs the group and waits until every actor is blocked, ready.
func (o *oklogGroup) start() {
	go func() { o.done <- o.g.Run() }()
	o.started.Wait()
}

// handStop is the hand-written loop: LIFO, every error kept, no timeout,
// no recover.
func handStop(ctx context.Context, hooks []func(context.Context) error) []error {
	var errs []error
	for i := len(hooks) - 1; i >= 0; i-- {
		if err := hooks[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func repeat(n int, h func(context.Context) error) []func(context.Context) error {
	hs := make([]func(context.Context) error, n)
	for i := range hs {
		hs[i] = h
	}
	return hs
}

// BenchmarkStop runs a shutdown of 100,000 no-op hooks; setup (registering,
// starting) is outside the timer. Two floors show what any library must
// pay for lastcall's report: hand+clock reads the clock once per hook (the
// report's per-hook Elapsed), and hand+report also fills a
// []shutdown.HookResult, one per hook, as the report does.
func BenchmarkStop(b *testing.B) {
	const n = 100_000
	b.Run(fmt.Sprintf("hooks=%d/lib=lastcall", n), func(b *testing.B) {
		var m0, m1 runtime.MemStats
		var mallocs uint64
		ops := 0
		for b.Loop() {
			b.StopTimer()
			c := newLastcall()
			for range n {
				c.Register("hook", noop)
			}
			settle()
			runtime.ReadMemStats(&m0)
			b.StartTimer()
			rep := c.Shutdown(nil)
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			mallocs += m1.Mallocs - m0.Mallocs
			ops++
			if len(rep.Hooks) != n {
				b.Fatalf("%d hooks in the report, want %d", len(rep.Hooks), n)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(mallocs)/float64(ops*n), "allocs/hook")
	})
	b.Run(fmt.Sprintf("hooks=%d/lib=hand", n), func(b *testing.B) {
		hooks := repeat(n, noop)
		ctx := context.Background()
		for b.Loop() {
			if errs := handStop(ctx, hooks); errs != nil {
				b.Fatal(errs)
			}
		}
	})
	b.Run(fmt.Sprintf("hooks=%d/lib=hand+clock", n), func(b *testing.B) {
		hooks := repeat(n, noop)
		elapsed := make([]time.Duration, n)
		ctx := context.Background()
		for b.Loop() {
			start := time.Now()
			var last time.Duration
			for i := len(hooks) - 1; i >= 0; i-- {
				hooks[i](ctx)
				now := time.Since(start)
				elapsed[i], last = now-last, now
			}
		}
	})
	b.Run(fmt.Sprintf("hooks=%d/lib=hand+report", n), func(b *testing.B) {
		hooks := repeat(n, noop)
		ctx := context.Background()
		for b.Loop() {
			res := make([]shutdown.HookResult, 0, n)
			start := time.Now()
			var last time.Duration
			for i := len(hooks) - 1; i >= 0; i-- {
				err := hooks[i](ctx)
				now := time.Since(start)
				st := shutdown.OK
				if err != nil {
					st = shutdown.Failed
				}
				res = append(res, shutdown.HookResult{Name: "hook", Status: st, Err: err, Elapsed: now - last})
				last = now
			}
			runtime.KeepAlive(res)
		}
	})
	b.Run(fmt.Sprintf("hooks=%d/lib=fx", n), func(b *testing.B) {
		hooks := repeat(n, noop)
		for b.Loop() {
			b.StopTimer()
			app := newFx(b, time.Minute, hooks...)
			settle()
			b.StartTimer()
			if err := fxStop(app); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("hooks=%d/lib=oklog", n), func(b *testing.B) {
		hooks := repeat(n, noop)
		for b.Loop() {
			b.StopTimer()
			o := newOklog(context.Background(), hooks...)
			o.start()
			settle()
			b.StartTimer()
			close(o.trigger)
			if err := <-o.done; err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSmall runs a shutdown of 5 no-op hooks, from the trigger to its
// end, in-process: the work of the whole-process scenario of
// cmd/procbench (SIGTERM to exit, 5 hooks) without the process. Floors:
// hand+deadline runs the loop on a goroutine of its own and waits for the
// first of its end and a 30 s deadline, the least concurrency that bounds a
// shutdown whose hooks may hang; hand+contract also times each hook, keeps
// its result and logs to a logger that discards, as lastcall's report and
// log do.
func BenchmarkSmall(b *testing.B) {
	const n = 5
	b.Run("lib=lastcall", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			c := newLastcall()
			for range n {
				c.Register("hook", noop)
			}
			b.StartTimer()
			if rep := c.Shutdown(nil); len(rep.Hooks) != n {
				b.Fatalf("%d hooks in the report", len(rep.Hooks))
			}
		}
	})
	b.Run("lib=hand", func(b *testing.B) {
		b.ReportAllocs()
		hooks := repeat(n, noop)
		for b.Loop() {
			handStop(context.Background(), hooks)
		}
	})
	bounded := func(hooks []func(context.Context) error, report bool, log *slog.Logger) {
		start := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(30*time.Second))
		defer cancel()
		done := make(chan []shutdown.HookResult, 1)
		go func() {
			if !report {
				handStop(ctx, hooks)
				done <- nil
				return
			}
			res := make([]shutdown.HookResult, 0, len(hooks))
			last := time.Since(start)
			for i := len(hooks) - 1; i >= 0; i-- {
				err := hooks[i](ctx)
				now := time.Since(start)
				res = append(res, shutdown.HookResult{Name: "hook", Err: err, Started: last, Elapsed: now - last})
				log.LogAttrs(ctx, slog.LevelInfo, "shutdown: hook", slog.String("hook", "hook"))
				last = now
			}
			done <- res
		}()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	b.Run("lib=hand+deadline", func(b *testing.B) {
		b.ReportAllocs()
		hooks := repeat(n, noop)
		for b.Loop() {
			bounded(hooks, false, nil)
		}
	})
	b.Run("lib=hand+contract", func(b *testing.B) {
		b.ReportAllocs()
		hooks := repeat(n, noop)
		log := slog.New(slog.DiscardHandler)
		for b.Loop() {
			bounded(hooks, true, log)
		}
	})
	b.Run("lib=fx", func(b *testing.B) {
		b.ReportAllocs()
		hooks := repeat(n, noop)
		for b.Loop() {
			b.StopTimer()
			app := newFx(b, time.Minute, hooks...)
			b.StartTimer()
			if err := fxStop(app); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=oklog", func(b *testing.B) {
		b.ReportAllocs()
		hooks := repeat(n, noop)
		for b.Loop() {
			b.StopTimer()
			o := newOklog(context.Background(), hooks...)
			o.start()
			b.StartTimer()
			close(o.trigger)
			if err := <-o.done; err != nil {
				b.Fatal(err)
			}
		}
	})
}

// registerBatch bounds how many hooks one registry holds in
// BenchmarkRegister, so that b.N registrations do not keep b.N hooks.
const registerBatch = 100_000

// BenchmarkRegister measures adding one no-op stop hook, and reports the
// heap each registered hook keeps alive (B-retained/hook, after a GC).
func BenchmarkRegister(b *testing.B) {
	type registry struct {
		add   func()
		close func()
	}
	libs := []struct {
		name string
		new  func(b *testing.B) registry
	}{
		{"lastcall", func(*testing.B) registry {
			c := newLastcall()
			return registry{func() { c.Register("hook", noop) }, func() { c.Shutdown(nil) }}
		}},
		{"hand", func(*testing.B) registry {
			var hooks []func(context.Context) error
			return registry{func() { hooks = append(hooks, noop) }, func() { runtime.KeepAlive(hooks) }}
		}},
		{"hand+handle", func(*testing.B) registry {
			// The least a registry that returns a handle to unregister
			// with does: allocate it, lock, append.
			type handle struct {
				name  string
				fn    func(context.Context) error
				state atomic.Int32
			}
			var mu sync.Mutex
			var hooks []*handle
			return registry{func() {
				h := &handle{name: "hook", fn: noop}
				mu.Lock()
				hooks = append(hooks, h)
				mu.Unlock()
			}, func() { runtime.KeepAlive(hooks) }}
		}},
		{"fx", func(b *testing.B) registry {
			var lc fx.Lifecycle
			app := fx.New(fx.NopLogger, fx.Invoke(func(l fx.Lifecycle) { lc = l }))
			if err := app.Err(); err != nil {
				b.Fatal(err)
			}
			return registry{func() { lc.Append(fx.Hook{OnStop: noop}) }, func() { runtime.KeepAlive(app) }}
		}},
		{"oklog", func(*testing.B) registry {
			var g run.Group
			return registry{func() {
				stop := make(chan struct{})
				g.Add(func() error { <-stop; return nil }, func(error) { close(stop) })
			}, func() { runtime.KeepAlive(&g) }}
		}},
	}
	for _, lib := range libs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			b.ReportAllocs()
			r, n := lib.new(b), 0
			for b.Loop() {
				if n == registerBatch {
					b.StopTimer()
					r.close()
					r, n = lib.new(b), 0
					b.StartTimer()
				}
				r.add()
				n++
			}
			b.StopTimer()
			r.close()

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r = lib.new(b)
			for range registerBatch {
				r.add()
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			r.close()
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/registerBatch, "B-retained/hook")
		})
	}
}

// hookRecord is what the hand+contract floor of BenchmarkStage keeps per
// hook.
type hookRecord struct {
	state            atomic.Int32
	started, elapsed time.Duration
	err              error
}

// run runs h as lastcall's contract requires, at the least.
//
//go:noinline
func (r *hookRecord) run(ctx context.Context, h func(context.Context) error, start time.Time) {
	if !r.state.CompareAndSwap(0, 1) {
		return
	}
	r.started = time.Since(start)
	r.err = recovered(ctx, h)
	r.elapsed = time.Since(start) - r.started
	r.state.Store(2)
}

// recovered calls h, turning a panic into an error.
//
//go:noinline
func recovered(ctx context.Context, h func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return h(ctx)
}

// hookSleep is how long each hook of BenchmarkStage sleeps.
const hookSleep = 20 * time.Millisecond

// sleeper returns a hook that sleeps hookSleep (less if its context ends)
// and keeps in *peak the most sleepers seen at once.
func sleeper(cur, peak *atomic.Int32) func(context.Context) error {
	return func(ctx context.Context) error {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		t := time.NewTimer(hookSleep)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// BenchmarkStage stops hooks that each sleep 20 ms and may all run at once
// (at most limit at once when limit is set). Besides ns/op it reports
// x-floor, the time over its floor of 20 ms per wave of hooks, and peak,
// the most hooks seen running at once. lastcall puts them in one Stage;
// hand starts a goroutine per hook (with a semaphore for limit) and waits;
// hand+errgroup does the same through errgroup.Group (SetLimit for limit),
// as lastcall's stage does; hand+contract also does per hook the least
// that lastcall's contract requires (see hookRecord); oklog/run runs every
// actor's cleanup on the actor's goroutine, all at once, and has no limit;
// fx runs OnStop hooks one after another. Every library's hooks get a
// context that ends at a deadline (lastcall's run context, fx's stop
// context, a one-minute WithTimeout for hand, its floors and oklog): a
// sleeper selects on it, so 10,000 of them wait on one channel.
func BenchmarkStage(b *testing.B) {
	for _, tc := range []struct{ hooks, limit int }{{200, 0}, {10_000, 0}, {200, 50}} {
		name := fmt.Sprintf("hooks=%d", tc.hooks)
		waves := 1
		if tc.limit > 0 {
			name += fmt.Sprintf("/limit=%d", tc.limit)
			waves = (tc.hooks + tc.limit - 1) / tc.limit
		}
		floor := time.Duration(waves) * hookSleep
		metrics := func(b *testing.B, peak *atomic.Int32) {
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(floor), "x-floor")
			b.ReportMetric(float64(peak.Load()), "peak")
		}

		b.Run(name+"/lib=lastcall", func(b *testing.B) {
			var cur, peak atomic.Int32
			h := sleeper(&cur, &peak)
			for b.Loop() {
				b.StopTimer()
				c := newLastcall()
				var opts []shutdown.StageOption
				if tc.limit > 0 {
					opts = append(opts, shutdown.Limit(tc.limit))
				}
				s := c.Stage("sleepers", opts...)
				for range tc.hooks {
					s.Register("sleep", h)
				}
				settle()
				b.StartTimer()
				if err := c.Shutdown(nil).Err(); err != nil {
					b.Fatal(err)
				}
			}
			metrics(b, &peak)
		})
		b.Run(name+"/lib=hand", func(b *testing.B) {
			var cur, peak atomic.Int32
			hooks := repeat(tc.hooks, sleeper(&cur, &peak))
			for b.Loop() {
				b.StopTimer()
				settle()
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				var wg sync.WaitGroup
				var sem chan struct{}
				if tc.limit > 0 {
					sem = make(chan struct{}, tc.limit)
				}
				errs := make([]error, len(hooks))
				for i, h := range hooks {
					if sem != nil {
						sem <- struct{}{}
					}
					wg.Go(func() {
						errs[i] = h(ctx)
						if sem != nil {
							<-sem
						}
					})
				}
				wg.Wait()
				cancel()
			}
			metrics(b, &peak)
		})
		b.Run(name+"/lib=hand+errgroup", func(b *testing.B) {
			// The hand-written stage on errgroup, as lastcall's is: the
			// goroutine per hook started by Group.Go, SetLimit for limit.
			var cur, peak atomic.Int32
			hooks := repeat(tc.hooks, sleeper(&cur, &peak))
			for b.Loop() {
				b.StopTimer()
				settle()
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				var g errgroup.Group
				if tc.limit > 0 {
					g.SetLimit(tc.limit)
				}
				errs := make([]error, len(hooks))
				for i, h := range hooks {
					g.Go(func() error {
						errs[i] = h(ctx)
						return nil
					})
				}
				_ = g.Wait()
				cancel()
			}
			metrics(b, &peak)
		})
		b.Run(name+"/lib=hand+contract", func(b *testing.B) {
			// The floor of lastcall's contract for a stage, hand-written:
			// errgroup, and per hook what the report and the faults
			// require: a state changed atomically as the hook starts and
			// ends, the clock read at both ends, a recovered panic.
			var cur, peak atomic.Int32
			hooks := repeat(tc.hooks, sleeper(&cur, &peak))
			recs := make([]hookRecord, len(hooks))
			for b.Loop() {
				b.StopTimer()
				clear(recs)
				settle()
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				start := time.Now()
				var g errgroup.Group
				if tc.limit > 0 {
					g.SetLimit(tc.limit)
				}
				for i, h := range hooks {
					g.Go(func() error {
						recs[i].run(ctx, h, start)
						return nil
					})
				}
				_ = g.Wait()
				cancel()
			}
			metrics(b, &peak)
		})
		b.Run(name+"/lib=oklog", func(b *testing.B) {
			if tc.limit > 0 {
				b.Skip("oklog/run has no limit: every actor runs at once")
			}
			var cur, peak atomic.Int32
			hooks := repeat(tc.hooks, sleeper(&cur, &peak))
			for b.Loop() {
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				o := newOklog(ctx, hooks...)
				o.start()
				settle()
				b.StartTimer()
				close(o.trigger)
				if err := <-o.done; err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			metrics(b, &peak)
		})
		b.Run(name+"/lib=fx", func(b *testing.B) {
			if tc.hooks > 1000 || tc.limit > 0 {
				b.Skipf("fx runs OnStop hooks one after another: %d × %v = %v, not run",
					tc.hooks, hookSleep, time.Duration(tc.hooks)*hookSleep)
			}
			var cur, peak atomic.Int32
			hooks := repeat(tc.hooks, sleeper(&cur, &peak))
			for b.Loop() {
				b.StopTimer()
				app := newFx(b, time.Minute, hooks...)
				settle()
				b.StartTimer()
				if err := fxStop(app); err != nil {
					b.Fatal(err)
				}
			}
			metrics(b, &peak)
		})
	}
}

// hangBound is how long BenchmarkHung waits for a library whose stop
// never returns before it records the run as hung.
const hangBound = time.Second

// BenchmarkHung stops five hooks, the middle one of which ignores its
// context and never returns until released; its timeout is 300 ms (for fx
// the StopTimeout, as fx has no per-hook timeout). It reports ms, the time
// from the trigger until the stop returned (hangBound when it did not),
// others-ran, how many of the four other hooks ran by then, and hung, 1
// when the stop had not returned after hangBound.
func BenchmarkHung(b *testing.B) {
	const timeout = 300 * time.Millisecond
	type setup struct {
		stop func() error // starts the stop and waits for it
	}
	libs := []struct {
		name string
		new  func(b *testing.B, other, hung func(context.Context) error) setup
	}{
		{"lastcall", func(b *testing.B, other, hung func(context.Context) error) setup {
			c := newLastcall()
			c.Register("before-1", other)
			c.Register("before-2", other)
			c.Register("hung", hung, shutdown.Timeout(timeout))
			c.Register("after-1", other)
			c.Register("after-2", other)
			return setup{func() error {
				rep := c.Shutdown(nil)
				if rep.ExitCode() != 1 {
					return fmt.Errorf("exit code %d, want 1", rep.ExitCode())
				}
				return nil
			}}
		}},
		{"fx", func(b *testing.B, other, hung func(context.Context) error) setup {
			app := newFx(b, timeout, other, other, hung, other, other)
			return setup{func() error { _ = fxStop(app); return nil }}
		}},
		{"oklog", func(b *testing.B, other, hung func(context.Context) error) setup {
			o := newOklog(context.Background(), other, other, hung, other, other)
			o.start()
			return setup{func() error {
				close(o.trigger)
				<-o.done
				return nil
			}}
		}},
		{"hand", func(b *testing.B, other, hung func(context.Context) error) setup {
			hooks := []func(context.Context) error{other, other, hung, other, other}
			return setup{func() error {
				handStop(context.Background(), hooks)
				return nil
			}}
		}},
	}
	for _, lib := range libs {
		b.Run("lib="+lib.name, func(b *testing.B) {
			var ran atomic.Int32
			var total time.Duration
			hungRuns, minOthers := 0, int32(4)
			other := func(context.Context) error { ran.Add(1); return nil }
			for b.Loop() {
				b.StopTimer()
				ran.Store(0)
				release := make(chan struct{})
				var inHung sync.WaitGroup
				hung := func(context.Context) error {
					inHung.Add(1)
					defer inHung.Done()
					<-release // ignores its context
					return nil
				}
				s := lib.new(b, other, hung)
				stopped := make(chan error, 1)
				settle()
				b.StartTimer()
				start := time.Now()
				go func() { stopped <- s.stop() }()
				var err error
				returned := true
				t := time.NewTimer(hangBound)
				select {
				case err = <-stopped:
					total += time.Since(start)
				case <-t.C:
					total += hangBound
					hungRuns++
					returned = false
				}
				t.Stop()
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				others := ran.Load()
				close(release)
				inHung.Wait()
				if !returned {
					<-stopped
				}
				minOthers = min(minOthers, others)
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms")
			b.ReportMetric(float64(hungRuns)/float64(b.N), "hung")
			b.ReportMetric(float64(minOthers), "others-ran")
		})
	}
}
