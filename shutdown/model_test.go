package shutdown_test

// A model-based fuzz test. The fuzzer's bytes decode into a program:
// options, steps (hooks, stages, tasks), unregistrations, a trigger and
// maybe a second signal, each hook with a behaviour (return, fail, panic,
// sleep honouring its context, sleep ignoring it, register a hook late,
// unregister another one, call Shutdown from inside). The program runs
// under testing/synctest's fake clock, where every time is exact, and its
// report is checked against a plain model computed by a simulation:
// which hooks ran, in which order, each status and elapsed time, the exit
// code, the report's elapsed time (never above the whole timeout), the
// exit func calls, and that no hook ran twice.
//
// Times are chosen so that no two events of different kinds can fall on
// the same instant: sleeps and drain delays are whole seconds, hook
// timeouts are whole seconds plus 1 µs, the whole timeout is whole
// seconds plus 500 ms, a second signal comes at whole seconds plus
// 250 ms, and a task fails at whole seconds plus 100 ms plus its index in
// ms. A tie would make the outcome depend on the scheduler, not on the
// library.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

type behKind int

const (
	bOK behKind = iota
	bErr
	bPanic
	bSleep   // sleeps d or until its context ends
	bIgnore  // sleeps d whatever its context says
	bLate    // registers a child hook, then returns nil
	bUnreg   // unregisters the target (a hook that runs later), then returns nil
	bReenter // calls Shutdown and Register... from inside, then returns nil
	nBeh
)

type taskKind int

const (
	tWait   taskKind = iota // returns ctx.Err() when the context ends
	tFail                   // fails at x, whatever the context says
	tPanic                  // panics at x
	tIgnore                 // returns nil at x, whatever the context says
	nTask
)

type mHook struct {
	name     string
	stage    *mStage
	kind     behKind
	d        time.Duration
	timeout  time.Duration
	child    *mHook // bLate
	target   *mHook // bUnreg
	task     *mTask // a task's stop step
	removed  bool   // unregistered before the trigger
	targeted bool   // the target of a bUnreg hook
	handle   *shutdown.Handle
}

type mTask struct {
	kind taskKind
	x    time.Duration // since the program started
}

type mStage struct {
	name  string
	limit int
	hooks []*mHook
}

type mStep struct {
	h *mHook
	s *mStage
}

type trigKind int

const (
	trSignal trigKind = iota
	trShutdown
	trExit
	trTask
	nTrig
)

type mProg struct {
	timeout, drain, hookTimeout time.Duration
	force                       bool
	steps                       []mStep
	trig                        trigKind
	exitCode                    int
	second                      time.Duration // 0: none; since the trigger
}

type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) next() int {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return int(r.b[r.i-1])
}

func (r *byteReader) secs(n int) time.Duration { return time.Duration(r.next()%n) * time.Second }

var errHook = errors.New("hook failed")
var errTask = errors.New("task failed")
var errCause = errors.New("shutdown requested")

