package shutdown

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lastcall-go/lastcall/signals"
)

// A run is one shutdown in progress. Two goroutines share it: the
// supervisor (the coordinator's own goroutine), which owns the deadline,
// the second signal and the report, and the walker, which runs the hooks.
// The walker never blocks the supervisor: when the deadline passes, the
// supervisor writes the report from the hooks' states and moves on, and a
// walker stuck in a hook that ignores its context is abandoned with it.
type run struct {
	c      *Coordinator
	ctx    context.Context // ends at the whole deadline; parent of every hook's context; set by the supervisor before the walker starts
	cancel context.CancelFunc
	base   time.Time   // the trigger; hook times are durations since it
	over   atomic.Bool // the report is being written: start nothing more
	sigs   int         // signals received; owned by the supervisor

	// Guarded by c.mu.
	closed bool        // late registrations now run in the caller
	lateAt []lateBatch // late registrations taken by the walker, in order

	results []HookResult // the report's backing array; supervisor only
}

// lateBatch is a group of late registrations that the walker ran just
// before step pos (-1: after the last step), newest first.
type lateBatch struct {
	pos   int
	hooks []*Handle
}

// newRun starts a run at the trigger. Its context, and the timer behind
// its deadline, are made when the first hook is about to run (see
// supervise): a shutdown with nothing to run sets no timer at all, which
// in a program that has none yet would start the runtime's poller and a
// thread to serve it, after the signal, for nothing.
func newRun(c *Coordinator, base time.Time) *run {
	return &run{c: c, base: base}
}

func (r *run) now() time.Duration { return time.Since(r.base) }

// supervise runs the shutdown after the trigger, on the coordinator's
// goroutine.
func (c *Coordinator) supervise() {
	r := c.run
	c.logStart()
	if d := c.cfg.drain; d > 0 {
		t := time.NewTimer(d)
	drain:
		for {
			select {
			case <-t.C:
				break drain
			case sig := <-c.sigCh:
				if c.second(sig) {
					t.Stop()
					return
				}
			}
		}
	}

	c.mu.Lock()
	c.st = stopping
	steps := c.steps
	// With nothing to run, the last hook is already behind: later
	// registrations run in their callers, and no walker is started.
	empty := steps.len() == 0 && len(c.late) == 0
	if empty {
		r.closed = true
	}
	c.mu.Unlock()
	if empty {
		c.finish(false, 0)
		return
	}

	r.ctx, r.cancel = context.WithDeadline(context.Background(), r.base.Add(c.cfg.timeout))
	walked := make(chan struct{})
	go r.walk(steps, walked)
	r.prepare()
	for {
		select {
		case <-walked:
			c.finish(false, 0)
			return
		case <-r.ctx.Done():
			select {
			case <-walked: // both ready: the hooks did finish in time
			default:
			}
			c.finish(false, 0)
			return
		case sig := <-c.sigCh:
			if c.second(sig) {
				return
			}
		}
	}
}

// prepareMin is the number of hooks from which the supervisor prepares
// the report's array while the walker runs.
const prepareMin = 4096

// prepare allocates the report's array and touches each of its pages, on
// the supervisor's goroutine while the walker runs the first hooks. For a
// large shutdown this is most of the cost of writing the report (a
// hundred thousand results are 6 MB of fresh memory, each page a fault on
// first write); done here, it runs in parallel with the hooks instead of
// after the last one.
func (r *run) prepare() {
	r.c.mu.Lock()
	n := r.reportLen()
	r.c.mu.Unlock()
	if n < prepareMin {
		return
	}
	r.results = make([]HookResult, n)
	const perPage = 4096 / int(unsafe.Sizeof(HookResult{}))
	for i := 0; i < n; i += perPage {
		r.results[i].Status = 0 // one write per page: its fault happens here
	}
	r.results = r.results[:0]
}

// reportLen returns how many hooks the report can hold at most: those in
// the steps but the ones removed before the trigger (removals stop being
// counted then), and every late registration. The caller holds c.mu.
func (r *run) reportLen() int {
	n := r.c.nhooks - r.c.nremoved + len(r.c.late)
	for _, b := range r.lateAt {
		n += len(b.hooks)
	}
	return n
}

