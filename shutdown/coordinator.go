package shutdown

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lastcall-go/lastcall/signals"
)

// Hook is one step of a shutdown. Its context ends at the earlier of the
// hook's timeout and the whole shutdown's deadline; a hook should return by
// then. An error it returns is recorded, never dropped, and does not stop
// the hooks after it.
type Hook func(ctx context.Context) error

// A Coordinator runs a program's shutdown: it listens for signals, holds the
// hooks in LIFO order, and on the first trigger runs them, each bounded in
// time, then records what happened in a [Report]. Its methods are safe for
// concurrent use.
//
// A Coordinator owns one goroutine from [New] until its shutdown completes.
type Coordinator struct {
	cfg config

	ctx       context.Context // Context(): canceled at the trigger
	cancel    context.CancelCauseFunc
	flight    context.Context // InFlight(): canceled when the shutdown ends
	land      context.CancelCauseFunc
	sigCh     chan os.Signal // nil when listening to no signals
	trigCh    chan struct{}  // closed at the trigger
	told      chan struct{}  // closed once the observers have been told of the trigger
	doneCh    chan struct{}  // closed at completion
	report    *Report        // allocated in New so calls from hooks can return it early
	drains    *Stage         // the OnDrain hooks: run at the trigger, all at once
	signaled  bool           // a signal has joined the shutdown; owned by the coordinator's goroutine
	observers observers      // the log first (observe.go)

	mu         sync.Mutex
	phase      phase
	start      time.Time // the trigger
	deadline   time.Time // start + the timeout
	drained    bool      // the cause says there is no drain delay to wait
	steps      []step    // registration order; frozen at the trigger
	nhooks     int       // hooks placed or queued late, removed ones included until compacted
	removed    int       // hooks in steps removed by Unregister, until compacted
	late       late      // registrations after the trigger (late.go)
	waiters    int       // goroutines blocked in Wait, Shutdown or Exit
	exitInHook bool      // Exit was called from inside the shutdown
}

// phase is where a coordinator is in its life. It changes under
// Coordinator.mu and only forward.
type phase int32

const (
	idle     phase = iota // hooks take their place in the LIFO order
	stopping              // triggered: hooks registered now join the shutdown
	closing               // the last hook is behind: hooks registered now run in their caller
	finished              // the report is final and Done is closed
)

var phaseNames = [...]string{"idle", "stopping", "closing", "finished"}

func (p phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// A step is one place in the LIFO order: a hook added by Register or Go, or
// a stage.
type step struct {
	h *Handle
	s *Stage
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
		told:   make(chan struct{}),
		doneCh: make(chan struct{}),
		report: &Report{},
	}
	c.drains = &Stage{c: c, name: "drain"}
	c.observers.Store(&[]func(Event){c.logEvent})
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	c.flight, c.land = context.WithCancelCause(context.Background())
	if len(cfg.signals) > 0 {
		// Buffered so that the second signal waits for the coordinator
		// while the first is being handled; the source never blocks on a
		// send.
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
	return c.register(c.newHandle("Register", name, nil, fn, opts))
}

// OnDrain adds a hook that runs at the trigger, at the same time as the
// other drain hooks and before the drain delay ends: the place to turn a
// health service to NOT_SERVING, tell a service manager that the service
// is stopping, or leave service discovery. Each is bounded by its timeout
// and the whole deadline like any hook. The LIFO walk starts once the drain
// delay has passed and every drain hook has returned or timed out, so give
// a drain hook that may hang a [Timeout] of its own: otherwise it holds
// the walk, and every hook after it, until the deadline. Drain hooks come
// first in the report, under the stage name "drain".
//
// OnDrain has the contract of [Coordinator.Register]: a drain hook added
// after the trigger runs as a late registration. It panics if name is
// empty or fn is nil.
func (c *Coordinator) OnDrain(name string, fn Hook, opts ...HookOption) *Handle {
	return c.register(c.newHandle("OnDrain", name, c.drains, fn, opts))
}

// register places h and returns it: see Register.
func (c *Coordinator) register(h *Handle) *Handle {
	if c.add(h) {
		c.runAfter(h)
	}
	return h
}

// add places h in the LIFO order (or its stage), or among the late
// registrations of the shutdown in progress. It reports true when the
// shutdown's last hook is behind: the caller then runs h with runAfter
// (Go first starts the task that h waits for).
func (c *Coordinator) add(h *Handle) (after bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase <= stopping {
		c.nhooks++
	}
	switch {
	case c.phase == idle && h.stage == nil:
		c.steps = append(c.steps, step{h: h})
	case c.phase == idle:
		h.stage.hooks = append(h.stage.hooks, h)
	case c.phase == stopping:
		c.late.add(h)
	default:
		return true
	}
	return false
}

// unregistered counts a hook removed before the trigger, and compacts the
// order when removed hooks are most of it, so that a program that
// registers and unregisters in a loop keeps constant memory.
func (c *Coordinator) unregistered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != idle {
		return
	}
	if c.removed++; c.removed < 64 || c.removed*2 < c.nhooks {
		return
	}
	gone := func(h *Handle) bool { return h.load() == removed }
	c.steps = slices.DeleteFunc(c.steps, func(st step) bool {
		if st.s != nil {
			st.s.hooks = slices.DeleteFunc(st.s.hooks, gone)
			return false
		}
		return gone(st.h)
	})
	c.drains.hooks = slices.DeleteFunc(c.drains.hooks, gone)
	c.nhooks -= c.removed
	c.removed = 0
}

// since returns the time since the trigger.
func (c *Coordinator) since() time.Duration { return time.Since(c.start) }

func signalError(sig os.Signal) error { return &signals.Error{Signal: sig} }