func decode(data []byte) *mProg {
	r := &byteReader{b: data}
	p := &mProg{timeout: time.Duration(1+r.next()%6)*time.Second + 500*time.Millisecond}
	if v := r.next(); v%3 == 0 {
		p.drain = time.Duration(v/3%2) * time.Second
	}
	if v := r.next(); v%4 == 0 {
		p.hookTimeout = time.Duration(1+v/4%3)*time.Second + time.Microsecond
	}
	p.force = r.next()%4 != 0
	var all []*mHook // registered so far, for unregistration targets
	nh, nt := 0, 0
	newHook := func(stage *mStage, solo bool) *mHook {
		h := &mHook{name: fmt.Sprintf("h%d", nh)}
		nh++
		h.stage = stage
		kinds := int(nBeh)
		if !solo { // late registration, unregistration and reentry only from solo hooks
			kinds = int(bLate)
		}
		h.kind = behKind(r.next() % kinds)
		h.d = r.secs(4)
		if v := r.next(); v%3 == 0 {
			h.timeout = time.Duration(1+v/3%3)*time.Second + time.Microsecond
		}
		switch h.kind {
		case bLate:
			h.child = &mHook{name: h.name + ".late", kind: behKind(r.next() % int(bLate)), d: r.secs(3)}
		case bUnreg:
			var cands []*mHook
			for _, o := range all {
				if o.task == nil && !o.removed && !o.targeted {
					cands = append(cands, o)
				}
			}
			if len(cands) == 0 {
				h.kind = bOK
			} else {
				h.target = cands[r.next()%len(cands)]
				h.target.targeted = true
			}
		}
		all = append(all, h)
		return h
	}
	nsteps := 1 + r.next()%8
	for range nsteps {
		switch r.next() % 5 {
		case 0, 1:
			p.steps = append(p.steps, mStep{h: newHook(nil, true)})
		case 2:
			s := &mStage{name: fmt.Sprintf("s%d", len(p.steps)), limit: r.next() % 3}
			for range 1 + r.next()%4 {
				s.hooks = append(s.hooks, newHook(s, false))
			}
			p.steps = append(p.steps, mStep{s: s})
		case 3:
			t := &mTask{kind: taskKind(r.next() % int(nTask))}
			t.x = r.secs(4) + 100*time.Millisecond + time.Duration(nt)*time.Millisecond
			h := &mHook{name: fmt.Sprintf("t%d", nt), task: t}
			nt++
			all = append(all, h)
			p.steps = append(p.steps, mStep{h: h})
		case 4:
			var cands []*mHook
			for _, o := range all {
				if o.task == nil && !o.removed && !o.targeted {
					cands = append(cands, o)
				}
			}
			if len(cands) > 0 {
				cands[r.next()%len(cands)].removed = true
			}
		}
	}
	p.trig = trigKind(r.next() % int(nTrig))
	p.exitCode = 2 + r.next()%4
	if v := r.next(); p.trig == trSignal && v%2 == 1 {
		p.second = time.Duration(v/2%8)*time.Second + 250*time.Millisecond
	}
	return p
}

// The model.

type mResult struct {
	name, stage string
	status      shutdown.Status
	elapsed     time.Duration
	forced      bool // abandoned by a forced exit
}

type mOutcome struct {
	hooks    []mResult
	elapsed  time.Duration
	forced   bool
	code     int
	exits    []int
	cause    string
	trigAt   time.Duration // since the program started
	runCount map[string]int
}

// trigger returns when (since the start) and why the shutdown starts.
func (p *mProg) trigger() (time.Duration, string) {
	if p.trig == trTask {
		best := time.Duration(-1)
		for _, st := range p.steps {
			if t := st.h.taskOf(); t != nil && (t.kind == tFail || t.kind == tPanic) && (best < 0 || t.x < best) {
				best = t.x
			}
		}
		if best >= 0 {
			return best, "task"
		}
		return 0, "shutdown" // no failing task: the program calls Shutdown
	}
	return 0, [...]string{"signal", "shutdown", "exit"}[p.trig]
}

func (h *mHook) taskOf() *mTask {
	if h == nil {
		return nil
	}
	return h.task
}

type sim struct {
	p       *mProg
	trig    time.Duration
	stopAt  time.Duration // the whole deadline, or the second signal
	forced  bool
	removed map[*mHook]bool
	res     map[*mHook]*mResult
	runs    map[string]int
	order   []*mHook
}

