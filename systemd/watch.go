package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

// ExtendSlack is added to the time left until a coordinator's deadline in
// the EXTEND_TIMEOUT_USEC that [Watch] sends at the trigger: the report,
// the last events and the process's exit come after the deadline, and a
// service manager that kills the process then records a timeout for a
// shutdown that was on time.
const ExtendSlack = time.Second

// watched holds the coordinators a Watch is watching, so that a second
// Watch of one coordinator does not send everything twice.
var watched sync.Map // *shutdown.Coordinator → struct{}

// Watch tells the service manager what c does, from now until its
// shutdown completes, as an observer of c ([shutdown.Coordinator.Observe]):
//
//   - at the trigger, one datagram: STOPPING=1 first, EXTEND_TIMEOUT_USEC
//     set to the time left until c's deadline plus [ExtendSlack], and
//     "STATUS=stopping (<cause>)";
//   - while the shutdown runs, "STATUS=stopping (<cause>): running http,
//     db" naming the hooks running (stage/name for a hook of a stage,
//     drain hooks under "drain/"), or how the last one ended when none
//     is running ("… : db ok", "… : http timed out");
//   - at completion, "STATUS=stopped: exit code 0, 3 hooks, in 1.2s",
//     with the failed and skipped hooks counted when there are any;
//   - every half of WATCHDOG_USEC, from now until the shutdown completes,
//     WATCHDOG=1, when the unit has WatchdogSec= and the watchdog is this
//     process's (see [Watchdog]).
//
// It does not send READY=1: the program does, with [Notify], once it
// serves (an upgrade's new process through package upgrade).
//
// The hooks never wait for systemd: an event only records what to say,
// and a goroutine of Watch's own sends it, in order, the newer STATUS=
// replacing one not yet sent (systemd shows only the last). The last
// STATUS= is sent before the coordinator's Completed event returns, so it
// leaves before the process exits. The goroutine ends when c's shutdown
// has completed (c.Done). A datagram that cannot be sent is logged with
// slog.Default, once until one is sent again, and is not part of the
// report: the shutdown does not fail because systemd did not hear of it.
//
// A process that told systemd another one is the main process (MAINPID=
// through [Notify], as the old process of an upgrade does) sends nothing
// more: a STOPPING=1 of its own would make systemd stop the unit and kill
// the new main process.
//
// Watch does nothing when NOTIFY_SOCKET is unset, or when c's shutdown
// has already completed. Called after the trigger, it sends STOPPING=1 at
// once, and EXTEND_TIMEOUT_USEC with the next event of the shutdown. It
// is safe to call from any goroutine; a second call for the same c does
// nothing. It panics if c is nil.
func Watch(c *shutdown.Coordinator) {
	if c == nil {
		panic("systemd: Watch: nil coordinator")
	}
	addr, ok := os.LookupEnv(envNotifySocket)
	if !ok || addr == "" {
		return
	}
	if done(c) {
		return
	}
	if _, dup := watched.LoadOrStore(c, struct{}{}); dup {
		return
	}
	w := &watcher{c: c, addr: addr, wake: make(chan struct{}, 1)}
	every, forUs, err := watchdog()
	if err != nil {
		slog.Error("systemd: watchdog off", "err", err)
	}
	w.forUs = forUs
	c.Observe(w.observe)
	// A trigger before Observe took effect has no Triggered event for w:
	// say STOPPING=1 now; the deadline comes with the next event.
	if err := c.Context().Err(); err != nil {
		w.triggered(context.Cause(c.Context()), time.Time{})
	}
	go w.run(every / 2)
}

// A watcher is one Watch: what to tell systemd, and what it has told.
type watcher struct {
	c     *shutdown.Coordinator
	addr  string
	wake  chan struct{} // a message is pending; buffered, never blocks
	forUs func() bool   // the watchdog is this process's, now

	sendMu sync.Mutex // one datagram at a time, in order; held while sending
	failed string     // the last send error logged, "" after a success

	mu        sync.Mutex
	stopping  bool            // the shutdown was triggered
	stopSent  bool            // STOPPING=1 has been sent
	deadline  time.Time       // the shutdown's deadline, once known
	extSent   bool            // EXTEND_TIMEOUT_USEC has been sent
	cause     string          // the shutdown's cause, as STATUS= shows it
	running   []hookKey       // hooks started and not ended, in start order
	ended     hookKey         // the hook that ended last; zero before any
	endedAs   shutdown.Status // and how
	final     string          // the last STATUS=, once the shutdown has completed
	statusOut string          // the STATUS= said last
}

type hookKey struct{ name, stage string }

// run is Watch's goroutine: it sends what the events recorded and the
// watchdog's pings (every > 0), until the shutdown completes.
func (w *watcher) run(every time.Duration) {
	defer watched.Delete(w.c)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-w.wake:
			if done(w.c) {
				return // completed: the last datagram has gone with Completed
			}
			w.flush(time.Now().Add(NotifyTimeout))
		case <-tick:
			if !done(w.c) && w.forUs() {
				w.send("WATCHDOG=1", time.Now().Add(NotifyTimeout))
			}
		case <-w.c.Done():
			return
		}
	}
}

// observe records what an event of the shutdown changes in what systemd
// should hear, and wakes the sender. It runs on the goroutines of the
// hooks: it never sends, except at completion, and leaves the STATUS=
// text to the sender, which builds only the one it sends.
func (w *watcher) observe(e shutdown.Event) {
	switch e.Kind {
	case shutdown.Triggered:
		w.triggered(e.Cause, e.Deadline)
		return
	case shutdown.Completed:
		w.completed(e.Report, e.Deadline)
		return
	}
	w.mu.Lock()
	w.learn(e.Deadline)
	k := hookKey{e.Hook.Name, e.Hook.Stage}
	if e.Kind == shutdown.HookStarted {
		w.running = append(w.running, k)
	} else {
		if i := slices.Index(w.running, k); i >= 0 {
			w.running = slices.Delete(w.running, i, i+1)
		}
		w.ended, w.endedAs = k, e.Hook.Status
	}
	w.mu.Unlock()
	w.kick()
}

