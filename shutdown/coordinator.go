package shutdown

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lastcall-go/lastcall/signals"
)

// Hook is one step of a shutdown. Its context ends at the earlier of the
// hook's timeout and the whole shutdown's deadline; a hook should return by
// then. An error it returns is recorded, never dropped, and does not stop
// the hooks after it.
type Hook func(ctx context.Context) error

// state is where a coordinator is in its life. One mutex guards it.
type state int32

const (
	idle     state = iota // accepting registrations, listening for signals
	draining              // triggered; waiting out the drain delay
	stopping              // running hooks
	finished              // report complete, Done closed
)

type step struct {
	h *Handle // a hook added by Register or Go, or
	s *Stage  // a stage
}

// stepChunk is how many steps a chunk of a stepList holds.
const stepChunk = 1024

// A stepList holds the steps in registration order, in chunks of
// stepChunk (the first one grows up to that size as a slice does). A
// registration never copies the steps before it, as appending to one
// slice would: with many hooks, those copies were a third of the cost of
// Register, and each left the old array behind as garbage.
type stepList struct {
	chunks [][]step // all full but the last
	n      int
}

func (l *stepList) len() int { return l.n }

func (l *stepList) at(i int) step { return l.chunks[i/stepChunk][i%stepChunk] }

func (l *stepList) push(st step) {
	k := l.n / stepChunk
	if k == len(l.chunks) {
		var chunk []step
		if k > 0 {
			chunk = make([]step, 0, stepChunk)
		}
		l.chunks = append(l.chunks, chunk)
	}
	l.chunks[k] = append(l.chunks[k], st)
	l.n++
}

// filter keeps, in order, the steps for which keep returns true.
func (l *stepList) filter(keep func(step) bool) {
	k := 0
	for i := range l.n {
		if st := l.at(i); keep(st) {
			l.chunks[k/stepChunk][k%stepChunk] = st
			k++
		}
	}
	for i := k; i < l.n; i++ {
		l.chunks[i/stepChunk][i%stepChunk] = step{}
	}
	nc := (k + stepChunk - 1) / stepChunk
	clear(l.chunks[nc:])
	l.chunks = l.chunks[:nc]
	if nc > 0 {
		l.chunks[nc-1] = l.chunks[nc-1][:k-(nc-1)*stepChunk]
	}
	l.n = k
}

// A Coordinator runs a program's shutdown: it listens for signals, holds the
// hooks in LIFO order, and on the first trigger runs them, each bounded in
// time, then records what happened in a [Report]. Its methods are safe for
// concurrent use.
//
// A Coordinator owns one goroutine from [New] until its shutdown completes.
type Coordinator struct {
	cfg config

	ctx    context.Context
	cancel context.CancelCauseFunc
	sigCh  chan os.Signal // nil when listening to no signals
	trigCh chan struct{}  // closed at the trigger
	doneCh chan struct{}  // closed at completion
	report *Report        // allocated in New so calls from hooks can return it early
	active atomic.Bool    // triggered; read by the readiness handler

	mu         sync.Mutex
	st         state
	steps      stepList     // registration order; frozen at the trigger
	nhooks     int          // hooks in steps, removed ones included until compacted
	nremoved   int          // removed hooks still in steps
	late       []*Handle    // registered after the trigger, not yet taken by the runner
	lateN      atomic.Int32 // len(late), for the walker to check between steps without the lock
	run        *run         // the shutdown in progress
	waiters    int          // goroutines blocked in Wait, Shutdown or Exit
	exitInHook bool         // Exit was called from inside the shutdown
}

// New returns a Coordinator that is already listening for its signals: a
// signal that arrives after New returns triggers the shutdown. It panics if
// the options contradict each other (a drain delay not shorter than the
// timeout).
func New(opts ...Option) *Coordinator {
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			panic("shutdown: New: nil option")
		}
		o.apply(&cfg)
	}
	if cfg.drain >= cfg.timeout {
		panic("shutdown: New: drain delay " + cfg.drain.String() +
			" is not shorter than the timeout " + cfg.timeout.String())
	}
	c := &Coordinator{
		cfg:    cfg,
		trigCh: make(chan struct{}),
		doneCh: make(chan struct{}),
		report: &Report{},
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	if len(cfg.signals) > 0 {
		// Buffered so that the second signal waits for the watcher while
		// the first is being handled; the source never blocks on a send.
		c.sigCh = make(chan os.Signal, 4)
		cfg.source.Notify(c.sigCh, cfg.signals...)
	}
	go c.watch()
	return c
}

// Register adds a hook at this point of the LIFO order, as a stage of its
// own, and returns its handle. Hooks run in reverse order of registration.
//
// Register is safe to call from any goroutine at any time, hooks included.
// A hook registered after the trigger is never dropped: while the shutdown
// runs it runs next, within the time left, and appears in the report; once
// the last hook has finished it runs at once in the caller, bounded by its
// timeout, and is logged. Register panics if name is empty or fn is nil.
func (c *Coordinator) Register(name string, fn Hook, opts ...HookOption) *Handle {
	h := c.newHandle("Register", name, nil, fn, opts)
	if c.add(h, nil) {
		c.runAfter(h)
	}
	return h
}

// add places h in the LIFO order, or among the late registrations of the
// shutdown in progress. It reports true when the shutdown's last hook has
// finished: the caller then runs h with runAfter (Go first starts the task
// that h waits for).
func (c *Coordinator) add(h *Handle, s *Stage) (after bool) {
	c.mu.Lock()
	switch {
	case c.st == idle:
		if s == nil {
			c.steps.push(step{h: h})
		} else {
			s.hooks = append(s.hooks, h)
		}
		c.nhooks++
		c.mu.Unlock()
	case c.st != finished && !c.run.closed:
		c.late = append(c.late, h)
		c.lateN.Store(int32(len(c.late)))
		c.mu.Unlock()
	default:
		c.mu.Unlock()
		return true
	}
	return false
}