// end simulates one hook that starts at t (since the trigger).
func (s *sim) end(h *mHook, t time.Duration) (time.Duration, shutdown.Status) {
	limit := s.stopAt
	own := h.timeout
	if own == 0 {
		own = s.p.hookTimeout
	}
	if own > 0 && t+own < limit {
		limit = t + own
	}
	bounded := func(d time.Duration, st shutdown.Status) (time.Duration, shutdown.Status) {
		if t+d < limit {
			return t + d, st
		}
		return limit, shutdown.TimedOut
	}
	if tk := h.task; tk != nil {
		done := tk.x - s.trig // when the task returns, since the trigger
		st := shutdown.OK
		switch tk.kind {
		case tWait:
			done = 0
		case tFail:
			st = shutdown.Failed
		case tPanic:
			st = shutdown.Panicked
		}
		return bounded(max(done-t, 0), st)
	}
	switch h.kind {
	case bErr:
		return t, shutdown.Failed
	case bPanic:
		return t, shutdown.Panicked
	case bSleep, bIgnore:
		return bounded(h.d, shutdown.OK)
	}
	return t, shutdown.OK
}

func (s *sim) record(h *mHook, st shutdown.Status, start, end time.Duration) {
	r := &mResult{name: h.name, status: st, elapsed: end - start}
	if h.stage != nil {
		r.stage = h.stage.name
	}
	if st == shutdown.Skipped {
		r.elapsed = 0
	} else {
		s.runs[h.name]++
	}
	r.forced = s.forced && st == shutdown.TimedOut && end == s.stopAt
	s.res[h] = r
	s.order = append(s.order, h)
}

// solo runs one hook on the walker; it returns the time it ended and
// whether the walker may go on.
func (s *sim) solo(h *mHook, t time.Duration) (time.Duration, bool) {
	if s.removed[h] {
		return t, true
	}
	if t >= s.stopAt {
		s.record(h, shutdown.Skipped, 0, 0)
		return t, false
	}
	switch h.kind {
	case bUnreg:
		s.removed[h.target] = true
	}
	end, st := s.end(h, t)
	s.record(h, st, t, end)
	return end, end < s.stopAt
}

func (s *sim) stage(st *mStage, t time.Duration) (time.Duration, bool) {
	var hooks []*mHook
	for _, h := range st.hooks {
		if !s.removed[h] {
			hooks = append(hooks, h)
		}
	}
	if len(hooks) == 0 {
		return t, true
	}
	if len(hooks) == 1 {
		return s.solo(hooks[0], t)
	}
	slots := len(hooks)
	if st.limit > 0 {
		slots = st.limit
	}
	free := make([]time.Duration, slots)
	for i := range free {
		free[i] = t
	}
	start, last, ok := t, t, true
	for _, h := range hooks {
		i := slices.Index(free, slices.Min(free))
		start = max(start, free[i])
		if start >= s.stopAt {
			s.record(h, shutdown.Skipped, 0, 0)
			ok = false
			continue
		}
		end, status := s.end(h, start)
		s.record(h, status, start, end)
		free[i] = end
		last = max(last, end)
	}
	return last, ok && last < s.stopAt
}

