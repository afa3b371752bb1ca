package shutdown_test

// FuzzModel holds the coordinator to a model: a plain simulation of what
// DESIGN.md's Behaviours 1 to 9 say one shutdown must do.
//
// The fuzzer's bytes decode into a program (decodeProgram): the options, a
// list of steps (solo hooks, stages, tasks), hooks unregistered before the
// trigger, the trigger, and maybe a second signal. Every hook has a
// behaviour: return nil, fail, panic, sleep honouring its context, sleep
// ignoring it, register another hook, unregister a hook that runs later,
// or call Shutdown and Wait from inside.
//
// predict works out from the program alone what the report must say: the
// hooks in it, in order, each with its status and elapsed time; the
// report's elapsed time (never above the whole timeout); whether a second
// signal forced the exit; the exit code; the calls of the exit func.
// runProgram runs the program in a testing/synctest bubble, where every
// time is exact, and compares, and checks that no hook ran twice and that
// none started with a context that had already ended.
//
// The program's times never tie, so that the outcome depends on the
// library and not on the scheduler: sleeps and the drain delay are whole
// seconds, hook timeouts whole seconds plus 1 µs, the whole timeout whole
// seconds plus 500 ms, a second signal comes at whole seconds plus 250 ms,
// and task i ends at whole seconds plus 100 ms plus i ms.

import (
	"context"
	"errors"
	"fmt"
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

// FuzzModel runs random programs against the model. The seed corpus in
// testdata/fuzz/FuzzModel holds programs that once found a difference.
func FuzzModel(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 0, 2, 0, 0, 3, 1, 0},
		{3, 3, 8, 1, 7, 2, 2, 1, 3, 1, 4, 1, 4, 2, 3, 1, 9, 0, 1, 1, 1, 2, 3},
		{5, 0, 0, 1, 3, 0, 4, 3, 0, 0, 4, 3, 1, 0, 0, 0, 0, 1},
		{2, 6, 4, 1, 5, 3, 1, 2, 3, 2, 3, 0, 1, 2, 2, 2, 5, 0, 0, 6, 0, 0, 1, 7},
		{6, 0, 0, 1, 2, 1, 5, 2, 3, 0, 0, 0, 6, 1, 1, 0, 2, 0, 1, 5},
		{1, 9, 0, 1, 6, 0, 0, 6, 1, 0, 0, 0, 0, 3, 2, 1, 0, 0, 7, 0, 0, 1, 0, 0, 3},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runProgram(t, decodeProgram(data))
	})
}

// The program.

// A behaviour is what a hook does when it runs. The values are part of the
// encoding of the seed corpus: do not reorder them.
type behaviour int

const (
	returnsNil          behaviour = iota
	returnsError                  // errHook
	panics                        // panics with its name
	sleepsHonouringCtx            // sleeps for its duration or until its context ends
	sleepsIgnoringCtx             // sleeps for its duration whatever its context says
	registersLate                 // registers its child hook, then returns nil
	unregistersAnother            // unregisters its target, a hook that runs later
	callsShutdownInside           // calls Shutdown and Wait, then returns nil
	numBehaviours
)

// A taskEnd is how a task's function ends. Part of the encoding too.
type taskEnd int

const (
	stopsWithCtx    taskEnd = iota // returns ctx.Err() once its context ends
	failsAtItsEnd                  // returns errTask at its end, whatever the context says
	panicsAtItsEnd                 // panics at its end
	returnsAtItsEnd                // returns nil at its end, whatever the context says
	numTaskEnds
)

// A trigger is what starts the shutdown. Part of the encoding too.
type trigger int

const (
	bySignal   trigger = iota // SIGTERM, maybe a second one later
	byShutdown                // Shutdown(errCause)
	byExit                    // Exit(program.exitCode)
	byTask                    // the first task that fails or panics; Shutdown if none does
	numTriggers
)

// A program is what decodeProgram makes of the fuzzer's bytes.
type program struct {
	timeout, drain, hookTimeout time.Duration // 0: the option is not given
	force                       bool          // WithForceExit
	steps                       []step        // in registration order
	trigger                     trigger
	exitCode                    int           // byExit
	secondSignal                time.Duration // after the trigger; 0: none
}

