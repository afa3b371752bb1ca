package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Behaviour 1: steps run in reverse order of creation; a stage's hooks run
// together; the next step waits for the current one; a failure cancels
// nothing.

func TestOrderSoloHooksRunLIFO(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	for _, n := range []string{"a", "b", "c", "d"} {
		c.Register(n, rec.hook(n))
	}

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"d", "c", "b", "a"}, rec.Names())
	assert.Equal(t, []string{"d", "c", "b", "a"}, names(rep))
	for _, h := range rep.Hooks {
		assert.Equal(t, shutdown.OK, h.Status, h.Name)
		assert.NoError(t, h.Err, h.Name)
		assert.Empty(t, h.Stage, h.Name)
	}
	assert.NoError(t, rep.Err())
	assert.Equal(t, 0, rep.ExitCode())
}

func TestOrderStagesAndSoloHooksShareOneLIFO(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("db", rec.hook("db"))
	s := c.Stage("flush")
	s.Register("f1", rec.hook("f1"))
	c.Register("http", rec.hook("http"))
	s.Register("f2", rec.hook("f2")) // joins its stage's place, not the end
	c.Stage("empty")                 // a stage with no hooks is a no-op

	rep := c.Shutdown(nil)

	got := rec.Names()
	require.Len(t, got, 4)
	assert.Equal(t, "http", got[0])
	assert.ElementsMatch(t, []string{"f1", "f2"}, got[1:3])
	assert.Equal(t, "db", got[3])
	assert.Equal(t, []string{"http", "f1", "f2", "db"}, names(rep))
	assert.Equal(t, "flush", result(t, rep, "f1").Stage)
	assert.Equal(t, "flush", result(t, rep, "f2").Stage)
	assert.Empty(t, result(t, rep, "http").Stage)
	assert.Empty(t, result(t, rep, "db").Stage)
}

// All hooks of a stage start together: each waits until every sibling has
// started, which can only happen if they overlap. Run serially, the first
// would wait for its context to end and be recorded TimedOut.
func TestOrderStageHooksRunInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(time.Minute))
		const n = 5
		var arrived atomic.Int32
		all := make(chan struct{})
		s := c.Stage("parallel")
		for i := range n {
			s.Register(fmt.Sprint("h", i), func(ctx context.Context) error {
				if arrived.Add(1) == n {
					close(all)
				}
				select {
				case <-all:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}
		start := time.Now()

		rep := c.Shutdown(nil)

		assert.Zero(t, time.Since(start), "the stage waited for a deadline")
		require.Len(t, rep.Hooks, n)
		for _, h := range rep.Hooks {
			assert.Equal(t, shutdown.OK, h.Status, h.Name)
		}
	})
}

// The step created before a stage does not start while any hook of the
// stage is still running.
func TestOrderNextStepWaitsForWholeStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		var laterStarted atomic.Bool
		c.Register("later", func(context.Context) error {
			laterStarted.Store(true)
			return nil
		})
		gate := make(chan struct{})
		var fastDone, slowDone atomic.Bool
		s := c.Stage("first")
		s.Register("fast", func(context.Context) error {
			fastDone.Store(true)
			return nil
		})
		s.Register("slow", func(context.Context) error {
			<-gate
			slowDone.Store(true)
			return nil
		})
		c.Register("before", func(context.Context) error { return nil })

		done := make(chan *shutdown.Report)
		go func() { done <- c.Shutdown(nil) }()
		synctest.Wait() // everything is blocked: "slow" waits on gate
		assert.True(t, fastDone.Load())
		assert.False(t, laterStarted.Load(), "next step started while a stage hook was running")
		close(gate)
		rep := <-done

		assert.True(t, slowDone.Load())
		assert.True(t, laterStarted.Load())
		assert.Equal(t, []string{"before", "fast", "slow", "later"}, names(rep))
	})
}