func (c *Coordinator) unregistered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != idle {
		return
	}
	c.nremoved++
	// Compact when removed hooks are most of the list, so that a program
	// that registers and unregisters in a loop keeps constant memory.
	if c.nremoved < 64 || c.nremoved*2 < c.nhooks {
		return
	}
	c.steps.filter(func(st step) bool {
		if st.s == nil {
			return st.h.state.Load() != removed
		}
		hs := st.s.hooks[:0]
		for _, h := range st.s.hooks {
			if h.state.Load() != removed {
				hs = append(hs, h)
			}
		}
		clear(st.s.hooks[len(hs):])
		st.s.hooks = hs
		return true
	})
	c.nhooks -= c.nremoved
	c.nremoved = 0
}

// Context returns a context that is canceled when the shutdown is
// triggered, with the cause (see [Report.Cause]) available through
// context.Cause. Long-running work derives from it to stop taking new work.
// It is the same context on every call, from any goroutine.
func (c *Coordinator) Context() context.Context { return c.ctx }

// Done returns a channel that is closed when the shutdown has completed and
// its report is final. It is the same channel on every call, safe to use
// from any goroutine.
func (c *Coordinator) Done() <-chan struct{} { return c.doneCh }

// Shutdown triggers the shutdown with cause, unless it was already
// triggered, and waits for it to complete. It is safe to call from many
// goroutines, any number of times; every call returns the same *Report,
// and every hook runs at most once.
//
// Called from inside a hook or a task of the shutdown in progress, Shutdown
// does not wait for the shutdown it is part of: it returns the report at
// once, still being written; read it only after [Coordinator.Done] is
// closed.
//
// To run the hooks when main ends normally, the way atexit handlers run,
// defer it: defer c.Shutdown(nil).
func (c *Coordinator) Shutdown(cause error) *Report {
	nowait := c.enter()
	c.trigger(cause)
	if !nowait {
		<-c.doneCh
	}
	return c.report
}

// Wait waits for the shutdown to be triggered (by a signal, Shutdown, Exit
// or a failing task) and to complete, and returns its report. Called from
// inside a hook or task, it returns as soon as the shutdown is triggered,
// as Shutdown does.
//
// A goroutine blocked in Wait, Shutdown or Exit when the shutdown completes
// owns the end of the process; when there is none, the coordinator ends the
// process itself through the exit func with [Report.ExitCode], the way the
// signal would have ended it, but after the hooks.
func (c *Coordinator) Wait() *Report {
	nowait := c.enter()
	<-c.trigCh
	if !nowait {
		<-c.doneCh
	}
	return c.report
}

// enter is called first by every call that may wait for the shutdown. It
// reports whether the caller must not wait, because it runs inside a hook
// or task; otherwise it counts the caller as a waiter before any trigger
// the caller causes, so that the shutdown cannot complete unseen between
// the two.
func (c *Coordinator) enter() (nowait bool) {
	select {
	case <-c.doneCh:
		return false
	default:
	}
	if insideHook() {
		return true
	}
	c.mu.Lock()
	c.waiters++
	c.mu.Unlock()
	return false
}

// Exit runs the shutdown with an *ExitError cause, unless it was already
// triggered, waits for it, and then calls the exit func (os.Exit by
// default) with the code: the counterpart of Python's sys.exit. The first
// code given to Exit is the report's exit code, unless a second signal
// forced the exit. Exit returns only if the exit func does.
//
// Called from inside a hook or a task of the shutdown in progress, Exit
// records the code and returns at once; the exit func runs when the
// shutdown completes.
func (c *Coordinator) Exit(code int) {
	nowait := c.enter()
	c.mu.Lock()
	if c.st != finished {
		if !c.report.hasExit {
			c.report.hasExit, c.report.exitCode = true, code
		}
		c.exitInHook = c.exitInHook || nowait
	} else {
		nowait = false // finished: nothing left to wait for
	}
	c.mu.Unlock()
	c.trigger(&ExitError{Code: code})
	if nowait {
		return
	}
	<-c.doneCh
	if r := c.report; r.Forced || r.hasExit {
		code = r.ExitCode()
	}
	c.cfg.exit(code)
}

// trigger starts the shutdown with cause; it reports false if it had
// already started.
func (c *Coordinator) trigger(cause error) bool {
	c.mu.Lock()
	if c.st != idle {
		c.mu.Unlock()
		return false
	}
	c.st = draining
	c.report.Cause = cause
	c.run = newRun(c, time.Now())
	c.mu.Unlock()

	c.active.Store(true)
	if c.cfg.source == signals.OS {
		protectStdio()
	}
	c.cancel(cause) // nil: context.Cause reports context.Canceled
	close(c.trigCh)
	return true
}

// watch is the coordinator's goroutine: it waits for the first trigger,
// then runs the shutdown.
func (c *Coordinator) watch() {
	select {
	case sig := <-c.sigCh:
		c.trigger(signalError(sig)) // false if a call won the race: the signal joins it
		c.mu.Lock()
		c.run.sigs = 1
		c.mu.Unlock()
	case <-c.trigCh:
	}
	c.supervise()
}

func (c *Coordinator) logger() *slog.Logger {
	if c.cfg.logger != nil {
		return c.cfg.logger
	}
	return slog.Default()
}