// A step is a solo hook, a task (hook.task set) or a stage.
type step struct {
	hook  *hook
	stage *stage
}

type stage struct {
	name  string
	limit int // 0: none
	hooks []*hook
}

// A hook of the program, or a task's stop step.
type hook struct {
	name    string
	stage   *stage
	does    behaviour
	sleep   time.Duration // sleepsHonouringCtx, sleepsIgnoringCtx
	timeout time.Duration // 0: the coordinator's hook timeout
	child   *hook         // registersLate
	target  *hook         // unregistersAnother
	task    *task         // a task's stop step

	removedBeforeTrigger bool
	isTarget             bool // of an unregistersAnother hook
	handle               *shutdown.Handle
}

type task struct {
	end taskEnd
	at  time.Duration // since the program started
}

var (
	errHook  = errors.New("hook failed")
	errTask  = errors.New("task failed")
	errCause = errors.New("shutdown requested")
)

// byteReader hands out the fuzzer's bytes one at a time, then zeros.
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

// seconds returns 0 to n-1 whole seconds.
func (r *byteReader) seconds(n int) time.Duration { return time.Duration(r.next()%n) * time.Second }

// decodeProgram turns the fuzzer's bytes into a program. Every byte
// sequence is a valid program. The seed corpus depends on the order in
// which it reads the bytes: keep it.
func decodeProgram(data []byte) *program {
	r := &byteReader{b: data}
	p := &program{timeout: time.Duration(1+r.next()%6)*time.Second + 500*time.Millisecond}
	if v := r.next(); v%3 == 0 {
		p.drain = time.Duration(v/3%2) * time.Second
	}
	if v := r.next(); v%4 == 0 {
		p.hookTimeout = time.Duration(1+v/4%3)*time.Second + time.Microsecond
	}
	p.force = r.next()%4 != 0

	var registered []*hook // for unregistration targets
	removable := func() []*hook {
		var out []*hook
		for _, h := range registered {
			if h.task == nil && !h.removedBeforeTrigger && !h.isTarget {
				out = append(out, h)
			}
		}
		return out
	}
	hooks, tasks := 0, 0
	newHook := func(s *stage) *hook {
		h := &hook{name: fmt.Sprintf("h%d", hooks), stage: s}
		hooks++
		// Late registration, unregistration and calls from inside come
		// only from solo hooks.
		kinds := numBehaviours
		if s != nil {
			kinds = registersLate
		}
		h.does = behaviour(r.next() % int(kinds))
		h.sleep = r.seconds(4)
		if v := r.next(); v%3 == 0 {
			h.timeout = time.Duration(1+v/3%3)*time.Second + time.Microsecond
		}
		switch h.does {
		case registersLate:
			h.child = &hook{name: h.name + ".late"}
			h.child.does = behaviour(r.next() % int(registersLate))
			h.child.sleep = r.seconds(3)
		case unregistersAnother:
			if targets := removable(); len(targets) == 0 {
				h.does = returnsNil
			} else {
				h.target = targets[r.next()%len(targets)]
				h.target.isTarget = true
			}
		}
		registered = append(registered, h)
		return h
	}

	for range 1 + r.next()%8 {
		switch r.next() % 5 {
		case 0, 1:
			p.steps = append(p.steps, step{hook: newHook(nil)})
		case 2:
			s := &stage{name: fmt.Sprintf("s%d", len(p.steps)), limit: r.next() % 3}
			for range 1 + r.next()%4 {
				s.hooks = append(s.hooks, newHook(s))
			}
			p.steps = append(p.steps, step{stage: s})
		case 3:
			tk := &task{end: taskEnd(r.next() % int(numTaskEnds))}
			tk.at = r.seconds(4) + 100*time.Millisecond + time.Duration(tasks)*time.Millisecond
			h := &hook{name: fmt.Sprintf("t%d", tasks), task: tk}
			tasks++
			registered = append(registered, h)
			p.steps = append(p.steps, step{hook: h})
		case 4:
			if targets := removable(); len(targets) > 0 {
				targets[r.next()%len(targets)].removedBeforeTrigger = true
			}
		}
	}
	p.trigger = trigger(r.next() % int(numTriggers))
	p.exitCode = 2 + r.next()%4
	if v := r.next(); p.trigger == bySignal && v%2 == 1 {
		p.secondSignal = time.Duration(v/2%8)*time.Second + 250*time.Millisecond
	}
	return p
}

