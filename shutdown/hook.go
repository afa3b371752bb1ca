package shutdown

import (
	"context"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// hookState is where a hook is in its life. The state is the one thing the
// goroutine that runs a hook and the goroutine that writes the report share
// about it, so that neither ever waits for the other:
//
//	pending  ─claim──▶ starting ─start─▶ running ─finish─▶ done
//	   │                  │                  │
//	   │   ◀──release─────┘                  └──abandon──▶ abandoned
//	   ├──Unregister──▶ removed
//	   └──skip────────▶ skipped
//
// A runner claims a hook, then starts it only if the shutdown's context has
// not ended; otherwise it releases it, and the report records it skipped.
type hookState int32

const (
	pending   hookState = iota // registered, not reached yet
	starting                   // claimed by a runner, about to start or be released
	running                    // the hook function has been called
	done                       // returned; its outcome is in the handle
	removed                    // unregistered before it started
	skipped                    // the shutdown ended before it started
	abandoned                  // still running when the shutdown ended
)

var stateNames = [...]string{"pending", "starting", "running", "done", "removed", "skipped", "abandoned"}

func (s hookState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "hookState(" + strconv.Itoa(int(s)) + ")"
}

// transition moves h from one state to another and reports whether it was
// in the first; every change of a hook's state goes through it.
func (h *Handle) transition(from, to hookState) bool {
	return h.state.CompareAndSwap(int32(from), int32(to))
}

func (h *Handle) load() hookState { return hookState(h.state.Load()) }

// run runs h, started at t (time since the trigger), bounded by ctx (the
// shutdown's deadline) and h's own timeout, records its outcome in h and
// returns the time it ended. The clock is read once per hook: the end of
// one is the start of the next.
func (h *Handle) run(ctx context.Context, t time.Duration) time.Duration {
	if !h.transition(pending, starting) {
		return t // removed
	}
	if ctx.Err() != nil {
		// A hook never starts with a context that has already ended.
		h.transition(starting, pending) // the report records it skipped
		return t
	}
	h.res.Started = t
	h.transition(starting, running)
	h.c.hookEvent(HookStarted, &h.res)
	// A hook with no timeout of its own is called on this goroutine, with
	// ctx: no goroutine, no timer; if it hangs, the coordinator leaves this
	// goroutine behind at the deadline. A hook with a timeout runs on a
	// goroutine of its own, so that this one can move on at that timeout.
	// The call is made here, not in a helper: on a stage's goroutine every
	// frame under the hook uses the goroutine's first stack, and a hook
	// that needs more than is left has its whole stack copied.
	var err error
	var timedOut bool
	if d := h.limit(); d > 0 {
		err, timedOut = invokeTimeout(ctx, d, h.fn)
	} else {
		err = invoke(ctx, h.fn)
		timedOut = err != nil && ctx.Err() != nil
	}
	end := h.c.since()
	h.res.Status, h.res.Err, h.res.Elapsed = classify(err, timedOut), err, end-t
	if h.transition(running, done) {
		h.c.hookEvent(HookEnded, &h.res)
	}
	return end
}

// outcome returns h's result for the report, end being when the report is
// written. A hook that has not finished gets its final state here (settled
// is then true): pending becomes skipped, running becomes abandoned
// (TimedOut, with cut as its error). ok is false for a removed hook, which
// the report leaves out.
func (h *Handle) outcome(end time.Duration, cut error) (r HookResult, ok, settled bool) {
	for {
		switch h.load() {
		case done:
			return h.res, true, false
		case starting:
			runtime.Gosched() // the runner is a few instructions from running or pending
		case pending:
			if h.transition(pending, skipped) {
				return h.settle(Skipped, ErrSkipped, end, 0), true, true
			}
		case running:
			if h.transition(running, abandoned) {
				return h.settle(TimedOut, cut, h.res.Started, end-h.res.Started), true, true
			}
		default: // removed
			return HookResult{}, false, false
		}
	}
}

// settle returns the result of a hook the report has ended. It leaves
// h.res alone: an abandoned hook's goroutine may still write it.
func (h *Handle) settle(st Status, err error, started, elapsed time.Duration) HookResult {
	return HookResult{Name: h.res.Name, Stage: h.res.Stage, Status: st, Err: err, Started: started, Elapsed: elapsed}
}

// invoke calls a hook and turns a panic into a *PanicError. It is one of
// the two frames by which insideHook recognises a hook's goroutine.
//
// Recovering is a choice: a cleanup that panics must not take the cleanups
// after it down with it, and the panic is reported with its stack, not
// lost. errgroup does not recover (a panic in one of its goroutines ends
// the process), so the hooks of a stage rely on this too.
//
//go:noinline
func invoke(ctx context.Context, fn Hook) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	err = fn(ctx)
	mustPrint(err)
	return err
}

// mustPrint calls err's Error method, so that an error that cannot be
// printed (often a nil pointer) panics here, recorded as the hook's or
// the task's panic, and not later in the log or the report.
func mustPrint(err error) {
	if err != nil {
		_ = err.Error()
	}
}

// invokeTimeout runs fn with a context that ends after d (or with parent)
// and returns when fn returns or when that context ends, whichever is
// first, and whether fn timed out. A hook that outlives its context keeps
// its goroutine, which writes to a buffered channel nobody reads and exits
// whenever the hook returns: it is abandoned, never waited for.
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
		case err := <-ch: // returned as the context ended: its own result
			return err, err != nil
		default:
			return ctx.Err(), true
		}
	}
}