// A stage waits for hooks that each take a different time, and the step
// after it starts only when the slowest has returned.
func TestOrderNextStepStartsWhenSlowestReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		start := time.Now()
		var laterAt time.Duration
		c.Register("later", func(context.Context) error {
			laterAt = time.Since(start)
			return nil
		})
		s := c.Stage("s")
		for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
			s.Register(d.String(), func(context.Context) error {
				time.Sleep(d)
				return nil
			})
		}

		rep := c.Shutdown(nil)

		assert.Equal(t, 3*time.Second, laterAt, "stage hooks ran in parallel, the next step after the slowest")
		assert.Equal(t, 3*time.Second, rep.Elapsed)
		// Within a stage the report keeps registration order, not
		// completion order.
		assert.Equal(t, []string{"3s", "1s", "2s", "later"}, names(rep))
		assert.Equal(t, 3*time.Second, result(t, rep, "3s").Elapsed)
		assert.Equal(t, time.Second, result(t, rep, "1s").Elapsed)
	})
}

func TestOrderLimitBoundsConcurrency(t *testing.T) {
	for _, tc := range []struct{ limit, hooks int }{{1, 5}, {2, 6}, {3, 7}, {4, 4}} {
		t.Run(fmt.Sprintf("limit=%d,hooks=%d", tc.limit, tc.hooks), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _, _ := newTest(t)
				var cur, maxSeen, ran atomic.Int32
				s := c.Stage("limited", shutdown.Limit(tc.limit))
				for i := range tc.hooks {
					s.Register(fmt.Sprint("h", i), func(context.Context) error {
						n := cur.Add(1)
						for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
						}
						time.Sleep(time.Second)
						cur.Add(-1)
						ran.Add(1)
						return nil
					})
				}
				start := time.Now()

				rep := c.Shutdown(nil)

				assert.Equal(t, int32(tc.hooks), ran.Load(), "every hook ran")
				assert.Equal(t, int32(tc.limit), maxSeen.Load(), "concurrency reached the limit, never more")
				rounds := (tc.hooks + tc.limit - 1) / tc.limit
				assert.Equal(t, time.Duration(rounds)*time.Second, time.Since(start))
				require.Len(t, rep.Hooks, tc.hooks)
				for i, h := range rep.Hooks {
					assert.Equal(t, fmt.Sprint("h", i), h.Name)
					assert.Equal(t, shutdown.OK, h.Status)
				}
			})
		})
	}
}

// With Limit(1) the hooks of a stage start one at a time in registration
// order.
func TestOrderLimitOneRunsInRegistrationOrder(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	s := c.Stage("serial", shutdown.Limit(1))
	for _, n := range []string{"a", "b", "c", "d"} {
		s.Register(n, rec.hook(n))
	}

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"a", "b", "c", "d"}, rec.Names())
	assert.Equal(t, []string{"a", "b", "c", "d"}, names(rep))
}

// A stage's failing hook leaves its siblings' contexts alone: the sibling
// checks its context after the failure has certainly been returned.
func TestOrderFailingHookDoesNotCancelSiblings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		errBoom := errors.New("boom")
		var laterRan atomic.Bool
		c.Register("later", func(ctx context.Context) error {
			laterRan.Store(ctx.Err() == nil)
			return nil
		})
		failing := make(chan struct{})
		var siblingCtxErr, siblingCause error
		s := c.Stage("s")
		s.Register("fails", func(context.Context) error {
			close(failing)
			return errBoom
		})
		s.Register("panics", func(context.Context) error {
			<-failing
			panic("also bad")
		})
		s.Register("sibling", func(ctx context.Context) error {
			<-failing
			// Every other goroutine of the bubble is blocked or gone by
			// the time this sleep ends: the failure has been handled.
			time.Sleep(time.Second)
			siblingCtxErr, siblingCause = ctx.Err(), context.Cause(ctx)
			return nil
		})

		rep := c.Shutdown(nil)

		assert.NoError(t, siblingCtxErr, "a failing sibling canceled the context")
		assert.NoError(t, siblingCause)
		assert.True(t, laterRan.Load(), "the step after a failed stage must run with a live context")
		assert.Equal(t, shutdown.Failed, result(t, rep, "fails").Status)
		assert.Equal(t, shutdown.Panicked, result(t, rep, "panics").Status)
		assert.Equal(t, shutdown.OK, result(t, rep, "sibling").Status)
		assert.Equal(t, shutdown.OK, result(t, rep, "later").Status)
		assert.Equal(t, 1, rep.ExitCode())
	})
}

