//go:build linux || darwin

package upgrade

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"github.com/lastcall-go/lastcall/internal/fdpass"
)

const supported = true

// A child is the new process of an upgrade, until it takes over or is
// killed.
type child struct {
	pid  int
	cmd  *exec.Cmd
	link *link
}

// spawn starts the new process: the binary at u.exe, with this process's
// arguments, environment and standard output and error (standard input
// is /dev/null), in the working directory of New; descriptor 3 is its end
// of the handshake, and every open listener follows from 4 on.
func (u *Upgrader) spawn() (*child, error) {
	u.mu.Lock()
	lns := slices.DeleteFunc(slices.Clone(u.lns), (*listener).isClosed)
	u.mu.Unlock()

	s := spec{PPID: u.pid}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	conn, theirs, err := fdpass.Socketpair("upgrade-handshake")
	if err != nil {
		return nil, err
	}
	files = append(files, theirs)
	for _, l := range lns {
		sc, ok := l.Listener.(syscall.Conn)
		if !ok {
			conn.Close()
			return nil, errors.New("listener " + l.addr + " has no descriptor")
		}
		f, err := fdpass.Dup(sc, l.network+":"+l.addr)
		if err != nil {
			conn.Close()
			return nil, err
		}
		files = append(files, f)
		s.Listeners = append(s.Listeners, listenerSpec{Network: l.network, Addr: l.addr, Unlink: l.unlink})
	}
	v, err := json.Marshal(s)
	if err != nil {
		conn.Close()
		return nil, err
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, envUpgrade+"=") })
	cmd := &exec.Cmd{
		Path:       u.exe,
		Args:       slices.Clone(os.Args),
		Env:        append(env, envUpgrade+"="+string(v)),
		Dir:        u.dir,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: files,
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, err
	}
	return &child{pid: cmd.Process.Pid, cmd: cmd, link: newLink(conn)}, nil
}

// kill kills the new process, reaps it, and returns its wait status. It
// closes the handshake only once the process is gone: a new process that
// sees the handshake end after it said it serves takes the old one for
// dead and serves alone.
func (p *child) kill() syscall.WaitStatus {
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.link.close()
	ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws
}

// release lets the new process go its way: it is not reaped by this
// process, which exits first (the new one is then reparented).
func (p *child) release() {
	p.link.close()
	p.cmd.Process.Release()
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
