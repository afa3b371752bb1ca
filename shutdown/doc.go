// Package shutdown runs a Go program's graceful shutdown: on SIGINT,
// SIGTERM, a fatal task error or a call from the program, it stops new
// work, runs cleanup hooks in reverse order of registration, each bounded
// in time, and records what happened in a [Report] with an honest exit
// code.
//
// It starts from Python's atexit (register a cleanup, unregister it,
// cleanups run in reverse order, also at a normal end) and adds what a
// service needs: signals, deadlines, parallel stages, recovery from hooks
// that panic or hang, and a report.
//
//	c := shutdown.New()
//	c.Register("db", shutdown.Closer(db))
//	c.Go("consume", func(ctx context.Context) error { return consume(ctx, c.InFlight()) })
//	c.Register("flush", producer.Flush, shutdown.Timeout(10*time.Second))
//	os.Exit(c.Wait().ExitCode())
//
// The HTTP pieces (a server's drain, a readiness handler, Connection: close
// from the trigger on) are in package shutdownhttp, so that a program that
// serves no HTTP does not link net/http.
//
// # Order
//
// [Coordinator.Register] and [Coordinator.Go] each add one step;
// [Coordinator.Stage] adds a step that holds many hooks. Steps run in
// reverse order of creation: create what you open in the order you open
// it, and it is closed the other way round. The hooks of one stage start
// together, on an errgroup.Group (at most [Limit] at once); the next step
// starts when every hook of the stage has returned or timed out. A failing
// hook never cancels another one and never stops the shutdown.
//
// # Deadlines
//
// The whole shutdown, drain delay included, is bounded by [WithTimeout]
// (30 s by default). Each hook gets a fresh context that ends at the
// earlier of its own timeout ([Timeout], else [WithHookTimeout], else none)
// and that deadline; it never starts with a context that has already
// ended. A hook that outlives its context is recorded TimedOut and
// abandoned: the coordinator moves on and never waits for it. Hooks not
// reached before the deadline are recorded Skipped. A shutdown therefore
// takes at most its timeout plus the time to write the report, whatever
// the hooks do.
//
// Go cannot kill a goroutine. An abandoned hook keeps running on its
// goroutine until it returns; that goroutine is the only one the package
// leaves behind, and only when a hook ignored its context.
//
// A hook with no timeout of its own is called on the goroutine that walks
// the steps, with no goroutine or timer of its own: a shutdown of many
// small hooks costs a loop that reads the clock once per hook. A hook with
// a timeout of its own runs on a goroutine of its own, so that the walk can
// leave it behind at that timeout.
//
// # Faults
//
// A hook or task that panics is recovered and recorded Panicked with a
// [*PanicError] holding the value and the stack; the other hooks still
// run. So is one whose error panics when printed (a nil pointer in a
// non-nil error, most often): its Error method is called as the hook
// returns, and its panic recorded there, not met later in the log or the
// report. Every error is kept: [Report.Err] joins them, and errors.Is and
// errors.As see through it.
//
// # Signals
//
// [New] listens for [signals.Default] (SIGINT and SIGTERM) before it
// returns. The first signal triggers the shutdown, or joins it when the
// program already started it. A second signal while it runs ends the
// process through the exit func with 128+signo (143 for SIGTERM), once the
// report is written (its file and func included, bounded by
// [FinalGrace]), logging the hooks still running; [WithForceExit](false)
// turns that off. When the shutdown completes, the coordinator stops
// listening (signal.Stop), so a later Ctrl-C acts as Go's default again.
//
// From the trigger on, SIGPIPE is caught (when the coordinator uses
// [signals.OS], the default), so a write to a stdout or stderr whose reader
// has gone returns an error (EPIPE) instead of killing the process halfway
// through its cleanup.
//
// # Who ends the process
//
// A goroutine blocked in [Coordinator.Wait], [Coordinator.Shutdown] or
// [Coordinator.Exit] when the shutdown completes owns the end of the
// process: typically main, which then returns or calls os.Exit with
// [Report.ExitCode]. When no goroutine is waiting, as in an atexit-style
// program that was busy in main when SIGTERM arrived, the coordinator ends
// the process itself through the exit func with Report.ExitCode: SIGTERM
// still ends the program, only after its hooks. Tests inject the exit func
// with [WithExitFunc]. A signal that arrives after New but before main has
// registered its hooks runs only the hooks registered so far: register
// them right after New, before the work they clean up begins.
//
// # Exit codes
//
// [Report.ExitCode], first match wins: 128+signo when a second signal
// forced the exit; the code given to [Coordinator.Exit]; 1 when any hook or
// task failed, timed out, panicked or was skipped; else 0. A graceful
// shutdown on SIGTERM whose hooks all succeed exits 0: the service did what
// it was asked.
//
// # Once
//
// Every trigger after the first, from any goroutine, joins the same
// shutdown: all callers get the same *Report and every hook runs at most
// once. [Coordinator.Done] is closed when the report is final.
//
// # Calls from inside a hook
//
// Hooks and tasks may call Register, Unregister, Shutdown, Exit and Wait.
// A call that would wait for the very shutdown it is part of does not
// wait: Shutdown and Wait return the report in progress (read it after
// Done is closed), and Exit records its code and returns; the exit func
// runs when the shutdown completes. The package recognises a hook by its
// stack, so a goroutine that a hook starts itself is not recognised; it
// waits like any caller, which is still bounded by that hook's deadline.
//
// # Late registration
//
// A hook registered after the trigger is never dropped: while hooks run,
// it runs as soon as the current step is over, within the time left, and
// appears in the report (a hook added to a stage after the trigger runs on
// its own, under the stage's name). Once the last hook has finished, a new
// hook runs at once in the caller, bounded by its timeout (else the hook
// timeout, else the whole timeout), and is logged.
//
// # Drain: two contexts
//
// At the trigger, [Coordinator.Context] is canceled with the cause
// (context.Cause; context.Canceled for Shutdown(nil)). It means "stop
// taking new work": derive from it the loops that accept work. It must
// not reach the calls that finish work already taken: a Kafka client given
// it fails every buffered record at the trigger, and a flush after that
// reports success with the records gone. Give those calls
// [Coordinator.InFlight], which lives through the drain and the hooks and
// ends only when the shutdown ends (its deadline, a forced exit, or its
// completion).
//
// The drain hooks ([Coordinator.OnDrain]) start at the trigger, all at
// once: the place to turn a health service to NOT_SERVING, tell a service
// manager the service is stopping, or leave service discovery. The first
// step of the walk starts once [WithDrainDelay] has passed and every drain
// hook has returned or timed out, so that load balancers see the service
// go unready and stop sending new work first. A cause that says the
// service is already drained (an in-place upgrade's) skips the delay.
//
// # The report outside the process
//
// [Report] marshals to JSON in a stable schema (see [Report.MarshalJSON]),
// and [Report.Timeline] draws it as text, one bar per hook on the time
// axis. [WithReportFunc] hands the final report to a function and
// [WithReportFile] writes it to a file (Kubernetes' termination message,
// a summary when it would not fit), on every path and before the exit
// func.
//
// # Observers and logs
//
// [Coordinator.Observe] tells a function of each event of the shutdown:
// the trigger, each hook's start and end with its result, the completion
// with the report. Metrics count on it rather than on log text. The log
// records are written by such an observer, added first: one slog record
// when the shutdown starts (its cause), one per hook (name, stage, status,
// elapsed, error), one at the end (elapsed, exit code), to [WithLogger] or
// slog.Default(). A slow observer cannot hold the shutdown past its
// deadline (see Observe); one that panics is recovered and logged. A log
// handler that panics loses its record, never the shutdown.
//
// # Programming errors
//
// A nil hook, an empty name, a negative or zero duration where a positive
// one is needed, a drain delay not shorter than the timeout, a Limit below
// 1, a nil source, logger, observer or report func, an empty report file
// path: each panics at the call that made it, with a message naming the
// mistake, never later during a shutdown. When an option is given twice,
// the last one wins.
//
// # The default coordinator
//
// [Register], [Go], [Wait], [Shutdown], [Exit] and [Context] act on
// [Default], created on first use, for programs that want atexit's
// shape:
//
//	func main() {
//		defer shutdown.Shutdown(nil) // hooks run when main returns, too
//		shutdown.Register("flush", shutdown.Func(flush))
//		run()
//	}
//
// A deferred call does not run when the program calls os.Exit or
// log.Fatal; call [Exit] instead.
package shutdown