// A failing solo hook does not stop or cancel the hooks after it.
func TestOrderFailingSoloHookDoesNotStopLaterHooks(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	errA, errB := errors.New("a failed"), errors.New("b failed")
	var lastCtxErr error = errors.New("not run")
	c.Register("last", func(ctx context.Context) error {
		lastCtxErr = ctx.Err()
		rec.add("last")
		return nil
	})
	c.Register("b", func(context.Context) error { rec.add("b"); return errB })
	c.Register("middle", rec.hook("middle"))
	c.Register("a", func(context.Context) error { rec.add("a"); return errA })

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"a", "middle", "b", "last"}, rec.Names())
	assert.NoError(t, lastCtxErr)
	assert.Equal(t, []shutdown.Status{shutdown.Failed, shutdown.OK, shutdown.Failed, shutdown.OK},
		[]shutdown.Status{rep.Hooks[0].Status, rep.Hooks[1].Status, rep.Hooks[2].Status, rep.Hooks[3].Status})
	assert.ErrorIs(t, rep.Hooks[0].Err, errA)
	assert.ErrorIs(t, rep.Hooks[2].Err, errB)
}

// The report lists hooks in the order they ran, stage hooks in
// registration order whatever order they finished in, with their stage.
func TestOrderReportFollowsRunOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t)
		c.Register("z-first-registered", func(context.Context) error { return nil })
		s1 := c.Stage("s1")
		// Registered first, finishes last.
		s1.Register("slow", func(context.Context) error { time.Sleep(2 * time.Second); return nil })
		s1.Register("quick", func(context.Context) error { return nil })
		c.Go("task", func(ctx context.Context) error { <-ctx.Done(); return nil })
		s2 := c.Stage("s2")
		s2.Register("y", func(context.Context) error { time.Sleep(time.Second); return nil })
		s2.Register("x", func(context.Context) error { return nil })
		c.Register("a-last-registered", func(context.Context) error { return nil })

		rep := c.Shutdown(nil)

		want := []shutdown.HookResult{
			{Name: "a-last-registered"},
			{Name: "y", Stage: "s2"},
			{Name: "x", Stage: "s2"},
			{Name: "task"},
			{Name: "slow", Stage: "s1"},
			{Name: "quick", Stage: "s1"},
			{Name: "z-first-registered"},
		}
		require.Len(t, rep.Hooks, len(want))
		for i, w := range want {
			assert.Equal(t, w.Name, rep.Hooks[i].Name, i)
			assert.Equal(t, w.Stage, rep.Hooks[i].Stage, w.Name)
			assert.Equal(t, shutdown.OK, rep.Hooks[i].Status, w.Name)
		}
	})
}

// Behaviour 2: Unregister removes a hook that has not started; it never
// runs and is left out of the report.

func TestUnregisterBeforeTrigger(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("a", rec.hook("a"))
	hb := c.Register("b", rec.hook("b"))
	c.Register("c", rec.hook("c"))
	s := c.Stage("s")
	s.Register("s1", rec.hook("s1"))
	hs2 := s.Register("s2", rec.hook("s2"))

	assert.True(t, hb.Unregister())
	assert.False(t, hb.Unregister(), "second Unregister")
	assert.True(t, hs2.Unregister())
	assert.False(t, hs2.Unregister(), "second Unregister")
	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"s1", "c", "a"}, rec.Names())
	assert.Equal(t, []string{"s1", "c", "a"}, names(rep))
	assert.False(t, hb.Unregister(), "Unregister after the shutdown of a removed hook")
}