// triggered records the trigger: STOPPING=1, the deadline when known, the
// cause.
func (w *watcher) triggered(cause error, deadline time.Time) {
	w.mu.Lock()
	w.stopping = true
	w.learn(deadline)
	if w.cause == "" {
		w.cause = causeText(cause)
	}
	w.mu.Unlock()
	w.kick()
}

// learn records the deadline the first time an event carries it. Call
// with w.mu held.
func (w *watcher) learn(deadline time.Time) {
	if w.deadline.IsZero() && !deadline.IsZero() {
		w.deadline = deadline
	}
}

// completed records the last status and sends what is pending before the
// Completed event returns: after it the process may exit at any moment.
// The coordinator waits for its observers until the deadline, or
// shutdown.FinalGrace past it; the send gives up a little before.
func (w *watcher) completed(rep *shutdown.Report, deadline time.Time) {
	w.mu.Lock()
	w.stopping = true
	w.learn(deadline)
	w.final = finalStatus(rep)
	w.mu.Unlock()
	by := time.Until(deadline)
	if by < shutdown.FinalGrace/2 {
		by = shutdown.FinalGrace / 2
	}
	w.flush(time.Now().Add(min(by, NotifyTimeout)))
}

// kick wakes the sender, unless it is already awake.
func (w *watcher) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// flush sends, as one datagram, what systemd has not heard yet: STOPPING=1
// and EXTEND_TIMEOUT_USEC first, then the latest STATUS=.
func (w *watcher) flush(deadline time.Time) {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	w.mu.Lock()
	var lines []string
	stop := w.stopping && !w.stopSent
	if stop {
		lines = append(lines, "STOPPING=1")
	}
	ext := !w.extSent && !w.deadline.IsZero() && w.stopping
	if ext {
		left := max(time.Until(w.deadline), 0) + ExtendSlack
		lines = append(lines, "EXTEND_TIMEOUT_USEC="+strconv.FormatInt(left.Microseconds(), 10))
	}
	status := w.status()
	if status != w.statusOut {
		lines = append(lines, "STATUS="+status)
	}
	w.mu.Unlock()
	if len(lines) == 0 || handedOver() {
		return
	}
	if !w.sendLocked(strings.Join(lines, "\n"), deadline) {
		return // not sent: said again with the next event
	}
	w.mu.Lock()
	w.stopSent = w.stopSent || stop
	w.extSent = w.extSent || ext
	w.statusOut = status
	w.mu.Unlock()
}

// send sends one datagram.
func (w *watcher) send(state string, deadline time.Time) {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	w.sendLocked(state, deadline)
}

// sendLocked sends state, logging a failure once until a send succeeds.
// Call with w.sendMu held.
func (w *watcher) sendLocked(state string, deadline time.Time) bool {
	err := send(w.addr, state, deadline)
	if err == nil {
		w.failed = ""
		return true
	}
	if msg := err.Error(); msg != w.failed {
		w.failed = msg
		slog.Error("systemd: notify failed", "state", firstLine(state), "err", err)
	}
	return false
}

// status is the STATUS= to say: the last one once the shutdown has
// completed; else the cause, and the hooks running, else how the one that
// ended last ended. Call with w.mu held.
func (w *watcher) status() string {
	if w.final != "" {
		return w.final
	}
	head := "stopping"
	if w.cause != "" {
		head += " (" + w.cause + ")"
	}
	if running := w.running; len(running) > 0 {
		const most = 8 // STATUS= is one line of systemctl status
		names := make([]string, 0, min(len(running), most))
		for _, k := range running[:min(len(running), most)] {
			names = append(names, k.String())
		}
		s := head + ": running " + strings.Join(names, ", ")
		if n := len(running) - most; n > 0 {
			s += fmt.Sprintf(" and %d more", n)
		}
		return s
	}
	if w.ended.name != "" { // a hook's name is never empty
		return head + ": " + w.ended.String() + " " + w.endedAs.String()
	}
	return head
}

func (k hookKey) String() string {
	if k.stage == "" || k.stage == k.name {
		return oneLine(k.name)
	}
	return oneLine(k.stage + "/" + k.name)
}

// finalStatus is the STATUS= at completion.
func finalStatus(rep *shutdown.Report) string {
	if rep == nil {
		return "stopped"
	}
	var failed, skipped int
	for _, h := range rep.Hooks {
		switch h.Status {
		case shutdown.Skipped:
			skipped++
		case shutdown.OK:
		default:
			failed++
		}
	}
	s := fmt.Sprintf("stopped: exit code %d, %d hooks", rep.ExitCode(), len(rep.Hooks))
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	if skipped > 0 {
		s += fmt.Sprintf(", %d skipped", skipped)
	}
	if rep.Forced {
		s += ", forced"
	}
	return s + ", in " + rep.Elapsed.Round(time.Millisecond).String()
}

func causeText(err error) string {
	if err == nil {
		return "Shutdown(nil)"
	}
	return oneLine(err.Error())
}

// oneLine keeps a name or an error from breaking the protocol's lines.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// done reports whether c's shutdown has completed: select picks at random
// among ready cases, and nothing is sent once it has.
func done(c *shutdown.Coordinator) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}