func model(p *mProg) mOutcome {
	trig, cause := p.trigger()
	s := &sim{p: p, trig: trig, stopAt: p.timeout, removed: map[*mHook]bool{}, res: map[*mHook]*mResult{}, runs: map[string]int{}}
	if p.second > 0 && p.force && p.second < p.timeout {
		s.stopAt, s.forced = p.second, true
	}
	for _, st := range p.steps {
		if st.h != nil && st.h.removed {
			s.removed[st.h] = true
		}
		if st.s != nil {
			for _, h := range st.s.hooks {
				if h.removed {
					s.removed[h] = true
				}
			}
		}
	}
	var pending []*mHook // late registrations not yet taken
	t, ok := p.drain, p.drain < s.stopAt
	runLate := func() {
		for ok && len(pending) > 0 {
			batch := pending
			pending = nil
			for i := len(batch) - 1; i >= 0; i-- {
				h := batch[i]
				if !ok {
					s.record(h, shutdown.Skipped, 0, 0)
					continue
				}
				t, ok = s.solo(h, t)
			}
		}
	}
	for i := len(p.steps) - 1; i >= 0; i-- {
		runLate()
		st := p.steps[i]
		if !ok {
			if st.h != nil {
				if !s.removed[st.h] {
					s.record(st.h, shutdown.Skipped, 0, 0)
				}
			} else {
				for _, h := range st.s.hooks {
					if !s.removed[h] {
						s.record(h, shutdown.Skipped, 0, 0)
					}
				}
			}
			continue
		}
		if st.h != nil {
			h := st.h
			before := len(s.order)
			t, ok = s.solo(h, t)
			if len(s.order) > before && h.kind == bLate && s.res[h].status != shutdown.Skipped {
				pending = append(pending, h.child)
			}
		} else {
			t, ok = s.stage(st.s, t)
		}
	}
	runLate()
	for i := len(pending) - 1; i >= 0; i-- { // never taken: reported last
		s.record(pending[i], shutdown.Skipped, 0, 0)
	}

	out := mOutcome{cause: cause, trigAt: trig, runCount: s.runs}
	out.elapsed = min(t, s.stopAt)
	if !ok {
		out.elapsed = s.stopAt
	}
	if s.forced && p.second >= out.elapsed && ok {
		// The walk ended before the second signal: it found nobody listening.
		s.forced = false
	}
	out.forced = s.forced && out.elapsed == s.stopAt
	for _, h := range s.order {
		out.hooks = append(out.hooks, *s.res[h])
	}
	switch {
	case out.forced:
		out.code = 128 + int(syscall.SIGTERM)
		out.exits = []int{out.code}
	case cause == "exit":
		out.code = p.exitCode
	default:
		for _, r := range out.hooks {
			if r.status != shutdown.OK {
				out.code = 1
				break
			}
		}
	}
	if cause == "exit" {
		out.exits = append(out.exits, out.code)
	}
	return out
}

// The real run.

type modelRun struct {
	mu   sync.Mutex
	runs map[string]int
	errs []string
}

func (m *modelRun) ran(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[name]++
}

func (m *modelRun) fail(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *modelRun) hook(c *shutdown.Coordinator, h *mHook) shutdown.Hook {
	return func(ctx context.Context) error {
		m.ran(h.name)
		if dl, ok := ctx.Deadline(); !ok || ctx.Err() != nil || !time.Now().Before(dl) {
			m.fail("%s: started with context %v (deadline %v, set %v)", h.name, ctx.Err(), dl, ok)
		}
		switch h.kind {
		case bErr:
			return fmt.Errorf("%s: %w", h.name, errHook)
		case bPanic:
			panic(h.name)
		case bSleep:
			return sleepCtx(ctx, h.d)
		case bIgnore:
			time.Sleep(h.d)
		case bLate:
			var opts []shutdown.HookOption
			if h.child.timeout > 0 {
				opts = append(opts, shutdown.Timeout(h.child.timeout))
			}
			c.Register(h.child.name, m.hook(c, h.child), opts...)
		case bUnreg:
			if !h.target.handle.Unregister() {
				m.fail("%s: Unregister(%s) = false for a hook that has not started", h.name, h.target.name)
			}
		case bReenter:
			r1 := c.Shutdown(nil)
			r2 := c.Wait()
			if r1 != r2 {
				m.fail("%s: Shutdown and Wait from inside a hook returned different reports", h.name)
			}
		}
		return nil
	}
}

func (m *modelRun) task(t *mTask, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		switch t.kind {
		case tWait:
			<-ctx.Done()
			return ctx.Err()
		case tFail:
			time.Sleep(t.x)
			return fmt.Errorf("%s: %w", name, errTask)
		case tPanic:
			time.Sleep(t.x)
			panic(name)
		default:
			time.Sleep(t.x)
			return nil
		}
	}
}

type exitRec struct {
	mu    sync.Mutex
	codes []int
}

func (e *exitRec) exit(code int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.codes = append(e.codes, code)
}

