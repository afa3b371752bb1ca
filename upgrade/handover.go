package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// upgrade runs one upgrade in the old process, from the start of the new
// process to the handover, and returns the new process's ID. On failure
// the new process has been killed and reaped, and this one serves on.
func (u *Upgrader) upgrade(start time.Time) (int, error) {
	ctx := u.c.Context() // a shutdown that begins now ends the upgrade
	deadline := start.Add(u.cfg.ready)

	// Start the new process with a copy of every listening socket.
	p, err := u.spawn()
	if err != nil {
		u.failed(0, false)
		if ctx.Err() != nil { // the shutdown closed a listener under spawn
			return 0, fmt.Errorf("%w: %v", ErrStopping, err)
		}
		return 0, fmt.Errorf("upgrade: start the new process: %w", err)
	}
	u.logger().Info("upgrade: new process started", "new_pid", p.pid)

	// Wait for it to be ready, let it announce itself, and tell it to
	// accept.
	told, err := u.handshake(ctx, p, deadline)
	if err != nil {
		ws := p.kill()
		u.failed(p.pid, told)
		return p.pid, p.explain(err, ws, u.cfg.ready, ctx.Err() != nil)
	}

	// Stop accepting: from here on the new process serves. The shutdown
	// this starts runs the program's hooks, without the drain delay.
	u.handOver(p)
	return p.pid, nil
}

// handshake is the old process's side of the handshake (see handshake.go).
// told reports whether the new process was told to serve: it may have
// written the PID file and told systemd it is the main process.
func (u *Upgrader) handshake(ctx context.Context, p *child, deadline time.Time) (told bool, err error) {
	if err := expect(p.link.recv(ctx, deadline))(msgReady); err != nil {
		return false, err
	}
	if err := p.link.send(ctx, deadline, msgServe); err != nil {
		return true, err
	}
	msg, err := p.link.recv(ctx, deadline)
	if err != nil {
		return true, err
	}
	if reason, ok := failedReason(msg); ok {
		return true, &childError{reason}
	}
	if msg != msgServing {
		return true, fmt.Errorf("%w: %q", errGarbage, msg)
	}
	u.mu.Lock()
	if ctx.Err() != nil {
		u.mu.Unlock()
		return true, context.Cause(ctx)
	}
	u.state = stopping // no upgrade of a process that is handing over
	u.mu.Unlock()
	// The new process accepts from this message on; this one stops right
	// after. If the message cannot be sent, the new process is gone and
	// has accepted nothing: this one serves on.
	if err := p.link.send(context.Background(), deadline, msgOK); err != nil {
		return true, err
	}
	return true, nil
}

// expect returns a check that the message received is want.
func expect(msg string, err error) func(want string) error {
	return func(want string) error {
		if err != nil {
			return err
		}
		if msg != want {
			return fmt.Errorf("%w: %q", errGarbage, msg)
		}
		return nil
	}
}

// handOver stops this process's listeners from accepting, tells systemd
// which process is the main one now, and lets the task trigger the
// shutdown.
func (u *Upgrader) handOver(p *child) {
	u.mu.Lock() // the state is stopping since the handshake's end
	lns := slices.Clone(u.lns)
	u.mu.Unlock()
	for _, l := range lns {
		l.handOver()
	}
	if err := notify("MAINPID=" + strconv.Itoa(p.pid)); err != nil {
		u.logger().Warn("upgrade: telling systemd the new main process", "err", err)
	}
	p.release()
	close(u.handed)
}

// failed ends a failed upgrade: this process serves on, unless its
// shutdown has begun. If the new process was told to serve, the PID file
// and systemd may name it: they are set back to this process.
func (u *Upgrader) failed(pid int, told bool) {
	u.mu.Lock()
	u.killed = pid
	if u.c.Context().Err() != nil {
		u.state = stopping
	} else {
		u.state = serving
	}
	back := told && u.state == serving
	u.mu.Unlock()
	if !back {
		return
	}
	if err := u.announce(""); err != nil {
		u.logger().Error("upgrade: naming this process again after the failed upgrade", "err", err)
	}
}

// childError is the reason a new process gave for not getting ready.
type childError struct{ reason string }

func (e *childError) Error() string { return e.reason }