// hooksOf returns the hooks of a step.
func (st step) hooksOf() []*hook {
	if st.stage != nil {
		return st.stage.hooks
	}
	return []*hook{st.hook}
}

// The model.

// prediction is what the report of a program's shutdown must say.
type prediction struct {
	cause     string        // "signal", "shutdown", "exit" or "task"
	triggerAt time.Duration // since the program started
	hooks     []predictedHook
	elapsed   time.Duration
	forced    bool
	exitCode  int
	exitCalls []int
}

type predictedHook struct {
	name, stage string
	status      shutdown.Status
	elapsed     time.Duration
	cutBySignal bool // abandoned when the second signal forced the exit
}

// start returns when (since the program started) and how the shutdown
// starts.
func (p *program) start() (time.Duration, string) {
	if p.trigger == byTask {
		first := time.Duration(-1)
		for _, st := range p.steps {
			if tk := st.hook.taskOrNil(); tk != nil && (tk.end == failsAtItsEnd || tk.end == panicsAtItsEnd) &&
				(first < 0 || tk.at < first) {
				first = tk.at
			}
		}
		if first >= 0 {
			return first, "task"
		}
		return 0, "shutdown" // no task fails: the program calls Shutdown
	}
	return 0, [...]string{"signal", "shutdown", "exit"}[p.trigger]
}

func (h *hook) taskOrNil() *task {
	if h == nil {
		return nil
	}
	return h.task
}

// simulation walks a program's steps the way the coordinator must. Times
// are since the trigger.
type simulation struct {
	p         *program
	triggerAt time.Duration // since the program started
	stop      time.Duration // the whole deadline, or the second signal if it forces the exit
	forced    bool
	removed   map[*hook]bool
	results   map[*hook]*predictedHook
	order     []*hook // report order
}

// outcome returns when hook h, started at t, ends and with which status.
func (s *simulation) outcome(h *hook, t time.Duration) (time.Duration, shutdown.Status) {
	limit := s.stop
	own := h.timeout
	if own == 0 {
		own = s.p.hookTimeout
	}
	if own > 0 && t+own < limit {
		limit = t + own
	}
	within := func(d time.Duration, st shutdown.Status) (time.Duration, shutdown.Status) {
		if t+d < limit {
			return t + d, st
		}
		return limit, shutdown.TimedOut
	}
	if tk := h.task; tk != nil {
		ends := tk.at - s.triggerAt // when the task's function returns
		st := shutdown.OK
		switch tk.end {
		case stopsWithCtx:
			ends = 0
		case failsAtItsEnd:
			st = shutdown.Failed
		case panicsAtItsEnd:
			st = shutdown.Panicked
		}
		return within(max(ends-t, 0), st)
	}
	switch h.does {
	case returnsError:
		return t, shutdown.Failed
	case panics:
		return t, shutdown.Panicked
	case sleepsHonouringCtx, sleepsIgnoringCtx:
		return within(h.sleep, shutdown.OK)
	}
	return t, shutdown.OK
}

func (s *simulation) record(h *hook, st shutdown.Status, start, end time.Duration) {
	r := &predictedHook{name: h.name, status: st, elapsed: end - start}
	if h.stage != nil {
		r.stage = h.stage.name
	}
	if st == shutdown.Skipped {
		r.elapsed = 0
	}
	r.cutBySignal = s.forced && st == shutdown.TimedOut && end == s.stop
	s.results[h] = r
	s.order = append(s.order, h)
}

func (s *simulation) skip(h *hook) { s.record(h, shutdown.Skipped, 0, 0) }

// runSolo runs one hook, started at t, on the walker; it returns when the
// hook ended and whether the walk goes on.
func (s *simulation) runSolo(h *hook, t time.Duration) (time.Duration, bool) {
	if s.removed[h] {
		return t, true
	}
	if t >= s.stop {
		s.skip(h)
		return t, false
	}
	if h.does == unregistersAnother {
		s.removed[h.target] = true
	}
	end, st := s.outcome(h, t)
	s.record(h, st, t, end)
	return end, end < s.stop
}

