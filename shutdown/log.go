package shutdown

import (
	"context"
	"log/slog"
	"os"

	"github.com/lastcall-go/lastcall/signals"
)

// The shutdown's log records: one when it starts (its cause), one per hook
// (name, stage, status, elapsed, error), one at the end (elapsed, exit
// code), and one for each signal that arrives while it runs.

func (c *Coordinator) logger() *slog.Logger {
	if c.cfg.logger != nil {
		return c.cfg.logger
	}
	return slog.Default()
}

// log writes one record. Every record of the coordinator goes through it
// or through enabled: a handler that panics loses its record, never the
// shutdown it records.
func (c *Coordinator) log(level slog.Level, msg string, attrs ...slog.Attr) {
	defer func() { _ = recover() }()
	c.logger().LogAttrs(context.Background(), level, msg, attrs...)
}

// enabled reports whether the logger writes records at level, so that a
// record nobody reads is never built. A handler whose Enabled panics
// writes none.
func (c *Coordinator) enabled(level slog.Level) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return c.logger().Enabled(context.Background(), level)
}

// logEvent is the observer that writes the records of a shutdown's
// events; New adds it first.
func (c *Coordinator) logEvent(e Event) {
	switch e.Kind {
	case Triggered:
		c.logStart()
	case HookEnded:
		c.logHook(&e.Hook, "")
	case Completed:
		c.logEnd(e.Report)
	}
}

func (c *Coordinator) logStart() {
	if !c.enabled(slog.LevelInfo) {
		return
	}
	cause := "Shutdown(nil)"
	if err := c.report.Cause; err != nil {
		cause = err.Error()
	}
	drain := c.cfg.drain
	if c.drained {
		drain = 0 // the cause says the service is already drained
	}
	c.log(slog.LevelInfo, "shutdown: started",
		slog.String("cause", cause), slog.Duration("timeout", c.cfg.timeout),
		slog.Duration("drain_delay", drain))
}

// logHook writes a hook's record: at info level when it succeeded, warn
// when it was skipped or msg says something unusual, error when it failed.
func (c *Coordinator) logHook(r *HookResult, msg string) {
	level := slog.LevelInfo
	switch r.Status {
	case Skipped:
		level = slog.LevelWarn
	case Failed, TimedOut, Panicked:
		level = slog.LevelError
	}
	if msg != "" && level < slog.LevelWarn {
		level = slog.LevelWarn
	}
	if c.enabled(level) {
		c.writeHook(r, msg, level)
	}
}

// writeHook writes a hook's record. It is a function of its own so that a
// hook's goroutine enters its large frame only when the record is
// written.
//
//go:noinline
func (c *Coordinator) writeHook(r *HookResult, msg string, level slog.Level) {
	if msg == "" {
		msg = "shutdown: hook"
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("hook", r.Name))
	if r.Stage != "" {
		attrs = append(attrs, slog.String("stage", r.Stage))
	}
	attrs = append(attrs, slog.String("status", r.Status.String()), slog.Duration("elapsed", r.Elapsed))
	if r.Err != nil {
		attrs = append(attrs, slog.String("error", r.Err.Error()))
	}
	if pe, ok := r.Err.(*PanicError); ok {
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	c.log(level, msg, attrs...)
}

// logSignal records a signal that does not force the exit.
func (c *Coordinator) logSignal(sig os.Signal, level slog.Level, msg string) {
	c.log(level, msg, slog.String("signal", sig.String()))
}

func (c *Coordinator) logForced(sig os.Signal, running []string) {
	c.log(slog.LevelError, "shutdown: second signal, forcing exit",
		slog.String("signal", sig.String()), slog.Int("exit_code", signals.ExitCode(sig)),
		slog.Any("running", running))
}

func (c *Coordinator) logTaskFailed(name string, err error) {
	c.log(slog.LevelError, "shutdown: task failed",
		slog.String("task", name), slog.String("error", err.Error()))
}

func (c *Coordinator) logEnd(rep *Report) {
	code := rep.ExitCode()
	level := slog.LevelInfo
	if code != 0 {
		level = slog.LevelError
	}
	if !c.enabled(level) {
		return
	}
	failed := 0
	for i := range rep.Hooks {
		if rep.Hooks[i].Status != OK {
			failed++
		}
	}
	c.log(level, "shutdown: complete",
		slog.Duration("elapsed", rep.Elapsed), slog.Int("exit_code", code),
		slog.Int("hooks", len(rep.Hooks)), slog.Int("failed", failed), slog.Bool("forced", rep.Forced))
}
