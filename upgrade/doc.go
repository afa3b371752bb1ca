// Package upgrade replaces a running server by a new process of its binary
// without closing its listening sockets, the way nginx's binary upgrade
// does, and drains the old process through its [shutdown.Coordinator]:
// the same hooks, deadlines and report as on SIGTERM. No connection is
// refused, and no request the old process began is lost, with no load
// balancer in front.
//
//	c := shutdown.New()
//	up, err := upgrade.New(c, upgrade.WithPIDFile("/run/app.pid"))
//	if err != nil {
//		log.Fatal(err) // ErrNotSupported anywhere but Linux and macOS
//	}
//	ln, err := up.Listen("tcp", ":8080") // the old process's socket, or systemd's, or a new one
//	...
//	stop := shutdownhttp.Server(srv) // before Serve: it watches the connections
//	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
//	c.Register("http", stop, shutdown.Timeout(10*time.Second)) // runs before the serve task's stop
//	if err := up.Ready(); err != nil { // the old process stops accepting
//		c.Exit(1)
//	}
//	os.Exit(c.Wait().ExitCode())
//
// Then `kill -USR2 $(cat /run/app.pid)` upgrades in place.
//
// # The upgrade, in order
//
//  1. On SIGUSR2 ([WithUpgradeSignal]) or a call of [Upgrader.Upgrade], the
//     old process starts the binary found now at the path it was started
//     from, with the same arguments and environment, a copy of every
//     listening socket that [Upgrader.Listen] returned, and one end of a
//     handshake.
//  2. The new process starts as it always does: [New] takes the sockets,
//     Listen hands each to the call with the same network and address
//     (Listen("tcp", ":0") in the old process and in the new one is the
//     same socket, on the same port), and the program registers its hooks
//     and starts serving. Its listeners accept nothing yet: the old
//     process still does, and connections wait in the sockets' queues for
//     whichever process accepts.
//  3. The new process calls [Upgrader.Ready]. The old one answers that it
//     may serve; the new one writes the PID file, tells systemd READY=1 and
//     its MAINPID, and says it serves. The old process then tells the new
//     one to start accepting, and stops accepting itself. A new process
//     that may yet be killed never holds a connection it accepted, and only
//     for the instant between that last message and the old process's stop
//     do both processes accept (each serves what it accepted).
//  4. The old process shuts down through its coordinator with cause
//     [ErrUpgraded]: the coordinator's context is canceled, the readiness
//     handler of package shutdownhttp answers 503, and the hooks run in
//     their order, under their deadlines, without the drain delay (the
//     socket never stopped accepting; there is no load balancer to wait
//     for). Its listeners do not close the sockets under the new process:
//     after the handover Accept blocks until Close, so http.Server.Serve
//     ends with http.ErrServerClosed when the HTTP hook shuts the server
//     down, as it does on SIGTERM, and the serve task is not a failure. The
//     old process exits with the report's exit code.
//
// The requests the old process has begun are answered by it. Its
// keep-alive connections are the HTTP hook's business: with
// shutdownhttp.Drain each response from the trigger on says
// "Connection: close", and shutdownhttp.Server closes an idle connection
// only once it has been idle for its grace period (1 s), so that a client
// that was just answered and is sending its next request on it is served.
// A client that leaves a connection idle for longer and sends on it at the
// instant the old process closes it loses that request if it is not
// idempotent (Go's client retries only idempotent ones): the race of every
// HTTP server's idle timeout, here once per upgrade.
//
// # What the new process gets
//
// The binary is the one at the path now, not the file the old process
// runs: a deployment renames a new binary over the path (cp would fail
// with "text file busy" while the old one runs), then sends the signal.
// The path is os.Args[0] as the program was started, made absolute, when
// it names the same file as os.Executable at New; otherwise the path
// os.Executable gives. A symbolic link therefore is followed at each
// upgrade (a deployment that repoints current -> releases/v2 upgrades to
// v2), and a path that no longer exists fails the upgrade, logged, while
// the old process serves on.
//
// The new process gets the old one's arguments and environment as they
// are at the upgrade, the working directory of New, and its standard
// output and error; its standard input is /dev/null. Its descriptor 3 is
// the handshake and its listening sockets follow from 4 on, named by the
// environment variable LASTCALL_UPGRADE together with the old process's
// ID, which the new process checks against its parent's, so that a copy
// of the variable that reaches another program is ignored (with a
// record). New unsets the variable and marks the descriptors
// close-on-exec, so that nothing the program starts inherits them. A
// listener closed before the upgrade is not handed over. No descriptor of
// an upgrade stays open in either process once it has ended, whatever its
// outcome.
//
// # Socket activation
//
// In a first process, New also takes the sockets of systemd socket
// activation (a .socket unit, systemd-socket-activate; see package
// systemd). Listen then returns, for a call that no upgrade socket
// matches, the first activated socket bound to the address asked for,
// else the first one named so (FileDescriptorName=), else the first of
// the same kind (TCP, or Unix): under socket activation the unit decides
// where the service listens, and a program run with -addr serves on the
// unit's socket. Activated sockets that no Listen call took are closed at
// Ready. An upgrade hands the activated sockets on like any other; a Unix
// socket's path is removed at the end of the last process only when the
// program created it.
//
// # Failures
//
// The old process kills (SIGKILL) and reaps a new process that exits,
// closes its end of the handshake, writes anything but the handshake's
// messages on it, reports that its Ready failed, or is not ready within
// [WithReadyTimeout] (1 min by default), and keeps serving. Upgrade
// returns the reason, with the new process's ID and its exit status when
// it has one, and logs it at error level; the next signal tries again. If
// the new process was told it may serve before it failed, the PID file and
// systemd's MAINPID are set back to the old process.
//
// A new process whose Ready fails must exit: it does not serve (its
// listeners never accept), and the old one serves on. If the old process
// goes away after the new one has said it serves, the new one takes over
// alone; if it goes away earlier, the new one's Ready fails.
//
// # One at a time
//
// An upgrade is refused at once, never queued, with [ErrNotReady] before
// Ready (a process that does not serve has nothing to hand over, and a
// new process must finish taking over first), with [ErrInProgress] while
// another one runs, and with [ErrStopping] once the coordinator's
// shutdown has begun, for whatever cause. Each signal starts an upgrade on
// a goroutine of its own, so a second signal during an upgrade is refused
// and logged rather than run after it. A new process may upgrade as soon
// as it is ready, while the process it replaced still drains.
//
// A shutdown that begins during an upgrade (SIGTERM to the old process)
// ends it: the new process, which has not accepted anything, is killed
// and reaped, and the old one shuts down as asked. One that begins after
// the new process was told to accept stops only the old one: the new one
// serves on.
//
// # The PID file
//
// [WithPIDFile] names a file that always names the process that serves:
// the process that becomes ready writes it, atomically (a temporary file
// renamed over it), before the old process stops. The last process
// removes it at a shutdown that is not an upgrade, if it still names it.
//
// # systemd
//
// Run under a unit with Type=notify, each process's Ready sends READY=1
// and MAINPID=<its pid> (the first process names itself), and the old
// one, once the new one is ready, sends MAINPID=<new pid> too, which
// systemd accepts from the main process even under the default
// NotifyAccess=main. With systemd.Watch, the old process then sends no
// STOPPING=1, which would stop the unit. ExecReload=/bin/kill -USR2
// $MAINPID makes `systemctl reload` an upgrade.
//
// # Limits
//
// Upgrades need descriptor inheritance and fork/exec: New returns
// [ErrNotSupported] anywhere but Linux and macOS; the package builds
// everywhere. A process has one Upgrader at a time. The listener Listen
// returns is not a *net.TCPListener. In a new process, Accept waits for
// Ready: a program that calls itself over its own socket before Ready
// waits forever. Hijacked connections (WebSockets) are not drained by the
// HTTP hook: close them in a hook of their own. A new process that
// crashes after it took over is not replaced by the old one, which is
// already draining.
package upgrade