// walk runs the steps in reverse order, and late registrations as soon as
// the step in progress is over.
func (r *run) walk(steps stepList, walked chan<- struct{}) {
	defer close(walked)
	t := r.now()
	for i := steps.len() - 1; i >= 0; i-- {
		if r.c.lateN.Load() != 0 {
			t, _ = r.runLate(i, t)
		}
		if r.over.Load() {
			return
		}
		if st := steps.at(i); st.s == nil {
			t = r.runOne(st.h, t)
		} else {
			t = r.runStage(st.s, t)
		}
	}
	for more := true; more; {
		t, more = r.runLate(-1, t)
	}
}

// runLate runs the hooks registered late and not yet taken, newest first,
// as if registered just before step pos; pos -1 is the end of the walk,
// where finding none closes the run to late registrations (they then run
// in their callers). It reports whether it found any.
func (r *run) runLate(pos int, t time.Duration) (time.Duration, bool) {
	c := r.c
	c.mu.Lock()
	batch := c.late
	if r.closed || len(batch) == 0 {
		if pos == -1 {
			r.closed = true
		}
		c.mu.Unlock()
		return t, false
	}
	c.late = nil
	c.lateN.Store(0)
	r.lateAt = append(r.lateAt, lateBatch{pos: pos, hooks: batch})
	c.mu.Unlock()
	for i := len(batch) - 1; i >= 0; i-- {
		t = r.runOne(batch[i], t)
	}
	return t, true
}

// runStage runs the hooks of a stage in parallel and waits for them.
//
// Each hook gets a goroutine of its own, started by the walker in
// registration order; with Limit, the walker waits for a free slot before
// starting the next one. A failing hook never cancels its siblings, and
// every hook runs through invoke, which recovers panics.
//
// Why not errgroup: it would be used only to wait and to honour Limit (its
// error policy, WithContext, would cancel sibling cleanups), and its
// wrapper frames sit on every hook's goroutine. A goroutine starts with a
// small stack; a hook that sleeps on a timer already comes close to its
// end, and errgroup's extra frames pushed it over, so that each goroutine
// copied its stack to a larger one. That doubled the cost of a stage of
// 10,000 such hooks. stageHook keeps the path from the goroutine's start
// to the hook as short as invoke allows.
func (r *run) runStage(s *Stage, t time.Duration) time.Duration {
	switch len(s.hooks) {
	case 0:
		return t
	case 1:
		return r.runOne(s.hooks[0], t)
	}
	var wg sync.WaitGroup
	var slots chan struct{}
	if s.limit > 0 && s.limit < len(s.hooks) {
		slots = make(chan struct{}, s.limit)
	}
	for _, h := range s.hooks {
		if r.over.Load() {
			break
		}
		if h.state.Load() != pending {
			continue
		}
		if slots != nil {
			slots <- struct{}{}
		}
		wg.Add(1)
		go r.stageHook(h, &wg, slots)
	}
	wg.Wait()
	return r.now()
}

// stageHook runs one hook of a stage on its own goroutine.
func (r *run) stageHook(h *Handle, wg *sync.WaitGroup, slots chan struct{}) {
	r.runOne(h, r.now())
	if slots != nil {
		<-slots
	}
	wg.Done()
}

// runOne runs one hook that started at t and returns the time it ended.
//
// A hook with no timeout of its own runs on the calling goroutine with the
// run's context: no goroutine, no timer, no allocation. If it hangs past
// the whole deadline, the supervisor abandons the walker with it. A hook
// with a timeout of its own runs on a goroutine of its own, so that the
// walker can move on when that timeout passes; the goroutine writes to a
// buffered channel and exits whenever the hook returns, never blocked on a
// reader that has left.
func (r *run) runOne(h *Handle, t time.Duration) time.Duration {
	if !h.state.CompareAndSwap(pending, starting) {
		return t
	}
	// A hook never starts with a context that has already ended: past the
	// deadline, or once the report is being written, it is given back and
	// recorded Skipped.
	if r.over.Load() || r.ctx.Err() != nil {
		h.state.Store(pending)
		return t
	}
	h.started = t
	h.state.Store(running)

	var err error
	var timedOut bool
	if d := r.c.timeoutOf(h); d == 0 {
		err = invoke(r.ctx, h.fn)
		timedOut = err != nil && r.ctx.Err() != nil
	} else {
		err, timedOut = invokeTimeout(r.ctx, d, h.fn)
	}
	end := r.now()
	h.status, h.err, h.elapsed = classify(err, timedOut), err, end-t
	if h.state.CompareAndSwap(running, done) {
		r.c.logHook(h.name, h.stage, h.status, err, h.elapsed, "")
	}
	return end
}

