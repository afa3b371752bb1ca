package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// The handshake between the old process and the new one, on a pair of
// connected Unix sockets (the new process's end is its descriptor 3). Each
// message is one line:
//
//	new → old   ready              Ready was called: may I serve?
//	old → new   serve              yes: write the PID file, tell systemd
//	new → old   serving            done; my listeners wait for your word
//	            failed: REASON     I cannot: the old process keeps serving
//	old → new   ok                 accept: I stop accepting now
//
// The old process stops accepting only once it has sent "ok", and the new
// one starts only after "ok": at no moment does a process that may yet be
// killed hold a connection it accepted, and both accept only for the
// instant between "ok" and the old process's stop (each serves what it
// accepted). If "ok" cannot be sent, the new process is gone and the old
// one, which has not stopped, serves on.
// A new process that is killed (it failed, or was too slow) therefore
// takes no client with it; the connections that arrived meanwhile wait in
// the socket's queue for whichever process accepts next.
const (
	msgReady   = "ready"
	msgServe   = "serve"
	msgServing = "serving"
	msgFailed  = "failed: "
	msgOK      = "ok"
)

// maxLine bounds a message: anything longer is garbage.
const maxLine = 512

// handshakeFD is the new process's end of the handshake; its listeners
// follow, from 4 on, in the order of the environment variable.
const handshakeFD = 3

// A link is one end of the handshake.
type link struct {
	c net.Conn
	r *bufio.Reader
}

func newLink(c net.Conn) *link { return &link{c: c, r: bufio.NewReaderSize(c, maxLine)} }

// errGarbage says the other end sent something that is not a message.
var errGarbage = errors.New("not a handshake message")

// send writes one message, giving up at deadline or when ctx ends.
func (l *link) send(ctx context.Context, deadline time.Time, msg string) error {
	stop := l.watch(ctx)
	defer stop()
	l.c.SetWriteDeadline(deadline)
	_, err := io.WriteString(l.c, msg+"\n")
	return l.cause(ctx, err)
}

// recv reads one message, giving up at deadline or when ctx ends. It
// returns io.EOF when the other end closed its end (or exited) first,
// os.ErrDeadlineExceeded at the deadline, ctx's cause when ctx ended, and
// an error wrapping errGarbage for anything that is not one line of at
// most maxLine bytes.
func (l *link) recv(ctx context.Context, deadline time.Time) (string, error) {
	stop := l.watch(ctx)
	defer stop()
	l.c.SetReadDeadline(deadline)
	line, err := l.r.ReadSlice('\n')
	switch {
	case err == nil:
		msg := string(bytes.TrimSuffix(line, []byte("\n")))
		if !printable(msg) {
			return "", fmt.Errorf("%w: %q", errGarbage, msg)
		}
		return msg, nil
	case errors.Is(err, bufio.ErrBufferFull), len(line) > 0 && errors.Is(err, io.EOF):
		return "", fmt.Errorf("%w: %q", errGarbage, truncate(string(line)))
	}
	return "", l.cause(ctx, err)
}

// watch makes the pending I/O return when ctx ends; the returned func
// stops watching.
func (l *link) watch(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, func() { l.c.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// cause says why I/O failed: ctx's cause when ctx ended, a plain io.EOF
// when the other end went away.
func (l *link) cause(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
		return io.EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return err
}

func (l *link) close() { l.c.Close() }

func printable(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// failedReason returns the reason of a "failed: " message.
func failedReason(msg string) (string, bool) {
	return strings.CutPrefix(msg, msgFailed)
}
