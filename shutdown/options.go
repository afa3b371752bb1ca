package shutdown

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lastcall-go/lastcall/signals"
)

// DefaultTimeout bounds a whole shutdown, drain delay included, unless
// [WithTimeout] says otherwise. It matches Kubernetes' default
// terminationGracePeriodSeconds.
const DefaultTimeout = 30 * time.Second

// An Option configures a [Coordinator] in [New]. When an option is given
// twice, the last one wins. An option given a value that can never work
// panics at the call that made it, naming the mistake.
type Option interface{ apply(*config) }

// A HookOption configures one hook at registration.
type HookOption interface{ applyHook(hookConfig) hookConfig }

// A StageOption configures a [Stage] at creation.
type StageOption interface{ applyStage(*Stage) }

type config struct {
	signals     []os.Signal
	source      signals.Source
	timeout     time.Duration
	hookTimeout time.Duration // 0: the time left
	drain       time.Duration
	logger      *slog.Logger // nil: slog.Default() at the time of logging
	exit        func(int)
	force       bool
	reportFunc  func(*Report)
	reportFile  string
}

// defaults is the one place where a Coordinator's defaults are set.
func defaults() config {
	return config{
		signals: signals.Default(),
		source:  signals.OS,
		timeout: DefaultTimeout,
		exit:    os.Exit,
		force:   true,
	}
}

// hookConfig is what HookOptions set. They take it and return it by value:
// passed by pointer through the interface, it would escape, and every
// registration would allocate it, options or not.
type hookConfig struct{ timeout time.Duration }

func mustPositive(fn string, d time.Duration) {
	switch {
	case d < 0:
		panic(fmt.Sprintf("shutdown: %s: negative duration %v", fn, d))
	case d == 0:
		panic(fmt.Sprintf("shutdown: %s: zero duration", fn))
	}
}

type signalsOption []os.Signal

func (o signalsOption) apply(c *config) { c.signals = o }

// WithSignals sets the signals that trigger the shutdown. With no signals
// the coordinator listens to none and is triggered only by the program
// ([Coordinator.Shutdown], [Coordinator.Exit], a failing task). Defaults to
// [signals.Default]: SIGINT and SIGTERM (os.Interrupt and SIGTERM on
// Windows). It panics if a signal is nil.
func WithSignals(sigs ...os.Signal) Option {
	for i, s := range sigs {
		if s == nil {
			panic(fmt.Sprintf("shutdown: WithSignals: signal %d is nil", i))
		}
	}
	return signalsOption(append([]os.Signal{}, sigs...))
}

type sourceOption struct{ signals.Source }

func (o sourceOption) apply(c *config) { c.source = o.Source }

// WithSignalSource sets where signals come from. Defaults to [signals.OS];
// tests pass [signals.NewFake]. It panics if src is nil.
func WithSignalSource(src signals.Source) Option {
	if src == nil {
		panic("shutdown: WithSignalSource: nil source")
	}
	return sourceOption{src}
}

type timeoutOption time.Duration

func (o timeoutOption) apply(c *config) { c.timeout = time.Duration(o) }

// WithTimeout bounds the whole shutdown, from the trigger to completion,
// drain delay included. Hooks not finished by then are abandoned and
// recorded TimedOut; hooks not started are recorded Skipped. Defaults to
// [DefaultTimeout]. It panics if d is not positive.
func WithTimeout(d time.Duration) Option {
	mustPositive("WithTimeout", d)
	return timeoutOption(d)
}

type hookTimeoutOption time.Duration

func (o hookTimeoutOption) apply(c *config) { c.hookTimeout = time.Duration(o) }

// WithHookTimeout sets the timeout of every hook that has no [Timeout] of
// its own. By default such a hook may use all the time left before the
// whole deadline. It panics if d is not positive.
func WithHookTimeout(d time.Duration) Option {
	mustPositive("WithHookTimeout", d)
	return hookTimeoutOption(d)
}

type drainOption time.Duration

func (o drainOption) apply(c *config) { c.drain = time.Duration(o) }