func runModel(t *testing.T, p *mProg) {
	want := model(p)
	synctest.Test(t, func(t *testing.T) {
		f := signals.NewFake()
		ex := &exitRec{}
		opts := []shutdown.Option{
			shutdown.WithSignalSource(f),
			shutdown.WithLogger(slog.New(slog.DiscardHandler)),
			shutdown.WithExitFunc(ex.exit),
			shutdown.WithTimeout(p.timeout),
			shutdown.WithForceExit(p.force),
		}
		if p.drain > 0 {
			opts = append(opts, shutdown.WithDrainDelay(p.drain))
		}
		if p.hookTimeout > 0 {
			opts = append(opts, shutdown.WithHookTimeout(p.hookTimeout))
		}
		c := shutdown.New(opts...)
		m := &modelRun{runs: map[string]int{}}
		reg := func(h *mHook, s *shutdown.Stage) {
			var hopts []shutdown.HookOption
			if h.timeout > 0 {
				hopts = append(hopts, shutdown.Timeout(h.timeout))
			}
			if s != nil {
				h.handle = s.Register(h.name, m.hook(c, h), hopts...)
			} else {
				h.handle = c.Register(h.name, m.hook(c, h), hopts...)
			}
		}
		start := time.Now()
		for _, st := range p.steps {
			switch {
			case st.h != nil && st.h.task != nil:
				c.Go(st.h.name, m.task(st.h.task, st.h.name))
			case st.h != nil:
				reg(st.h, nil)
			default:
				s := c.Stage(st.s.name, limitOpts(st.s.limit)...)
				for _, h := range st.s.hooks {
					reg(h, s)
				}
			}
		}
		for _, st := range p.steps {
			for _, h := range append([]*mHook{st.h}, stageHooks(st.s)...) {
				if h != nil && h.removed {
					require.True(t, h.handle.Unregister(), "Unregister(%s) before the trigger", h.name)
				}
			}
		}

		var r *shutdown.Report
		switch cause := want.cause; cause {
		case "signal":
			// Wait first, so that the test owns the end of the process:
			// once Wait is durably blocked it has counted itself.
			got := make(chan *shutdown.Report)
			go func() { got <- c.Wait() }()
			synctest.Wait()
			require.Equal(t, 1, f.Send(syscall.SIGTERM))
			if p.second > 0 {
				go func() {
					time.Sleep(p.second)
					f.Send(syscall.SIGTERM)
				}()
			}
			r = <-got
		case "shutdown":
			r = c.Shutdown(errCause)
		case "exit":
			c.Exit(p.exitCode)
			r = c.Wait()
		case "task":
			r = c.Wait()
		}
		trigAt := time.Since(start) - r.Elapsed
		// Let abandoned hooks and tasks run out their sleeps: the bubble
		// ends only when every goroutine in it has, and its clock stops
		// when this goroutine returns. Fake time: this costs nothing.
		defer time.Sleep(time.Minute)

		// Compare.
		assert.Equal(t, want.trigAt, trigAt, "trigger time")
		assert.Equal(t, want.elapsed, r.Elapsed, "report elapsed")
		assert.LessOrEqual(t, r.Elapsed, p.timeout, "elapsed within the whole timeout")
		assert.Equal(t, want.forced, r.Forced, "forced")
		assert.Equal(t, want.code, r.ExitCode(), "exit code")
		ex.mu.Lock()
		assert.Equal(t, want.exits, ex.codes, "exit func calls")
		ex.mu.Unlock()
		switch want.cause {
		case "signal":
			var se *signals.Error
			assert.ErrorAs(t, r.Cause, &se)
		case "shutdown":
			assert.ErrorIs(t, r.Cause, errCause)
		case "exit":
			var ee *shutdown.ExitError
			if assert.ErrorAs(t, r.Cause, &ee) {
				assert.Equal(t, p.exitCode, ee.Code)
			}
		case "task":
			assert.True(t, errors.Is(r.Cause, errTask) || isPanicErr(r.Cause), "cause %v", r.Cause)
		}

		got := make([]string, len(r.Hooks))
		for i, h := range r.Hooks {
			got[i] = fmt.Sprintf("%s/%s %s %v", h.Name, h.Stage, h.Status, h.Elapsed)
		}
		exp := make([]string, len(want.hooks))
		for i, h := range want.hooks {
			exp[i] = fmt.Sprintf("%s/%s %s %v", h.name, h.stage, h.status, h.elapsed)
		}
		assert.Equal(t, strings.Join(exp, "\n"), strings.Join(got, "\n"), "hooks: name/stage status elapsed")
		for i, h := range r.Hooks {
			checkErr(t, h, i < len(want.hooks) && want.hooks[i].forced)
		}

		m.mu.Lock()
		defer m.mu.Unlock()
		assert.Empty(t, m.errs)
		for name, n := range m.runs {
			assert.LessOrEqual(t, n, 1, "hook %s ran %d times", name, n)
		}
		for _, h := range r.Hooks {
			if h.Status == shutdown.Skipped || strings.HasPrefix(h.Name, "t") {
				assert.Zero(t, m.runs[h.Name], "skipped hook %s ran", h.Name)
			} else {
				assert.Equal(t, 1, m.runs[h.Name], "hook %s ran", h.Name)
			}
		}
	})
}

