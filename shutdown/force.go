package shutdown

import (
	"log/slog"
	"os"
	"time"
)

// forces decides what a signal that arrives during the shutdown does, and
// reports whether it forces the exit.
//
// A signal during a shutdown the program started itself (Shutdown, Exit, a
// failing task) asks for what is already happening: it joins. A second
// signal exits at once, because an operator who sends SIGTERM or presses
// Ctrl-C again has decided that the graceful path is taking too long, and
// shells and supervisors read 128+signo as "ended by that signal".
func (c *Coordinator) forces(sig os.Signal) bool {
	switch {
	case !c.signaled:
		c.signaled = true
		c.logSignal(sig, slog.LevelInfo, "shutdown: signal received, shutdown already in progress")
		return false
	case !c.cfg.force:
		c.logSignal(sig, slog.LevelWarn, "shutdown: signal ignored, shutdown in progress")
		return false
	}
	return true
}

// force records a second signal that ends the process: the hooks still
// running are named in the log, after the record of the start (which the
// walker writes; waited for at most FinalGrace). The exit follows the
// report, at the end of the shutdown.
func (c *Coordinator) force(sig os.Signal) {
	t := time.NewTimer(FinalGrace)
	select {
	case <-c.told:
	case <-t.C:
	}
	t.Stop()
	var names []string
	c.each(func(h *Handle) {
		if h.load() == running {
			names = append(names, h.res.Name)
		}
	})
	c.logForced(sig, names)
}