// WithDrainDelay sets a wait between the trigger and the first hook. During
// it, [Coordinator.Context] is already canceled and the readiness handler
// answers 503, so load balancers stop sending new work while the service
// still serves what arrives. A shutdown whose cause says the service is
// already drained (an error with a method Drained() bool that returns
// true, found with errors.As: the cause of an in-place upgrade, whose
// listening socket never stopped accepting) does not wait. Defaults to 0.
// It panics if d is negative; [New] panics if it is not shorter than the
// timeout.
func WithDrainDelay(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("shutdown: WithDrainDelay: negative duration %v", d))
	}
	return drainOption(d)
}

type loggerOption struct{ l *slog.Logger }

func (o loggerOption) apply(c *config) { c.logger = o.l }

// WithLogger sets where the shutdown's records go. Defaults to
// slog.Default(), looked up each time a record is written. It panics if l
// is nil; to silence the coordinator, pass slog.New(slog.DiscardHandler).
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("shutdown: WithLogger: nil logger")
	}
	return loggerOption{l}
}

type exitOption func(int)

func (o exitOption) apply(c *config) { c.exit = o }

// WithExitFunc sets the function that ends the process. Defaults to
// os.Exit. It is called by [Coordinator.Exit], by a forced exit on a second
// signal, and when a shutdown that nobody waits for completes. Tests pass a
// function that records the code and returns. It panics if f is nil.
func WithExitFunc(f func(code int)) Option {
	if f == nil {
		panic("shutdown: WithExitFunc: nil function")
	}
	return exitOption(f)
}

type forceOption bool

func (o forceOption) apply(c *config) { c.force = bool(o) }

// WithForceExit sets whether a second signal during a shutdown ends the
// process at once with 128+signo. Defaults to true: an operator who presses
// Ctrl-C twice wants out now. With false, further signals are logged and
// ignored and the shutdown runs to its timeout.
func WithForceExit(enabled bool) Option { return forceOption(enabled) }

type hookTimeout time.Duration

func (o hookTimeout) applyHook(c hookConfig) hookConfig {
	c.timeout = time.Duration(o)
	return c
}

// Timeout sets one hook's timeout. The hook's context ends at the earlier
// of this timeout and the whole shutdown's deadline. It panics if d is not
// positive.
func Timeout(d time.Duration) HookOption {
	mustPositive("Timeout", d)
	return hookTimeout(d)
}

type limitOption int

func (o limitOption) applyStage(s *Stage) { s.limit = int(o) }

// Limit lets at most n hooks of a stage run at once; the others start, in
// registration order, as running ones return or time out. It panics if n is
// below 1.
func Limit(n int) StageOption {
	if n < 1 {
		panic(fmt.Sprintf("shutdown: Limit: %d is below 1", n))
	}
	return limitOption(n)
}

type reportFuncOption func(*Report)

func (o reportFuncOption) apply(c *config) { c.reportFunc = o }

// WithReportFunc sets a function that gets the final report once, before
// the exit func, on every path: the end of the hooks, the deadline, Exit, a
// failing task, and a forced exit by a second signal (then Report.Forced
// is set and the hooks still running are recorded with [ErrForced]). It
// runs on a goroutine that the coordinator waits for until the deadline,
// or at most [FinalGrace] once the deadline has passed or the exit is
// forced, so that it cannot hold the process; a panic in it is recovered
// and logged. It panics if f is nil.
func WithReportFunc(f func(*Report)) Option {
	if f == nil {
		panic("shutdown: WithReportFunc: nil function")
	}
	return reportFuncOption(f)
}

type reportFileOption string

func (o reportFileOption) apply(c *config) { c.reportFile = string(o) }

// WithReportFile writes the final report as JSON (see [Report.MarshalJSON])
// to path, by the same path and at the same time as [WithReportFunc]. It
// fits Kubernetes' termination message (terminationMessagePath,
// /dev/termination-log by default): when the whole report is larger than
// [ReportFileLimit], the file holds a summary that fits, with the cause,
// the exit code, the count of hooks per status and as many hooks as fit,
// those that did not end OK first ("summary": true). The file is
// truncated and written in place, since a termination log is a file the
// kubelet mounts and cannot be renamed over. A file that cannot be
// written is logged at error level and changes neither the exit code nor
// the time the shutdown takes. It panics if path is empty.
func WithReportFile(path string) Option {
	if path == "" {
		panic("shutdown: WithReportFile: empty path")
	}
	return reportFileOption(path)
}