// explain says why an upgrade failed, from the handshake's error and the
// new process's wait status.
func (p *child) explain(err error, ws syscall.WaitStatus, ready time.Duration, stopping bool) error {
	var ce *childError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("upgrade: new process %d could not get ready: %s", p.pid, ce.reason)
	case stopping:
		return fmt.Errorf("%w (%v); new process %d killed", ErrStopping, err, p.pid)
	case errors.Is(err, errGarbage):
		return fmt.Errorf("upgrade: new process %d broke the handshake: %w; killed", p.pid, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("upgrade: new process %d was not ready within the ready timeout (%v); killed: %w", p.pid, ready, err)
	case errors.Is(err, io.EOF):
		switch {
		case ws.Exited():
			return fmt.Errorf("upgrade: new process %d exited with status %d before it was ready", p.pid, ws.ExitStatus())
		case ws.Signaled() && ws.Signal() != syscall.SIGKILL:
			return fmt.Errorf("upgrade: new process %d ended by signal %v before it was ready", p.pid, ws.Signal())
		}
		return fmt.Errorf("upgrade: new process %d closed its end of the handshake before it was ready; killed", p.pid)
	}
	return fmt.Errorf("upgrade: handshake with new process %d: %w; killed", p.pid, err)
}

// ready is the new process's side of the handshake, and what every
// process does when it becomes the one that serves.
func (u *Upgrader) ready() error {
	ctx := u.c.Context()
	deadline := time.Now().Add(u.cfg.ready)
	if ctx.Err() != nil {
		// The shutdown's end has removed the PID file, or will: a file
		// written now would outlive the process.
		if u.parent != nil {
			u.parent.send(ctx, deadline, msgFailed+ErrStopping.Error())
			u.parent.close()
		}
		return fmt.Errorf("%w: Ready after the shutdown began", ErrStopping)
	}
	if u.parent == nil {
		return u.announce("READY=1\n")
	}
	defer u.parent.close()
	if err := u.parent.send(ctx, deadline, msgReady); err != nil {
		return u.parentError("telling the old process this one is ready", err)
	}
	if err := expect(u.parent.recv(ctx, deadline))(msgServe); err != nil {
		return u.parentError("waiting for the old process to let this one serve", err)
	}
	if err := u.announce("READY=1\n"); err != nil {
		u.parent.send(ctx, deadline, msgFailed+err.Error())
		return err
	}
	if err := u.parent.send(ctx, deadline, msgServing); err != nil {
		return u.parentError("telling the old process this one serves", err)
	}
	msg, err := u.parent.recv(ctx, deadline)
	switch {
	case err == nil && msg == msgOK:
	case errors.Is(err, io.EOF):
		// The old process went away after this one said it serves (it
		// kills a new process before it closes the handshake, so this
		// one would not be running had it refused): nobody else accepts.
		u.logger().Warn("upgrade: the old process went away during the handover; this one serves")
	default:
		return u.parentError("waiting for the old process to stop accepting", expect(msg, err)(msgOK))
	}
	return nil
}

func (u *Upgrader) parentError(doing string, err error) error {
	if ctx := u.c.Context(); ctx.Err() != nil {
		return fmt.Errorf("%w: %s", ErrStopping, doing)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("upgrade: %s: the old process went away", doing)
	}
	return fmt.Errorf("upgrade: %s: %w", doing, err)
}

// announce makes this process the one named as serving: the PID file,
// and systemd's MAINPID with state (READY=1 when the process becomes
// ready).
func (u *Upgrader) announce(state string) error {
	if u.cfg.pidfile != "" {
		if err := writePIDFile(u.cfg.pidfile, u.pid); err != nil {
			return fmt.Errorf("upgrade: PID file: %w", err)
		}
	}
	if err := notify(state + "MAINPID=" + strconv.Itoa(u.pid)); err != nil {
		return fmt.Errorf("upgrade: telling systemd: %w", err)
	}
	return nil
}

// removePID removes the PID file if it names this process, or the new
// process this one killed last: the service is stopping.
func (u *Upgrader) removePID() {
	if u.cfg.pidfile == "" {
		return
	}
	u.mu.Lock()
	killed := u.killed
	u.mu.Unlock()
	if pid, err := readPIDFile(u.cfg.pidfile); err == nil && (pid == u.pid || pid == killed) {
		os.Remove(u.cfg.pidfile)
	}
}