func TestUnregisterAfterRunReturnsFalse(t *testing.T) {
	c, _, _ := newTest(t)
	var runs atomic.Int32
	h := c.Register("a", func(context.Context) error { runs.Add(1); return nil })

	rep := c.Shutdown(nil)

	assert.False(t, h.Unregister())
	assert.Equal(t, int32(1), runs.Load())
	assert.Equal(t, []string{"a"}, names(rep), "a hook that ran stays in the report")
}

// Unregister of a hook that is running returns false and does not remove
// it from the report, whether the hook itself or another goroutine asks.
func TestUnregisterWhileRunningReturnsFalse(t *testing.T) {
	c, _, _ := newTest(t)
	var self *shutdown.Handle
	var selfResult atomic.Int32 // 0 unset, 1 false, 2 true
	self = c.Register("self", func(context.Context) error {
		if self.Unregister() {
			selfResult.Store(2)
		} else {
			selfResult.Store(1)
		}
		return nil
	})
	started, release := make(chan struct{}), make(chan struct{})
	other := c.Register("other", func(context.Context) error {
		close(started)
		<-release
		return nil
	})

	done := make(chan *shutdown.Report)
	go func() { done <- c.Shutdown(nil) }()
	<-started
	assert.False(t, other.Unregister(), "Unregister of a running hook")
	close(release)
	rep := <-done

	assert.Equal(t, int32(1), selfResult.Load(), "a hook unregistering itself while it runs")
	assert.Equal(t, []string{"other", "self"}, names(rep))
	for _, h := range rep.Hooks {
		assert.Equal(t, shutdown.OK, h.Status, h.Name)
	}
}

// During the shutdown, a hook that has not started yet can still be
// removed, here by an earlier hook.
func TestUnregisterDuringShutdownBeforeStart(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("first-registered", rec.hook("first-registered"))
	later := c.Register("later", rec.hook("later"))
	s := c.Stage("s")
	s.Register("s1", rec.hook("s1"))
	stageLater := s.Register("s2", rec.hook("s2"))
	var results [3]atomic.Bool
	c.Register("earlier", func(context.Context) error {
		rec.add("earlier")
		results[0].Store(later.Unregister())
		results[1].Store(stageLater.Unregister())
		results[2].Store(!later.Unregister()) // a second call reports false
		return nil
	})

	rep := c.Shutdown(nil)

	for i := range results {
		assert.True(t, results[i].Load(), i)
	}
	assert.Equal(t, []string{"earlier", "s1", "first-registered"}, rec.Names())
	assert.Equal(t, []string{"earlier", "s1", "first-registered"}, names(rep))
	assert.Equal(t, 0, rep.ExitCode())
}

// A hook registered late and removed before the walker reaches it never
// runs and is left out of the report.
func TestUnregisterLateHook(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("b", rec.hook("b"))
	var removed atomic.Bool
	c.Register("a", func(context.Context) error {
		rec.add("a")
		h := c.Register("late", rec.hook("late"))
		removed.Store(h.Unregister())
		return nil
	})

	rep := c.Shutdown(nil)

	assert.True(t, removed.Load())
	assert.Equal(t, []string{"a", "b"}, rec.Names())
	assert.Equal(t, []string{"a", "b"}, names(rep))
}

