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
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	defer cancel()

	// The drain hooks, the drain delay, then the steps newest first: all on
	// a goroutine of its own that can be left behind. Wait for the first
	// of: that walk is done, the deadline, a second signal.
	walked := make(chan struct{})
	go c.walk(ctx, walked)
	sig := c.await(ctx, walked)

	// A second signal ends the process once the report is written.
	if sig != nil {
		c.force(sig)
	}

	// Nothing starts after this, and in-flight work ends.
	cancel()
	c.land(context.Cause(ctx))

	// The report: every hook's outcome, in the order they ran; then the
	// observers' last events.
	rep, settled := c.collect(sig)
	c.finish(settled, rep)

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

// walk tells the observers that the shutdown has started, runs the drain
// hooks and waits out the drain delay, then runs the steps newest first,
// with the hooks registered late as soon as the step in progress is over.
// It closes walked when it is done. The steps are frozen at the trigger,
// so it reads them without the lock.
func (c *Coordinator) walk(ctx context.Context, walked chan<- struct{}) {
	defer close(walked)
	c.notify(&Event{Kind: Triggered, Cause: c.report.Cause, Deadline: c.deadline})
	close(c.told)
	t := c.runStage(ctx, c.drains, c.since())
	if rest := c.cfg.drain - t; rest > 0 && !c.drained {
		timer := time.NewTimer(rest)
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		t = c.since()
	}
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

// end completes the shutdown: the signals released, the process ended at
// once after a second signal, Done closed, and the process ended through
// the exit func when no goroutine waits in Wait, Shutdown or Exit to end
// it.
func (c *Coordinator) end(rep *Report) {
	c.mu.Lock()
	c.phase = finished
	exit := c.exitInHook || c.waiters == 0
	c.mu.Unlock()

	// The signals are released only now, so that a late SIGTERM cannot
	// cut off the end record (written by finish) or the forced exit.
	if rep.Forced {
		c.cfg.exit(rep.ExitCode()) // whoever waits: the operator asked for it
	}
	if c.sigCh != nil {
		c.cfg.source.Stop(c.sigCh)
	}
	close(c.doneCh)
	if exit && !rep.Forced {
		c.cfg.exit(rep.ExitCode())
	}
}
