package upgrade

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lastcall-go/lastcall/internal/fdpass"
)

// envUpgrade names the sockets an old process hands to the new one: the
// old process's ID (the new one checks it is its parent, so that a
// variable leaked to another program names nothing) and, for each
// listening socket from descriptor 4 on, the Listen call that opened it.
// Descriptor 3 is the handshake.
const envUpgrade = "LASTCALL_UPGRADE"

type spec struct {
	PPID      int            `json:"ppid"`
	Listeners []listenerSpec `json:"listeners"`
}

type listenerSpec struct {
	Network string `json:"network"`
	Addr    string `json:"addr"`
	Unlink  string `json:"unlink,omitempty"`
}

// inherit takes the sockets handed to this process, by an old process of
// an upgrade or by systemd socket activation, and unsets the variables
// that named them, so that no child of this process takes them for its
// own. On error, New closes what it took (dropInherited).
func (u *Upgrader) inherit() error {
	v, ok := os.LookupEnv(envUpgrade)
	os.Unsetenv(envUpgrade)
	if ok {
		var s spec
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			return fmt.Errorf("upgrade: New: %s: %w", envUpgrade, err)
		}
		if s.PPID == os.Getppid() {
			if err := u.takeParent(s); err != nil {
				return err
			}
		} else {
			u.logger().Warn("upgrade: "+envUpgrade+" names the sockets of another process's upgrade: ignored",
				"for_parent", s.PPID, "parent", os.Getppid())
		}
	}

	if p, ok := os.LookupEnv("LISTEN_PID"); ok && p != strconv.Itoa(u.pid) {
		u.logger().Warn("upgrade: LISTEN_FDS is meant for another process: socket activation ignored",
			"listen_pid", p)
	}
	files, err := activated()
	if err != nil {
		return fmt.Errorf("upgrade: New: %w", err)
	}
	for i, f := range files {
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, f := range files[i+1:] {
				f.Close()
			}
			return fmt.Errorf("upgrade: New: socket activation: %s: %w", f.Name(), err)
		}
		u.pool = append(u.pool, inherited{ln: ln, name: f.Name(), activated: true})
	}
	return nil
}

// dropInherited closes the handshake and the sockets inherit took, when
// New fails.
func (u *Upgrader) dropInherited() {
	if u.parent != nil {
		u.parent.close()
		u.parent = nil
	}
	for _, in := range u.pool {
		in.ln.Close()
	}
	u.pool = nil
}

// takeParent takes the handshake and the listening sockets of an upgrade.
func (u *Upgrader) takeParent(s spec) error {
	c, err := fdpass.Conn(handshakeFD, "upgrade-handshake")
	if err != nil {
		return fmt.Errorf("upgrade: New: the handshake with the old process (fd %d): %w", handshakeFD, err)
	}
	u.parent = newLink(c)
	for i, ls := range s.Listeners {
		fd := handshakeFD + 1 + i
		ln, err := fdpass.Listener(fd, "upgrade-listener")
		if err != nil {
			return fmt.Errorf("upgrade: New: listener %s %s (fd %d): %w", ls.Network, ls.Addr, fd, err)
		}
		u.pool = append(u.pool, inherited{network: ls.Network, addr: ls.Addr, ln: ln, unlink: ls.Unlink})
	}
	return nil
}

// take removes from the pool and returns the inherited socket for
// Listen(network, addr): the one an old process opened with the same
// call; else, of the sockets of socket activation, the first bound to
// addr, else the first named addr (LISTEN_FDNAMES), else the first of the
// same kind (TCP, or Unix). Call with u.mu held.
func (u *Upgrader) take(network, addr string) (inherited, bool) {
	matches := []func(in inherited) bool{
		func(in inherited) bool { return !in.activated && in.network == network && in.addr == addr },
		func(in inherited) bool { return in.activated && sameAddr(in.ln.Addr(), network, addr) },
		func(in inherited) bool { return in.activated && in.name == addr },
		func(in inherited) bool { return in.activated && sameKind(in.ln.Addr(), network) },
	}
	for _, match := range matches {
		for i, in := range u.pool {
			if match(in) {
				u.pool = append(u.pool[:i], u.pool[i+1:]...)
				return in, true
			}
		}
	}
	return inherited{}, false
}

// sameAddr reports whether a is the address network and addr name.
func sameAddr(a net.Addr, network, addr string) bool {
	if !sameKind(a, network) {
		return false
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		want, err := net.ResolveTCPAddr(network, addr)
		return err == nil && want.Port == ta.Port && (want.IP.Equal(ta.IP) || want.IP == nil && ta.IP.IsUnspecified())
	}
	return a.String() == addr
}

// sameKind reports whether a listener bound to a serves network.
func sameKind(a net.Addr, network string) bool {
	switch a.Network() {
	case "tcp", "tcp4", "tcp6":
		return strings.HasPrefix(network, "tcp")
	}
	return a.Network() == network
}

// isPath reports whether a Unix socket address is a path in the file
// system rather than a name in Linux's abstract namespace.
func isPath(addr string) bool { return addr != "" && addr[0] != '@' }

// executable returns the binary that a new process runs: the path this
// process was started from, as os.Args[0] gives it, made absolute, when
// it names the same file as os.Executable; else os.Executable. The path
// is kept, not the file: an upgrade runs whatever the path names by then.
// os.Args[0] is preferred because os.Executable resolves symbolic links,
// and a deployment that repoints a link (current -> releases/v2) expects
// the link to be followed at the upgrade, not at the start.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	arg0 := ""
	if len(os.Args) > 0 {
		arg0 = os.Args[0]
	}
	if arg0 == "" {
		return exe, nil
	}
	if !strings.ContainsRune(arg0, os.PathSeparator) {
		if arg0, err = exec.LookPath(arg0); err != nil {
			return exe, nil
		}
	}
	abs, err := filepath.Abs(arg0)
	if err != nil {
		return exe, nil
	}
	a, errA := os.Stat(abs)
	b, errB := os.Stat(exe)
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		return exe, nil
	}
	return abs, nil
}