// runStage runs a stage's hooks, started at t, at most limit at once, each
// taking the first free slot in registration order.
func (s *simulation) runStage(sg *stage, t time.Duration) (time.Duration, bool) {
	var hooks []*hook
	for _, h := range sg.hooks {
		if !s.removed[h] {
			hooks = append(hooks, h)
		}
	}
	switch len(hooks) {
	case 0:
		return t, true
	case 1:
		return s.runSolo(hooks[0], t)
	}
	slots := len(hooks)
	if sg.limit > 0 {
		slots = sg.limit
	}
	free := make([]time.Duration, slots) // when each slot is free again
	for i := range free {
		free[i] = t
	}
	start, last, goesOn := t, t, true
	for _, h := range hooks {
		i := slices.Index(free, slices.Min(free))
		start = max(start, free[i])
		if start >= s.stop {
			s.skip(h)
			goesOn = false
			continue
		}
		end, st := s.outcome(h, start)
		s.record(h, st, start, end)
		free[i] = end
		last = max(last, end)
	}
	return last, goesOn && last < s.stop
}

// predict works out what the report of p's shutdown must say.
func predict(p *program) prediction {
	triggerAt, cause := p.start()
	s := &simulation{p: p, triggerAt: triggerAt, stop: p.timeout,
		removed: map[*hook]bool{}, results: map[*hook]*predictedHook{}}
	if p.secondSignal > 0 && p.force && p.secondSignal < p.timeout {
		s.stop, s.forced = p.secondSignal, true
	}
	for _, st := range p.steps {
		for _, h := range st.hooksOf() {
			if h.removedBeforeTrigger {
				s.removed[h] = true
			}
		}
	}

	// The walk: the drain delay, then the steps newest first, with the
	// hooks registered late run as soon as the step that registered them
	// is over, newest first.
	var queued []*hook
	t, goesOn := p.drain, p.drain < s.stop
	runLate := func() {
		for goesOn && len(queued) > 0 {
			batch := queued
			queued = nil
			for i := len(batch) - 1; i >= 0; i-- {
				if !goesOn {
					s.skip(batch[i])
					continue
				}
				t, goesOn = s.runSolo(batch[i], t)
			}
		}
	}
	for i := len(p.steps) - 1; i >= 0; i-- {
		runLate()
		st := p.steps[i]
		switch {
		case !goesOn:
			for _, h := range st.hooksOf() {
				if !s.removed[h] {
					s.skip(h)
				}
			}
		case st.stage != nil:
			t, goesOn = s.runStage(st.stage, t)
		default:
			h := st.hook
			ran := len(s.order)
			t, goesOn = s.runSolo(h, t)
			if len(s.order) > ran && h.does == registersLate && s.results[h].status != shutdown.Skipped {
				queued = append(queued, h.child)
			}
		}
	}
	runLate()
	for i := len(queued) - 1; i >= 0; i-- { // never taken: reported last
		s.skip(queued[i])
	}

	want := prediction{cause: cause, triggerAt: triggerAt}
	want.elapsed = min(t, s.stop)
	if !goesOn {
		want.elapsed = s.stop
	}
	if s.forced && p.secondSignal >= want.elapsed && goesOn {
		// The walk ended before the second signal: nobody listens to it.
		s.forced = false
	}
	want.forced = s.forced && want.elapsed == s.stop
	for _, h := range s.order {
		want.hooks = append(want.hooks, *s.results[h])
	}
	switch {
	case want.forced:
		want.exitCode = signals.ExitCode(syscall.SIGTERM)
		want.exitCalls = []int{want.exitCode}
	case cause == "exit":
		want.exitCode = p.exitCode
	default:
		for _, r := range want.hooks {
			if r.status != shutdown.OK {
				want.exitCode = 1
				break
			}
		}
	}
	if cause == "exit" {
		want.exitCalls = append(want.exitCalls, want.exitCode)
	}
	return want
}

// The real run.

// execution keeps what the hooks of a real run saw.
type execution struct {
	mu       sync.Mutex
	runs     map[string]int
	problems []string
}

func (e *execution) ran(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs[name]++
}

func (e *execution) problem(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.problems = append(e.problems, fmt.Sprintf(format, args...))
}

