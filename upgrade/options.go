package upgrade

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// DefaultReadyTimeout bounds how long a new process may take to become
// ready, unless [WithReadyTimeout] says otherwise.
const DefaultReadyTimeout = time.Minute

// An Option configures an [Upgrader] in [New]. When an option is given
// twice, the last one wins. An option given a value that can never work
// panics at the call that made it, naming the mistake.
type Option interface{ apply(*config) }

type config struct {
	signal  os.Signal // nil: no signal, Upgrade is called by the program
	ready   time.Duration
	pidfile string       // "": none
	logger  *slog.Logger // nil: slog.Default() at the time of logging
}

// defaults is the one place where an Upgrader's defaults are set.
func defaults() config {
	return config{signal: defaultSignal, ready: DefaultReadyTimeout}
}

type signalOption struct{ sig os.Signal }

func (o signalOption) apply(c *config) { c.signal = o.sig }

// WithUpgradeSignal sets the signal on which the Upgrader starts an
// upgrade: each one calls [Upgrader.Upgrade] on a goroutine of its own, so
// that a second one while an upgrade runs is refused at once instead of
// queued. Defaults to SIGUSR2, as nginx does; SIGHUP stays free for a
// configuration reload. nil listens to no signal: the program calls
// Upgrade itself (from an admin endpoint, say), the way
// shutdown.WithSignals() with no signal leaves the trigger to the program.
func WithUpgradeSignal(sig os.Signal) Option { return signalOption{sig} }

type readyOption time.Duration

func (o readyOption) apply(c *config) { c.ready = time.Duration(o) }

// WithReadyTimeout bounds how long a new process may take, from its start,
// to call [Upgrader.Ready]; past it the process is killed and reaped and
// this one keeps serving. The same bound applies, in the new process, to
// its wait for the old one's answers during the handshake. Defaults to
// [DefaultReadyTimeout]. It panics if d is not positive.
func WithReadyTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("upgrade: WithReadyTimeout: duration %v is not positive", d))
	}
	return readyOption(d)
}

type pidfileOption string

func (o pidfileOption) apply(c *config) { c.pidfile = string(o) }

// WithPIDFile names a file that holds the process ID of the process that
// serves, followed by a newline, so that `kill -USR2 $(cat PATH)` reaches
// it. The process that becomes ready writes it, atomically (a temporary
// file in the same directory, renamed over it), so a reader never sees a
// half-written file. A relative path is taken from the working directory
// at New. The empty path, the default, writes no file.
func WithPIDFile(path string) Option { return pidfileOption(path) }

type loggerOption struct{ l *slog.Logger }

func (o loggerOption) apply(c *config) { c.logger = o.l }

// WithLogger sets where the Upgrader's records go: at info when an
// upgrade starts, when its new process has started and when it is done;
// at error when it failed; at warn when it is refused, and when New or
// Ready find something amiss (sockets meant for another process, an old
// process gone during the handover). Defaults to slog.Default(), looked up each time a record is
// written, as the coordinator does. It panics if l is nil.
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("upgrade: WithLogger: nil logger")
	}
	return loggerOption{l}
}
