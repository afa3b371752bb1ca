package shutdown

import (
	"context"
	"os"

	"github.com/lastcall-go/lastcall/signals"
)

// collect writes the report: every hook's outcome, in the order they ran.
// Hooks still running are abandoned (TimedOut, or ErrForced after a second
// signal), hooks not reached are skipped; their results are also returned
// as settled, for the observers. From here on, a hook registered late runs
// in its caller.
func (c *Coordinator) collect(forced os.Signal) (rep *Report, settled []HookResult) {
	end := c.since()
	cut := context.DeadlineExceeded
	if forced != nil {
		cut = ErrForced
	}
	c.mu.Lock()
	c.phase = closing
	hooks := make([]HookResult, 0, c.nhooks)
	c.mu.Unlock()
	c.each(func(h *Handle) {
		r, ok, now := h.outcome(end, cut)
		if ok {
			hooks = append(hooks, r)
		}
		if now {
			settled = append(settled, r)
		}
	})

	rep = c.report // written here only, before Done is closed
	rep.Hooks, rep.Elapsed = hooks, end
	if forced != nil {
		rep.Forced, rep.forcedCode = true, signals.ExitCode(forced)
	}
	return rep, settled
}

// each calls f for every hook of the shutdown, in report order: the drain
// hooks, then the steps newest first with the late hooks where they ran,
// then the late hooks that never ran.
func (c *Coordinator) each(f func(h *Handle)) {
	c.mu.Lock()
	ran, queued := c.late.ran, c.late.queued
	c.mu.Unlock()
	for _, h := range c.drains.hooks {
		f(h)
	}
	lateBefore := func(pos int) {
		for ; len(ran) > 0 && ran[0].before == pos; ran = ran[1:] {
			for i := len(ran[0].hooks) - 1; i >= 0; i-- {
				f(ran[0].hooks[i])
			}
		}
	}
	for i := len(c.steps) - 1; i >= 0; i-- {
		lateBefore(i)
		if st := c.steps[i]; st.s == nil {
			f(st.h)
		} else {
			for _, h := range st.s.hooks {
				f(h)
			}
		}
	}
	lateBefore(-1)
	for i := len(queued) - 1; i >= 0; i-- {
		f(queued[i])
	}
}
