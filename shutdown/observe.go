package shutdown

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// An Event is one moment of a shutdown, as an observer sees it (see
// [Coordinator.Observe]).
type Event struct {
	Kind EventKind
	// Cause is what triggered the shutdown (Triggered and Completed).
	Cause error
	// Deadline is when the whole shutdown's time runs out (every kind).
	Deadline time.Time
	// Hook is the hook's result: Name, Stage and Started for HookStarted,
	// all of it for HookEnded.
	Hook HookResult
	// Report is the final report (Completed).
	Report *Report
}

// EventKind says which moment of a shutdown an [Event] is.
type EventKind int

const (
	// Triggered: the shutdown has started; Context is canceled.
	Triggered EventKind = iota + 1
	// HookStarted: a hook, drain hook or task stop step has been called.
	HookStarted
	// HookEnded: a hook has its result: it returned, or the shutdown
	// ended it (TimedOut when abandoned, Skipped when never reached).
	HookEnded
	// Completed: the report is final. It comes before Done is closed and
	// before the exit func.
	Completed
)

var kindNames = [...]string{"", "triggered", "hook started", "hook ended", "completed"}

// String returns "triggered", "hook started", "hook ended" or "completed".
func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Observe adds f to the functions told of each event of the shutdown, so
// that metrics and traces need not parse the log; the log records are
// written by such an observer. f sees every hook of the report: one
// HookStarted and one HookEnded for each hook that ran, one HookEnded for
// each hook that was skipped. A hook registered after completion runs in
// its caller and is only logged.
//
// f is called on the goroutine where the event happens (for the hooks of
// a stage, concurrently: f must be safe for concurrent use), never while
// the coordinator holds a lock. A slow f cannot hold the shutdown past its
// deadline: the events of hooks come from goroutines the coordinator can
// leave behind, and the last events (hooks the shutdown ended, then
// Completed) are delivered on a goroutine it waits for until the deadline,
// or at most [FinalGrace] once the deadline has passed or a second signal
// forced the exit. A panic in f is recovered and logged.
//
// Observe is safe to call from any goroutine at any time; an observer
// added during the shutdown sees the events from then on. It panics if f
// is nil.
func (c *Coordinator) Observe(f func(Event)) {
	if f == nil {
		panic("shutdown: Observe: nil function")
	}
	for {
		old := c.observers.Load()
		obs := append(append([]func(Event){}, *old...), f)
		if c.observers.CompareAndSwap(old, &obs) {
			return
		}
	}
}

// FinalGrace bounds the delivery of the last events of a shutdown (and the
// report's delivery) once its deadline has passed or a second signal has
// forced the exit.
const FinalGrace = 100 * time.Millisecond

// observers is the list of observers, copied on write so that an event
// reads it with one atomic load.
type observers = atomic.Pointer[[]func(Event)]

// notify tells every observer of e, in the order they were added.
func (c *Coordinator) notify(e *Event) {
	for _, f := range *c.observers.Load() {
		c.tell(f, e)
	}
}

// tell calls one observer, recovering its panic.
func (c *Coordinator) tell(f func(Event), e *Event) {
	defer func() {
		if v := recover(); v != nil {
			c.observerPanicked(e.Kind, v)
		}
	}()
	f(*e)
}

// observerPanicked logs an observer's panic. It is a function of its own
// so that tell, called for every event on the goroutine of each hook,
// keeps a small frame.
//
//go:noinline
func (c *Coordinator) observerPanicked(k EventKind, v any) {
	c.log(slog.LevelError, "shutdown: observer panicked",
		slog.String("event", k.String()), slog.Any("panic", v))
}

// hookEvent tells the observers that a hook started or ended.
func (c *Coordinator) hookEvent(kind EventKind, r *HookResult) {
	if len(*c.observers.Load()) == 1 {
		// Only the log listens: it records ends, not starts, and needs
		// no Event built and copied for that.
		if kind == HookEnded {
			c.logHook(r, "")
		}
		return
	}
	c.notify(&Event{Kind: kind, Deadline: c.deadline, Hook: *r})
}

// finish delivers the report (report file, report func), then the last
// events: HookEnded for the hooks the report ended (settled), then
// Completed. It waits for them until the deadline, or at most FinalGrace
// past it or after a forced exit: a slow observer is left behind, as a
// slow hook is.
func (c *Coordinator) finish(settled []HookResult, rep *Report) {
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		c.deliver(rep)
		for i := range settled {
			c.hookEvent(HookEnded, &settled[i])
		}
		c.notify(&Event{Kind: Completed, Cause: rep.Cause, Deadline: c.deadline, Report: rep})
	}()
	wait := time.Until(c.deadline)
	if wait < FinalGrace || rep.Forced {
		wait = FinalGrace
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-delivered:
	case <-t.C:
		c.log(slog.LevelError, "shutdown: observers still running, left behind",
			slog.Duration("waited", wait))
	}
}
