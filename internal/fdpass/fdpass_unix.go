//go:build unix

package fdpass

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// Dup returns a new descriptor for the socket behind sc, close-on-exec,
// as an *os.File named name, for exec.Cmd.ExtraFiles. The socket keeps its
// non-blocking mode: passing the file to a new process does not change how
// sc works in this one. The caller closes the file once the new process
// has started.
func Dup(sc syscall.Conn, name string) (*os.File, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd, derr := -1, error(nil)
	err = rc.Control(func(fd uintptr) { nfd, derr = dupCloseOnExec(int(fd)) })
	if err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup: %w", derr)
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// dupCloseOnExec is dup(2) then FD_CLOEXEC, under syscall.ForkLock so that
// no process forked in between inherits the copy.
func dupCloseOnExec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(nfd)
	return nfd, nil
}

// Socketpair returns a connected pair of Unix stream sockets: this
// process's end as a net.Conn (deadlines work on it), and the other end as
// an *os.File for exec.Cmd.ExtraFiles, to be closed once the new process
// has started. Both are close-on-exec.
func Socketpair(name string) (net.Conn, *os.File, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), name)
	c, err := net.FileConn(mine) // a copy: mine is closed either way
	mine.Close()
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, err
	}
	return c, os.NewFile(uintptr(fds[1]), name), nil
}

// Conn turns an inherited descriptor into a net.Conn and closes fd; the
// connection holds a close-on-exec copy.
func Conn(fd int, name string) (net.Conn, error) {
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return net.FileConn(f)
}

// Listener turns an inherited descriptor into a net.Listener and closes
// fd; the listener holds a close-on-exec copy.
func Listener(fd int, name string) (net.Listener, error) {
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return net.FileListener(f)
}
