package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The environment of the notify protocol.
const (
	envNotifySocket = "NOTIFY_SOCKET"
	envWatchdogUSec = "WATCHDOG_USEC"
	envWatchdogPID  = "WATCHDOG_PID"
)

// NotifyTimeout bounds one [Notify]: a service manager that does not read
// its socket (its queue full) makes Notify fail after this long instead of
// blocking the program.
const NotifyTimeout = 2 * time.Second

// mainPID is the last MAINPID= this process told the service manager, 0
// before any: Watch and Watchdog read it to know whether this process is
// still the service's main process.
var mainPID atomic.Int64

// Notify sends state to the service manager as one datagram on the Unix
// socket named by NOTIFY_SOCKET: newline-separated assignments such as
// "READY=1", "STATUS=serving on :8080", "RELOADING=1", "STOPPING=1",
// "WATCHDOG=1", "EXTEND_TIMEOUT_USEC=5000000" or "MAINPID=4242" (see
// sd_notify(3)). It returns nil without sending anything when
// NOTIFY_SOCKET is unset: the program was not started by systemd, or by a
// unit whose Type is not notify. A NOTIFY_SOCKET beginning with '@' names
// a socket in the abstract namespace (Linux). Other addresses (vsock:) are
// an error.
//
// An error says the datagram was not sent: the socket does not exist, no
// one reads it, or it stayed full for [NotifyTimeout]. Notify never blocks
// longer than that. It leaves NOTIFY_SOCKET set, so that a process the
// program starts to take over from it (an in-place upgrade) can notify
// too. Notify is safe to call from any goroutine.
//
// A process started to take over the service tells systemd it is the
// main process now, so that a unit with NotifyAccess=all follows it:
//
//	systemd.Notify("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()))
//
// and the process it replaces, once the new one is ready and before its
// own shutdown, says the same of the new one, which is how the change is
// made under NotifyAccess=main as well:
//
//	systemd.Notify("MAINPID=" + strconv.Itoa(newPID))
//
// Notify remembers the last MAINPID it sent: a process that named another
// one is no longer the main process, and [Watch] tells systemd nothing
// more on its behalf (no STOPPING=1, which would stop the unit and kill
// the new main process).
func Notify(state string) error {
	addr, ok := os.LookupEnv(envNotifySocket)
	if !ok || addr == "" {
		return nil
	}
	if err := send(addr, state, time.Now().Add(NotifyTimeout)); err != nil {
		return err
	}
	rememberMainPID(state)
	return nil
}

// send is the one way datagrams leave; a variable for stubbing in unit
// tests that run on a fake clock.
var send = sendDatagram

// sendDatagram sends state to addr as one datagram, giving up at
// deadline.
func sendDatagram(addr, state string, deadline time.Time) error {
	if addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("systemd: %s=%q: not a Unix socket path or an abstract name (@name)", envNotifySocket, addr)
	}
	// A connection per message, as sd_notify does: a socket connected
	// once would go stale when the service manager re-executes itself
	// and binds its socket anew.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("systemd: notify %s: %w", addr, unwrapOp(err))
	}
	defer c.Close()
	if err := c.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("systemd: notify %s: %w", addr, err)
	}
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd: notify %s: %w", addr, unwrapOp(err))
	}
	return nil
}

// unwrapOp drops the *net.OpError's own rendering ("dial unixgram
// @x: connect: ..."), which would repeat the address already in the
// message, keeping the cause for errors.Is.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Errorf("%s: %w", op.Op, op.Err)
	}
	return err
}

// rememberMainPID records the last MAINPID= of a state that was sent.
func rememberMainPID(state string) {
	for line := range strings.SplitSeq(state, "\n") {
		if v, ok := strings.CutPrefix(line, "MAINPID="); ok {
			if pid, err := strconv.Atoi(v); err == nil && pid > 0 {
				mainPID.Store(int64(pid))
			}
		}
	}
}

// handedOver reports whether this process told the service manager that
// another process is the main one.
func handedOver() bool {
	pid := mainPID.Load()
	return pid != 0 && pid != int64(os.Getpid())
}

// Watchdog returns how often the service manager expects WATCHDOG=1 from
// this process: WATCHDOG_USEC, the unit's WatchdogSec=. Send it at least
// twice per interval, as [Watch] does. It returns 0 and no error when the
// watchdog is off, or meant for another process: WATCHDOG_PID names
// another one (the process this one was started by, in an upgrade) and
// this one has not told systemd it is the main process now (MAINPID=, see
// [Notify]), or this process handed the service to another one. Garbage
// in the variables is an error. Unlike sd_watchdog_enabled(3) it never
// unsets them: a process that takes over in an upgrade needs them.
func Watchdog() (time.Duration, error) {
	every, forUs, err := watchdog()
	if !forUs() {
		return 0, err
	}
	return every, err
}

// watchdog reads the watchdog's variables: the interval (0 when unset),
// and a func that says whether this process is the one to ping, now.
func watchdog() (time.Duration, func() bool, error) {
	never := func() bool { return false }
	v, ok := os.LookupEnv(envWatchdogUSec)
	if !ok {
		return 0, never, nil
	}
	usec, err := strconv.ParseUint(v, 10, 64)
	if err != nil || usec == 0 || usec == usecInfinity {
		return 0, never, fmt.Errorf("systemd: %s=%q: not a positive number of microseconds", envWatchdogUSec, v)
	}
	every := time.Duration(min(usec, uint64(maxDuration/time.Microsecond))) * time.Microsecond
	named := 0
	if p, ok := os.LookupEnv(envWatchdogPID); ok {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return 0, never, fmt.Errorf("systemd: %s=%q: not a process id", envWatchdogPID, p)
		}
		named = pid
	}
	forUs := func() bool {
		if handedOver() {
			return false
		}
		return named == 0 || named == os.Getpid() || mainPID.Load() == int64(os.Getpid())
	}
	return every, forUs, nil
}

// usecInfinity is systemd's USEC_INFINITY, which it never sends for a
// watchdog that is on.
const usecInfinity = ^uint64(0)

const maxDuration = time.Duration(1<<63 - 1)