// sleepOrDone sleeps for d or until ctx ends, and returns ctx's error in
// the second case.
func sleepOrDone(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hookFunc returns the function of hook h.
func (e *execution) hookFunc(c *shutdown.Coordinator, h *hook) shutdown.Hook {
	return func(ctx context.Context) error {
		e.ran(h.name)
		if dl, ok := ctx.Deadline(); !ok || ctx.Err() != nil || !time.Now().Before(dl) {
			e.problem("%s: started with context %v (deadline %v, set %v)", h.name, ctx.Err(), dl, ok)
		}
		switch h.does {
		case returnsError:
			return fmt.Errorf("%s: %w", h.name, errHook)
		case panics:
			panic(h.name)
		case sleepsHonouringCtx:
			return sleepOrDone(ctx, h.sleep)
		case sleepsIgnoringCtx:
			time.Sleep(h.sleep)
		case registersLate:
			c.Register(h.child.name, e.hookFunc(c, h.child))
		case unregistersAnother:
			if !h.target.handle.Unregister() {
				e.problem("%s: Unregister(%s) = false for a hook that has not started", h.name, h.target.name)
			}
		case callsShutdownInside:
			if c.Shutdown(nil) != c.Wait() {
				e.problem("%s: Shutdown and Wait from inside a hook returned different reports", h.name)
			}
		}
		return nil
	}
}

// taskFunc returns the function of task tk, named name.
func taskFunc(tk *task, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		if tk.end == stopsWithCtx {
			<-ctx.Done()
			return ctx.Err()
		}
		time.Sleep(tk.at)
		switch tk.end {
		case failsAtItsEnd:
			return fmt.Errorf("%s: %w", name, errTask)
		case panicsAtItsEnd:
			panic(name)
		}
		return nil
	}
}

// runProgram runs p in a synctest bubble and compares its report with the
// model's prediction.
func runProgram(t *testing.T, p *program) {
	want := predict(p)
	synctest.Test(t, func(t *testing.T) {
		opts := []shutdown.Option{shutdown.WithTimeout(p.timeout), shutdown.WithForceExit(p.force)}
		if p.drain > 0 {
			opts = append(opts, shutdown.WithDrainDelay(p.drain))
		}
		if p.hookTimeout > 0 {
			opts = append(opts, shutdown.WithHookTimeout(p.hookTimeout))
		}
		c, fake, exits := newTest(t, opts...)
		e := &execution{runs: map[string]int{}}
		register := func(h *hook, s *shutdown.Stage) {
			var opts []shutdown.HookOption
			if h.timeout > 0 {
				opts = append(opts, shutdown.Timeout(h.timeout))
			}
			if s != nil {
				h.handle = s.Register(h.name, e.hookFunc(c, h), opts...)
			} else {
				h.handle = c.Register(h.name, e.hookFunc(c, h), opts...)
			}
		}
		begin := time.Now()
		for _, st := range p.steps {
			switch {
			case st.stage != nil:
				var opts []shutdown.StageOption
				if st.stage.limit > 0 {
					opts = append(opts, shutdown.Limit(st.stage.limit))
				}
				s := c.Stage(st.stage.name, opts...)
				for _, h := range st.stage.hooks {
					register(h, s)
				}
			case st.hook.task != nil:
				c.Go(st.hook.name, taskFunc(st.hook.task, st.hook.name))
			default:
				register(st.hook, nil)
			}
		}
		for _, st := range p.steps {
			for _, h := range st.hooksOf() {
				if h.removedBeforeTrigger {
					require.True(t, h.handle.Unregister(), "Unregister(%s) before the trigger", h.name)
				}
			}
		}

		var rep *shutdown.Report
		switch want.cause {
		case "signal":
			// Wait first, so that the test owns the end of the process:
			// once Wait is durably blocked it has counted itself.
			got := make(chan *shutdown.Report)
			go func() { got <- c.Wait() }()
			synctest.Wait()
			require.Equal(t, 1, fake.Send(syscall.SIGTERM))
			if p.secondSignal > 0 {
				go func() {
					time.Sleep(p.secondSignal)
					fake.Send(syscall.SIGTERM)
				}()
			}
			rep = <-got
		case "shutdown":
			rep = c.Shutdown(errCause)
		case "exit":
			c.Exit(p.exitCode)
			rep = c.Wait()
		case "task":
			rep = c.Wait()
		}
		triggerAt := time.Since(begin) - rep.Elapsed
		// Let abandoned hooks and tasks run out their sleeps: the bubble
		// ends only when every goroutine in it has, and its clock stops
		// when this goroutine returns. Fake time: this costs nothing.
		defer time.Sleep(time.Minute)

		assert.Equal(t, want.triggerAt, triggerAt, "trigger time")
		assert.Equal(t, want.elapsed, rep.Elapsed, "report elapsed")
		assert.LessOrEqual(t, rep.Elapsed, p.timeout, "elapsed within the whole timeout")
		assert.Equal(t, want.forced, rep.Forced, "forced")
		assert.Equal(t, want.exitCode, rep.ExitCode(), "exit code")
		assert.Equal(t, want.exitCalls, exits.Codes(), "exit func calls")
		checkCause(t, want.cause, p, rep.Cause)

		assert.Equal(t, want.lines(), reportLines(rep), "hooks: name/stage status elapsed")
		for i, h := range rep.Hooks {
			checkHookErr(t, h, i < len(want.hooks) && want.hooks[i].cutBySignal)
		}

		e.mu.Lock()
		defer e.mu.Unlock()
		assert.Empty(t, e.problems)
		for name, n := range e.runs {
			assert.LessOrEqual(t, n, 1, "hook %s ran %d times", name, n)
		}
		for _, h := range rep.Hooks {
			// A task's stop step is the library's, not a hook of the
			// program: it counts no run.
			if h.Status == shutdown.Skipped || strings.HasPrefix(h.Name, "t") {
				assert.Zero(t, e.runs[h.Name], "skipped hook %s ran", h.Name)
			} else {
				assert.Equal(t, 1, e.runs[h.Name], "hook %s ran", h.Name)
			}
		}
	})
}

