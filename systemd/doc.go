// Package systemd speaks the service manager's protocol, with the standard
// library only: socket activation (LISTEN_FDS), readiness and status
// notification (NOTIFY_SOCKET), the watchdog (WATCHDOG_USEC), and a
// coordinator's shutdown told to systemd as it happens.
//
// The protocol is a handful of environment variables and one Unix
// datagram socket, described in sd_listen_fds(3), sd_notify(3) and
// sd_watchdog_enabled(3). The package follows libsystemd's behaviour
// wherever this documentation says nothing else, so that a Go service acts
// as a C one under the same unit file. Every call is a no-op that returns
// no error when the program was not started by systemd: the same binary
// runs under a shell, a container runtime or a test.
//
// # Socket activation
//
// A .socket unit (or systemd-socket-activate, its command-line twin)
// binds the sockets and starts the service with them as descriptors 3, 4,
// …, named by the socket's FileDescriptorName=. [Listeners] and
// [ListenersByName] return them as net.Listener values; [Files] returns
// them as files, for datagram sockets, FIFOs and connections passed with
// Accept=yes.
//
//	ls, err := systemd.Listeners()
//	if err != nil {
//		log.Fatal(err) // the unit and the program disagree
//	}
//	if len(ls) == 0 { // not socket-activated: bind our own
//		l, err := net.Listen("tcp", *addr)
//		...
//	}
//
// The descriptors are the process's own: the variables name a PID
// (LISTEN_PID), and a process that is not that PID, such as a child that
// inherited them from a parent that did not take them, finds none and no
// error. The first call takes them: it unsets the variables, so children
// do not misread them, and sets close-on-exec on the descriptors, so
// children do not inherit them unless the program passes them on. Later
// calls find nothing, as sd_listen_fds(1) does. Keep what the first call
// returns.
//
// Socket activation lets a service restart without refusing a connection:
// the listening socket belongs to systemd and stays open while the
// process is replaced; connections wait in its backlog.
//
// # Notify
//
// [Notify] sends one datagram to NOTIFY_SOCKET: READY=1 once the service
// serves (Type=notify units wait for it before starting what comes
// after), STATUS= for systemctl status, MAINPID= when another process
// takes over. It is nil when NOTIFY_SOCKET is unset, and an error when the
// socket cannot be reached; it never blocks longer than [NotifyTimeout].
//
// # Watch
//
// [Watch] tells systemd what a [shutdown.Coordinator] does, as it
// observes it ([shutdown.Coordinator.Observe]), without a hook of its own
// in the report:
//
//   - at the trigger, STOPPING=1 (the unit shows "deactivating" whether
//     SIGTERM came from systemd or not), EXTEND_TIMEOUT_USEC up to the
//     coordinator's deadline (so that a TimeoutStopSec= shorter than the
//     coordinator's timeout does not SIGKILL a shutdown that is on time),
//     and a STATUS= with the cause;
//   - while the hooks run, STATUS= naming the ones running, so that
//     systemctl status shows which hook a slow stop waits for; at the end
//     a STATUS= with the exit code;
//   - from Watch's call until the shutdown completes, WATCHDOG=1 every
//     half of WATCHDOG_USEC, when the unit has WatchdogSec=.
//
// The hooks never wait for systemd: the events are sent, in order, by a
// goroutine of Watch's own, which ends when the shutdown completes. A
// failure to notify is logged (slog.Default), never added to the report:
// a shutdown does not fail because systemd did not hear of it.
//
// # The watchdog
//
// A unit with WatchdogSec= restarts a service that does not send
// WATCHDOG=1 within that time. [Watch] sends it every half of it, which
// proves that the process is alive and schedules goroutines, not that it
// serves; a program that can tell it serves sends WATCHDOG=1 itself with
// Notify, every half of what [Watchdog] returns, and does not rely on
// Watch's pings alone.
//
// # In-place upgrades
//
// Under a unit with NotifyAccess=all, a new process of the service (see
// package upgrade) becomes the main one by saying so:
// Notify("READY=1\nMAINPID=<its pid>"); the process it replaces says
// Notify("MAINPID=<new pid>") once the new one is ready, which is also
// how it works under NotifyAccess=main. A process that named another one
// as the main process is no longer the service in systemd's eyes: Watch
// then sends nothing more for it (a STOPPING=1 from it would make systemd
// stop the unit and kill the new process), and the watchdog is the new
// process's, even when WATCHDOG_PID still names the old one. NOTIFY_SOCKET
// and WATCHDOG_USEC are left set for that new process; LISTEN_* are not
// (the old process passes its listeners on itself).
//
// # Other systems
//
// The package builds everywhere. The protocol is the same on every Unix;
// abstract socket names (a NOTIFY_SOCKET beginning with '@') exist on
// Linux only. Where descriptors are not inherited by number (Windows,
// Plan 9, wasm) the listener calls find none, and Notify fails only if
// NOTIFY_SOCKET is set.
package systemd