func checkErr(t *testing.T, h shutdown.HookResult, forced bool) {
	switch h.Status {
	case shutdown.OK:
		assert.NoError(t, h.Err, h.Name)
	case shutdown.Failed:
		assert.True(t, errors.Is(h.Err, errHook) || errors.Is(h.Err, errTask), "%s: %v", h.Name, h.Err)
	case shutdown.Panicked:
		assert.True(t, isPanicErr(h.Err), "%s: %v", h.Name, h.Err)
	case shutdown.Skipped:
		assert.ErrorIs(t, h.Err, shutdown.ErrSkipped, h.Name)
	case shutdown.TimedOut:
		if forced {
			assert.True(t, errors.Is(h.Err, shutdown.ErrForced) || errors.Is(h.Err, context.Canceled), "%s: %v", h.Name, h.Err)
		} else {
			assert.ErrorIs(t, h.Err, context.DeadlineExceeded, h.Name)
		}
	}
}

func isPanicErr(err error) bool {
	var pe *shutdown.PanicError
	return errors.As(err, &pe)
}

func limitOpts(n int) []shutdown.StageOption {
	if n == 0 {
		return nil
	}
	return []shutdown.StageOption{shutdown.Limit(n)}
}

func stageHooks(s *mStage) []*mHook {
	if s == nil {
		return nil
	}
	return s.hooks
}

// FuzzModel runs random programs against the model. The seed corpus in
// testdata/fuzz/FuzzModel holds programs that once found a difference.
func FuzzModel(f *testing.F) {
	seeds := [][]byte{
		{},
		{0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 0, 2, 0, 0, 3, 1, 0},
		{3, 3, 8, 1, 7, 2, 2, 1, 3, 1, 4, 1, 4, 2, 3, 1, 9, 0, 1, 1, 1, 2, 3},
		{5, 0, 0, 1, 3, 0, 4, 3, 0, 0, 4, 3, 1, 0, 0, 0, 0, 1},
		{2, 6, 4, 1, 5, 3, 1, 2, 3, 2, 3, 0, 1, 2, 2, 2, 5, 0, 0, 6, 0, 0, 1, 7},
		{6, 0, 0, 1, 2, 1, 5, 2, 3, 0, 0, 0, 6, 1, 1, 0, 2, 0, 1, 5},
		{1, 9, 0, 1, 6, 0, 0, 6, 1, 0, 0, 0, 0, 3, 2, 1, 0, 0, 7, 0, 0, 1, 0, 0, 3},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runModel(t, decode(data))
	})
}