// invoke calls a hook and turns a panic into a *PanicError. It is one of
// the two frames by which insideHook recognises a hook's goroutine.
//
// Recovering is a choice: a cleanup that panics must not take the cleanups
// after it down with it, and the panic is reported with its stack, not
// lost.
//
//go:noinline
func invoke(ctx context.Context, fn Hook) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// invokeTimeout runs fn with a context that ends after d (or with parent)
// and returns when fn returns or when that context ends, whichever is
// first. A hook that outlives its context keeps its goroutine; nothing
// waits for it.
func invokeTimeout(parent context.Context, d time.Duration, fn Hook) (error, bool) {
	ctx, cancel := context.WithTimeout(parent, d)
	defer cancel()
	ch := make(chan error, 1)
	go func() { ch <- invoke(ctx, fn) }()
	select {
	case err := <-ch:
		return err, err != nil && ctx.Err() != nil
	case <-ctx.Done():
		select {
		case err := <-ch:
			return err, err != nil
		default:
			return ctx.Err(), true
		}
	}
}

// timeoutOf returns h's own timeout, else the coordinator's hook timeout;
// 0 means none: the hook may use the time left.
func (c *Coordinator) timeoutOf(h *Handle) time.Duration {
	if h.timeout != 0 {
		return h.timeout
	}
	return c.cfg.hookTimeout
}

func classify(err error, timedOut bool) Status {
	switch {
	case err == nil:
		return OK
	case isPanic(err):
		return Panicked
	case timedOut:
		return TimedOut
	default:
		return Failed
	}
}

func isPanic(err error) bool {
	_, ok := err.(*PanicError)
	return ok
}

// second handles a signal that arrives while the shutdown runs. It reports
// whether it ended the shutdown.
//
// Why a second signal exits at once: an operator who sends SIGTERM or
// presses Ctrl-C again has decided that the graceful path is taking too
// long, and shells and supervisors read 128+signo as "ended by that
// signal". The hooks still running are named in the log, so the record
// says what was cut short.
func (c *Coordinator) second(sig os.Signal) bool {
	l := c.logger()
	// A signal that arrives during a shutdown the program started itself is
	// a first signal: it asks for what is already happening.
	if c.run.sigs++; c.run.sigs < 2 {
		l.LogAttrs(context.Background(), slog.LevelInfo, "shutdown: signal received, shutdown already in progress",
			slog.String("signal", sig.String()))
		return false
	}
	if !c.cfg.force {
		l.LogAttrs(context.Background(), slog.LevelWarn, "shutdown: signal ignored, shutdown in progress",
			slog.String("signal", sig.String()))
		return false
	}
	code := signals.ExitCode(sig)
	var names []string
	c.each(func(h *Handle) {
		if h.state.Load() == running {
			names = append(names, h.name)
		}
	})
	l.LogAttrs(context.Background(), slog.LevelError, "shutdown: second signal, forcing exit",
		slog.String("signal", sig.String()), slog.Int("exit_code", code), slog.Any("running", names))
	c.cfg.exit(code)
	// The exit func returned (a test): finish the report, cut short.
	c.finish(true, code)
	return true
}

// each calls f for every hook of the run, in report order.
func (c *Coordinator) each(f func(h *Handle)) {
	r := c.run
	c.mu.Lock()
	steps, batches, late := c.steps, r.lateAt, c.late
	c.mu.Unlock()
	b := 0
	emit := func(pos int) {
		for ; b < len(batches) && batches[b].pos == pos; b++ {
			hs := batches[b].hooks
			for i := len(hs) - 1; i >= 0; i-- {
				f(hs[i])
			}
		}
	}
	for i := steps.len() - 1; i >= 0; i-- {
		emit(i)
		if st := steps.at(i); st.s == nil {
			f(st.h)
		} else {
			for _, h := range st.s.hooks {
				f(h)
			}
		}
	}
	emit(-1)
	for i := len(late) - 1; i >= 0; i-- {
		f(late[i])
	}
}

