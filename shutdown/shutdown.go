package shutdown

import (
	"context"
	"os"
	"time"

	"golang.org/x/sync/errgroup"
)

// run is one shutdown, from the trigger to the end of the process. It runs
// on the coordinator's goroutine once trigger has canceled Context and
// fixed the start time.
//
// The hooks run on other goroutines, which this one never waits for past
// the deadline: Go cannot kill a goroutine, so the only way to bound a
// shutdown is to stop waiting. A hook that ignores its context is left
// behind, still running, and recorded TimedOut.
func (c *Coordinator) run() {
	c.logStart()
	ctx, cancel := context.WithDeadline(context.Background(), c.start.Add(c.cfg.timeout))
	defer cancel()

	// Drain: the drain hooks start at once; the walk waits for them and
	// for the drain delay.
	sig := c.await(ctx, c.drain(ctx))

	// Walk the steps, newest first, on a goroutine of its own that can be
	// left behind, and wait for the first of: the walk is done, the
	// deadline, a second signal.
	if sig == nil && ctx.Err() == nil {
		walked := make(chan struct{})
		go c.walk(ctx, walked)
		sig = c.await(ctx, walked)
	}

	// A second signal ends the process at once.
	if sig != nil {
		c.force(sig)
	}

	// Nothing starts after this, and in-flight work ends.
	cancel()
	c.land(context.Cause(ctx))

	// The report: every hook's outcome, in the order they ran.
	rep := c.collect(sig)

	// The end: release the signals, close Done, and end the process if
	// nobody waits to.
	c.end(rep)
}

// await waits for the first of: done is closed, ctx ends, a signal that
// forces the exit, which it returns.
func (c *Coordinator) await(ctx context.Context, done <-chan struct{}) os.Signal {
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return nil
		case sig := <-c.sigCh:
			if c.forces(sig) {
				return sig
			}
		}
	}
}

// drain starts the drain hooks and returns a channel that is closed once
// every one of them has returned or timed out and the drain delay has
// passed.
func (c *Coordinator) drain(ctx context.Context) <-chan struct{} {
	drained := make(chan struct{})
	if len(c.drains.hooks) == 0 && c.cfg.drain == 0 {
		close(drained)
		return drained
	}
	go func() {
		defer close(drained)
		c.runStage(ctx, c.drains, 0)
		if rest := c.cfg.drain - c.since(); rest > 0 {
			t := time.NewTimer(rest)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}()
	return drained
}

// walk runs the steps, newest first, and the hooks registered late as
// soon as the step in progress is over; it closes walked when it is done.
// The steps are frozen at the trigger, so it reads them without the lock.
func (c *Coordinator) walk(ctx context.Context, walked chan<- struct{}) {
	defer close(walked)
	t := c.since()
	for i := len(c.steps) - 1; i >= 0 && ctx.Err() == nil; i-- {
		t = c.runLate(ctx, i, t)
		if st := c.steps[i]; st.s == nil {
			t = st.h.run(ctx, t)
		} else {
			t = c.runStage(ctx, st.s, t)
		}
	}
	c.runLate(ctx, -1, t)
}

// runStage runs the hooks of a stage together, started at t, and returns
// when every one has returned or timed out.
//
// An errgroup.Group starts them in registration order, at most Limit at
// once. It only waits and limits: each hook's error is recorded in its
// handle, never returned to the group, so no failure cancels a sibling
// (errgroup.WithContext would) and no error is kept in place of another.
func (c *Coordinator) runStage(ctx context.Context, s *Stage, t time.Duration) time.Duration {
	switch len(s.hooks) {
	case 0:
		return t
	case 1:
		return s.hooks[0].run(ctx, t)
	}
	var g errgroup.Group
	if s.limit > 0 {
		g.SetLimit(s.limit)
	}
	for _, h := range s.hooks {
		if ctx.Err() != nil {
			break
		}
		if h.load() != pending {
			continue // removed
		}
		g.Go(func() error {
			h.run(ctx, c.since())
			return nil
		})
	}
	_ = g.Wait() // always nil
	return c.since()
}

// end completes the shutdown: the end record, the signals released, Done
// closed, and the process ended through the exit func when no goroutine
// waits in Wait, Shutdown or Exit to end it.
func (c *Coordinator) end(rep *Report) {
	c.mu.Lock()
	c.phase = finished
	exit := (c.exitInHook || c.waiters == 0) && !rep.Forced
	c.mu.Unlock()

	// The end record goes out while the signals are still caught: once they
	// are released, a late SIGTERM has Go's default action and would cut
	// it off.
	c.logEnd(rep)
	if c.sigCh != nil {
		c.cfg.source.Stop(c.sigCh)
	}
	close(c.doneCh)
	if exit {
		c.cfg.exit(rep.ExitCode())
	}
}