// lines renders the predicted hooks one a line, as reportLines does.
func (want prediction) lines() string {
	var b strings.Builder
	for _, h := range want.hooks {
		fmt.Fprintf(&b, "%s/%s %s %v\n", h.name, h.stage, h.status, h.elapsed)
	}
	return b.String()
}

// reportLines renders the report's hooks one a line: name/stage status
// elapsed.
func reportLines(rep *shutdown.Report) string {
	var b strings.Builder
	for _, h := range rep.Hooks {
		fmt.Fprintf(&b, "%s/%s %s %v\n", h.Name, h.Stage, h.Status, h.Elapsed)
	}
	return b.String()
}

// checkCause checks the report's cause against the trigger.
func checkCause(t *testing.T, cause string, p *program, got error) {
	t.Helper()
	switch cause {
	case "signal":
		var se *signals.Error
		assert.ErrorAs(t, got, &se)
	case "shutdown":
		assert.ErrorIs(t, got, errCause)
	case "exit":
		var ee *shutdown.ExitError
		if assert.ErrorAs(t, got, &ee) {
			assert.Equal(t, p.exitCode, ee.Code)
		}
	case "task":
		var pe *shutdown.PanicError
		assert.True(t, errors.Is(got, errTask) || errors.As(got, &pe), "cause %v", got)
	}
}

// checkHookErr checks that a hook's error goes with its status.
func checkHookErr(t *testing.T, h shutdown.HookResult, cutBySignal bool) {
	t.Helper()
	var pe *shutdown.PanicError
	switch h.Status {
	case shutdown.OK:
		assert.NoError(t, h.Err, h.Name)
	case shutdown.Failed:
		assert.True(t, errors.Is(h.Err, errHook) || errors.Is(h.Err, errTask), "%s: %v", h.Name, h.Err)
	case shutdown.Panicked:
		assert.ErrorAs(t, h.Err, &pe, h.Name)
	case shutdown.Skipped:
		assert.ErrorIs(t, h.Err, shutdown.ErrSkipped, h.Name)
	case shutdown.TimedOut:
		if cutBySignal {
			assert.True(t, errors.Is(h.Err, shutdown.ErrForced) || errors.Is(h.Err, context.Canceled), "%s: %v", h.Name, h.Err)
		} else {
			assert.ErrorIs(t, h.Err, context.DeadlineExceeded, h.Name)
		}
	}
}