// Many registrations and removals (enough for the coordinator to compact
// its list) keep the order of the hooks that are left and run none of the
// removed ones.
func TestUnregisterManyKeepsOrder(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	s := c.Stage("s")
	var handles []*shutdown.Handle
	var want []string
	const n = 300
	for i := range n {
		name := fmt.Sprint(i)
		if i%10 == 0 {
			handles = append(handles, s.Register(name, rec.hook(name)))
		} else {
			handles = append(handles, c.Register(name, rec.hook(name)))
		}
	}
	for i, h := range handles {
		if i%3 != 0 {
			require.True(t, h.Unregister(), i)
		}
	}
	for i, h := range handles {
		if i%3 != 0 {
			require.False(t, h.Unregister(), i)
		}
	}
	// The stage was created first, so its hooks run last, together.
	for i := n - 1; i >= 1; i-- {
		if i%3 == 0 && i%10 != 0 {
			want = append(want, fmt.Sprint(i))
		}
	}
	for i := 0; i < n; i += 30 {
		want = append(want, fmt.Sprint(i))
	}

	rep := c.Shutdown(nil)

	assert.Equal(t, want, names(rep))
	assert.ElementsMatch(t, want, rec.Names())
	for _, h := range rep.Hooks {
		var i int
		_, err := fmt.Sscan(h.Name, &i)
		require.NoError(t, err)
		if i%10 == 0 {
			assert.Equal(t, "s", h.Stage, h.Name)
		} else {
			assert.Empty(t, h.Stage, h.Name)
		}
	}
}

// Many removals during the shutdown, as many as make the coordinator
// compact its list before the trigger, remove the hooks not yet started
// and leave the others alone: the order is frozen at the trigger, and the
// walk goes through it unchanged.
func TestUnregisterManyDuringShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	const n = 200
	var handles [n]*shutdown.Handle
	s := c.Stage("s")
	for i := range n {
		name := fmt.Sprint(i)
		if i%10 == 0 {
			handles[i] = s.Register(name, rec.hook(name))
		} else {
			handles[i] = c.Register(name, rec.hook(name))
		}
	}
	var removed atomic.Int32
	c.Register("remover", func(context.Context) error {
		rec.add("remover")
		for i, h := range handles {
			if i%4 != 0 && h.Unregister() {
				removed.Add(1)
			}
		}
		return nil
	})

	rep := c.Shutdown(nil)

	want := []string{"remover"}
	for i := n - 1; i > 0; i-- {
		if i%4 == 0 && i%10 != 0 {
			want = append(want, fmt.Sprint(i))
		}
	}
	for i := 0; i < n; i += 20 { // the stage, created first, runs last
		want = append(want, fmt.Sprint(i))
	}
	assert.Equal(t, int32(n-n/4), removed.Load())
	assert.Equal(t, want, names(rep))
	ran := rec.Names()
	assert.Equal(t, want[:len(want)-n/20], ran[:len(want)-n/20], "the solo hooks, in order")
	assert.ElementsMatch(t, want, ran)
}

// A stage whose hooks have all been removed keeps its place in the order:
// hooks added to it after the coordinator compacted its list (which many
// removals make it do) run there, between the steps around it.
func TestUnregisterEmptiedStageKeepsItsPlace(t *testing.T) {
	c, _, _ := newTest(t)
	var rec recorder
	c.Register("first", rec.hook("first"))
	s := c.Stage("s")
	c.Register("last", rec.hook("last"))
	for i := range 100 {
		require.True(t, s.Register(fmt.Sprint("removed ", i), rec.hook("removed")).Unregister())
	}
	s.Register("added after", rec.hook("added after"))

	rep := c.Shutdown(nil)

	assert.Equal(t, []string{"last", "added after", "first"}, rec.Names())
	assert.Equal(t, []string{"last", "added after", "first"}, names(rep))
	assert.Equal(t, "s", result(t, rep, "added after").Stage)
}

