package shutdown

import (
	"context"
	"sync/atomic"
	"time"
)

// late holds the hooks registered after the trigger. While the shutdown
// runs, they are queued, and the walker runs them as soon as the step in
// progress is over, newest first; the batches it took are kept with their
// place, so that the report lists them where they ran. Guarded by
// Coordinator.mu, but for waiting.
type late struct {
	queued  []*Handle
	waiting atomic.Bool // queued is not empty: read by the walker between steps without the lock
	ran     []lateBatch
}

// lateBatch is a group of late hooks that the walker ran just before step
// before (-1: after the last step), newest first.
type lateBatch struct {
	before int
	hooks  []*Handle
}

// add queues h. The caller holds Coordinator.mu.
func (l *late) add(h *Handle) {
	l.queued = append(l.queued, h)
	l.waiting.Store(true)
}

// take returns the queued hooks and records them as run before step pos;
// nil if there are none. The caller holds Coordinator.mu.
func (l *late) take(pos int) []*Handle {
	hooks := l.queued
	if len(hooks) == 0 {
		return nil
	}
	l.queued = nil
	l.waiting.Store(false)
	l.ran = append(l.ran, lateBatch{before: pos, hooks: hooks})
	return hooks
}

// runLate runs the hooks registered late, newest first, as if registered
// just before step pos, started at t, and returns the time the last one
// ended. At the end of the walk (pos -1) it runs them until none is left,
// then closes the shutdown to late registrations: from then on they run in
// their callers (runAfter).
func (c *Coordinator) runLate(ctx context.Context, pos int, t time.Duration) time.Duration {
	for ctx.Err() == nil && (pos < 0 || c.late.waiting.Load()) {
		c.mu.Lock()
		hooks := c.late.take(pos)
		if hooks == nil && pos < 0 && c.phase == stopping {
			c.phase = closing
		}
		c.mu.Unlock()
		if hooks == nil {
			break
		}
		for i := len(hooks) - 1; i >= 0; i-- {
			t = hooks[i].run(ctx, t)
		}
	}
	return t
}

// runAfter runs a hook registered once the shutdown's last hook is behind:
// at once, in the caller, bounded by its timeout (else the hook timeout,
// else the whole timeout), and logged.
func (c *Coordinator) runAfter(h *Handle) {
	if !h.transition(pending, running) {
		return
	}
	d := h.limit()
	if d == 0 {
		d = c.cfg.timeout
	}
	start := time.Now()
	err, timedOut := invokeTimeout(context.Background(), d, h.fn)
	h.res.Status, h.res.Err, h.res.Elapsed = classify(err, timedOut), err, time.Since(start)
	h.transition(running, done)
	c.logHook(&h.res, "shutdown: hook registered after the shutdown completed, ran at once")
}