// finish writes the report and completes the shutdown: at the end of the
// walk, at the deadline, or after a forced exit.
func (c *Coordinator) finish(forced bool, code int) {
	r := c.run
	r.over.Store(true)
	if r.cancel != nil {
		r.cancel()
	}
	end := r.now()
	c.mu.Lock()
	r.closed = true
	hooks := r.results
	if n := r.reportLen(); cap(hooks) < n {
		hooks = make([]HookResult, 0, n)
	}
	c.mu.Unlock()
	c.each(func(h *Handle) {
		for {
			switch h.state.Load() {
			case removed:
				return
			case starting:
				runtime.Gosched() // the walker is a few instructions from running or pending
				continue
			case pending:
				if !h.state.CompareAndSwap(pending, skipped) {
					continue
				}
				hooks = append(hooks, h.result(Skipped, ErrSkipped, 0))
			case running:
				if !h.state.CompareAndSwap(running, abandoned) {
					continue
				}
				err := context.DeadlineExceeded
				if forced {
					err = ErrForced
				}
				hooks = append(hooks, h.result(TimedOut, err, end-h.started))
			default: // done: the walker published its outcome
				hooks = append(hooks, h.result(h.status, h.err, h.elapsed))
				return
			}
			hr := &hooks[len(hooks)-1]
			c.logHook(hr.Name, h.stage, hr.Status, hr.Err, hr.Elapsed, "")
			return
		}
	})

	c.mu.Lock()
	c.late = nil
	c.lateN.Store(0)
	c.st = finished
	rep := c.report
	rep.Hooks = hooks
	rep.Elapsed = end
	rep.Forced, rep.forcedCode = forced, code
	exit := c.exitInHook || c.waiters == 0
	c.mu.Unlock()

	// The end record goes out while the signals are still caught: once they
	// are released, a late SIGTERM has Go's default action and would cut
	// it off.
	c.logEnd(rep)
	if c.sigCh != nil {
		c.cfg.source.Stop(c.sigCh)
	}
	close(c.doneCh)
	if !forced && exit {
		c.cfg.exit(rep.ExitCode())
	}
}

// runAfter runs a hook registered after the shutdown's last hook, at once,
// in the caller, bounded by its timeout.
func (c *Coordinator) runAfter(h *Handle) {
	if !h.state.CompareAndSwap(pending, running) {
		return
	}
	d := c.timeoutOf(h)
	if d == 0 {
		d = c.cfg.timeout
	}
	start := time.Now()
	err, timedOut := invokeTimeout(context.Background(), d, h.fn)
	h.status, h.err, h.elapsed = classify(err, timedOut), err, time.Since(start)
	h.state.Store(done)
	c.logHook(h.name, h.stage, h.status, h.err, h.elapsed, "shutdown: hook registered after the shutdown completed, ran at once")
}

func (h *Handle) result(st Status, err error, elapsed time.Duration) HookResult {
	var stage string
	if h.stage != nil {
		stage = h.stage.name
	}
	return HookResult{Name: h.name, Stage: stage, Status: st, Err: err, Elapsed: elapsed}
}

func signalError(sig os.Signal) error { return &signals.Error{Signal: sig} }

func (c *Coordinator) logStart() {
	l := c.logger()
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	cause := "Shutdown(nil)"
	if err := c.report.Cause; err != nil {
		cause = err.Error()
	}
	l.LogAttrs(ctx, slog.LevelInfo, "shutdown: started",
		slog.String("cause", cause), slog.Duration("timeout", c.cfg.timeout),
		slog.Duration("drain_delay", c.cfg.drain))
}

func (c *Coordinator) logHook(name string, stage *Stage, st Status, err error, elapsed time.Duration, msg string) {
	level := slog.LevelInfo
	switch st {
	case Skipped:
		level = slog.LevelWarn
	case Failed, TimedOut, Panicked:
		level = slog.LevelError
	}
	if msg != "" && level < slog.LevelWarn {
		level = slog.LevelWarn
	}
	l := c.logger()
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	if msg == "" {
		msg = "shutdown: hook"
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("hook", name))
	if stage != nil {
		attrs = append(attrs, slog.String("stage", stage.name))
	}
	attrs = append(attrs, slog.String("status", st.String()), slog.Duration("elapsed", elapsed))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if pe, ok := err.(*PanicError); ok {
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	l.LogAttrs(ctx, level, msg, attrs...)
}

func (c *Coordinator) logEnd(rep *Report) {
	l := c.logger()
	ctx := context.Background()
	code := rep.ExitCode()
	level := slog.LevelInfo
	if code != 0 {
		level = slog.LevelError
	}
	if !l.Enabled(ctx, level) {
		return
	}
	failed := 0
	for i := range rep.Hooks {
		if rep.Hooks[i].Status != OK {
			failed++
		}
	}
	l.LogAttrs(ctx, level, "shutdown: complete",
		slog.Duration("elapsed", rep.Elapsed), slog.Int("exit_code", code),
		slog.Int("hooks", len(rep.Hooks)), slog.Int("failed", failed), slog.Bool("forced", rep.Forced))
}