// Unregister races with the walker starting the hook. Each hook, as it
// runs, publishes its index; a goroutine spinning on that index calls
// Unregister on the hook the walker starts next. Whichever wins, a hook
// has exactly one of two fates: removed (Unregister true: it never runs and
// the report leaves it out) or kept (false: it runs once and the report
// has it). Solo hooks are claimed by the walker itself; the hooks of a
// stage limited to one at a time by the errgroup's goroutines, after the
// stage loop has looked at their state.
//
// The racer waits a little before each Unregister, longer after a win and
// shorter after a loss, so that it settles where Unregister and the claim
// fall on the same instant, whatever the speed of the machine (-race or
// not). Shutdowns go on until both outcomes have occurred often: a run in
// which one side always wins proves nothing.
func TestUnregisterRacingTrigger(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("a race needs two processors: on one, the racer and the walker take turns")
	}
	for _, tc := range []struct {
		name  string
		stage bool
		next  func(i int) int // the hook that runs after hook i
	}{
		{"solo hooks", false, func(i int) int { return i - 1 }},
		{"stage with Limit(1)", true, func(i int) int { return i + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const (
				hooks    = 32
				least    = 200 // shutdowns
				enough   = 100 // wins and losses each
				budget   = 20 * time.Second
				maxDelay = 1 << 20
			)
			var (
				won, lost int // Unregister on the hook the walker was about to start
				delay     = 64
				sink      atomic.Int64
				n         int
			)
			for began := time.Now(); n < least || (won < enough || lost < enough) && time.Since(began) < budget; n++ {
				c, _, _ := newTest(t)
				var (
					runs     [hooks]atomic.Int32
					started  atomic.Int64 // 1 + the index of the hook that started last
					handles  [hooks]*shutdown.Handle
					removed  [hooks]bool
					targeted [hooks]bool
				)
				// The first hook to run waits for the racer to spin. Both
				// spin rather than block: a goroutine woken through a
				// channel runs after its waker, on its processor, and the
				// two would take turns instead of racing.
				var spinning atomic.Bool
				gate := func(context.Context) error {
					for !spinning.Load() {
					}
					return nil
				}
				register := c.Register
				if tc.stage {
					register = c.Stage("s", shutdown.Limit(1)).Register
					register("gate", gate)
				}
				for i := range hooks {
					handles[i] = register(fmt.Sprint(i), func(context.Context) error {
						runs[i].Add(1)
						started.Store(int64(i) + 1)
						return nil
					})
				}
				if !tc.stage {
					register("gate", gate)
				}

				var stop atomic.Bool
				racer := make(chan struct{})
				go func() {
					defer close(racer)
					spinning.Store(true)
					var seen int64
					for !stop.Load() {
						v := started.Load()
						if v == seen {
							continue
						}
						seen = v
						j := tc.next(int(v - 1))
						if j < 0 || j >= hooks || targeted[j] {
							continue
						}
						for range delay {
							sink.Add(1)
						}
						targeted[j] = true
						removed[j] = handles[j].Unregister()
						if removed[j] {
							delay = min(delay+delay/8+1, maxDelay)
						} else {
							delay = max(delay-delay/8-1, 0)
						}
					}
				}()
				rep := c.Shutdown(nil)
				stop.Store(true)
				<-racer

				inReport := map[string]shutdown.Status{}
				for _, h := range rep.Hooks {
					inReport[h.Name] = h.Status
				}
				for i := range hooks {
					st, reported := inReport[fmt.Sprint(i)]
					if removed[i] {
						require.Zero(t, runs[i].Load(), "hook %d ran after Unregister returned true", i)
						require.False(t, reported, "hook %d removed but in the report", i)
						won++
						continue
					}
					if targeted[i] {
						lost++
					}
					require.Equal(t, int32(1), runs[i].Load(), "hook %d kept (Unregister false or not called) but did not run once", i)
					require.True(t, reported, "hook %d ran but is not in the report", i)
					require.Equal(t, shutdown.OK, st, "hook %d", i)
				}
				require.False(t, handles[0].Unregister(), "Unregister after the shutdown")
			}
			t.Logf("%d shutdowns: Unregister won %d and lost %d races with the walker (delay %d)", n, won, lost, delay)
			require.NotZero(t, won, "no Unregister won: the race was never met")
			require.NotZero(t, lost, "no Unregister lost: the race was never met")
		})
	}
}
