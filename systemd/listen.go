package systemd

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// listenFDsStart is the first descriptor a service manager passes: 0, 1
// and 2 stay stdin, stdout and stderr.
const listenFDsStart = 3

// The environment of socket activation. LISTEN_PIDFDID is set by systemd
// 257 and later: the pidfd inode of the process the descriptors are for,
// which a PID alone cannot name once PIDs are reused.
const (
	envListenPID      = "LISTEN_PID"
	envListenPIDFDID  = "LISTEN_PIDFDID"
	envListenFDs      = "LISTEN_FDS"
	envListenFDNames  = "LISTEN_FDNAMES"
	unknownListenName = "unknown"
)

// takeMu makes reading and unsetting the variables one step, so that of
// two goroutines calling Listeners at once exactly one takes the
// descriptors.
var takeMu sync.Mutex

// A passed is one descriptor the service manager passed, with its name.
type passed struct {
	fd   int
	name string
}

// Files returns the descriptors passed to this process by socket
// activation, in order, as files named by LISTEN_FDNAMES ("unknown" when
// the variable is unset), the way sd_listen_fds_with_names(3) finds them.
// It is the call for descriptors that are not listening stream sockets: a
// datagram socket (net.FilePacketConn), a FIFO, a connection passed by a
// socket unit with Accept=yes (net.FileConn). [Listeners] is the call for
// the common case.
//
// The descriptors are those of LISTEN_FDS, starting at 3, when LISTEN_PID
// is this process (and LISTEN_PIDFDID, when set, this process's pidfd).
// When LISTEN_PID or LISTEN_FDS is unset, or names another process, Files
// returns no file and no error: the program was not socket-activated, or
// the variables were meant for another process (its parent, which did not
// take them), and it binds its own sockets. Garbage in the variables, a
// LISTEN_FDNAMES that does not name every descriptor, or a descriptor
// that is not open is an error, and no file is returned.
//
// Whatever the outcome, Files unsets LISTEN_PID, LISTEN_PIDFDID,
// LISTEN_FDS and LISTEN_FDNAMES, so that a child process does not take
// them for its own, and it sets close-on-exec on every descriptor it
// takes, so that a child does not inherit them unless the program passes
// them on (exec.Cmd.ExtraFiles). Only the first call of Files, Listeners
// or ListenersByName finds the descriptors; later calls return none and no
// error, as sd_listen_fds does once it has unset the variables. Files is
// safe to call from any goroutine; the caller owns the files it returns.
//
// On systems without descriptor inheritance by number (Windows, Plan 9,
// wasm), Files unsets the variables and returns no file and no error.
func Files() ([]*os.File, error) {
	fds, err := take()
	if err != nil || len(fds) == 0 {
		return nil, err
	}
	files := make([]*os.File, len(fds))
	for i, p := range fds {
		files[i] = os.NewFile(uintptr(p.fd), p.name)
	}
	return files, nil
}

// Listeners returns the listening sockets passed to this process by socket
// activation (a systemd .socket unit, systemd-socket-activate), in the
// order of LISTEN_FDS: the first is descriptor 3. It has the contract of
// [Files] (which descriptors, the variables unset, only the first call
// finds them, none and no error when the variables are meant for another
// process), and in addition every descriptor must be a listening stream
// socket (TCP, Unix stream or seqpacket): otherwise Listeners returns an
// error naming the first that is not, returns no listener, and leaves the
// descriptors open and close-on-exec; use Files for such units.
//
// The listeners are new descriptors (close-on-exec, as every descriptor
// Go opens); the passed ones are closed once each listener holds its own.
// Closing a Unix socket listener does not remove its path, which belongs
// to the service manager.
func Listeners() ([]net.Listener, error) {
	fds, err := take()
	if err != nil || len(fds) == 0 {
		return nil, err
	}
	return listeners(fds)
}

// ListenersByName is [Listeners] keyed by the names LISTEN_FDNAMES gives
// (a socket unit's FileDescriptorName=, systemd-socket-activate's
// --fdname; "unknown" when the variable is unset). Several sockets may
// share a name; each name's listeners are in the order of LISTEN_FDS. It
// returns a nil map when no descriptor was passed.
func ListenersByName() (map[string][]net.Listener, error) {
	fds, err := take()
	if err != nil || len(fds) == 0 {
		return nil, err
	}
	ls, err := listeners(fds)
	if err != nil {
		return nil, err
	}
	byName := make(map[string][]net.Listener)
	for i, l := range ls {
		byName[fds[i].name] = append(byName[fds[i].name], l)
	}
	return byName, nil
}

// listeners turns the descriptors into listeners, all or none.
func listeners(fds []passed) ([]net.Listener, error) {
	// Every descriptor is checked before any is touched: a unit and a
	// program that disagree get an error and nothing half taken.
	for _, p := range fds {
		if err := checkListening(p.fd); err != nil {
			return nil, fmt.Errorf("systemd: LISTEN_FDS: fd %d (%q): %w", p.fd, p.name, err)
		}
	}
	ls := make([]net.Listener, 0, len(fds))
	for _, p := range fds {
		f := os.NewFile(uintptr(p.fd), p.name)
		l, err := net.FileListener(f) // a dup: f is ours to close
		f.Close()
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("systemd: LISTEN_FDS: fd %d (%q): %w", p.fd, p.name, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// take reads the variables of socket activation, unsets them, and returns
// the descriptors meant for this process, checked open and set
// close-on-exec.
func take() ([]passed, error) {
	takeMu.Lock()
	defer takeMu.Unlock()
	pidVar, hasPID := os.LookupEnv(envListenPID)
	pidfdidVar, hasPIDFDID := os.LookupEnv(envListenPIDFDID)
	fdsVar, hasFDs := os.LookupEnv(envListenFDs)
	namesVar, hasNames := os.LookupEnv(envListenFDNames)
	for _, k := range []string{envListenPID, envListenPIDFDID, envListenFDs, envListenFDNames} {
		os.Unsetenv(k)
	}

	if !hasPID {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidVar)
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("systemd: %s=%q: not a process id", envListenPID, pidVar)
	}
	if pid != os.Getpid() {
		return nil, nil // meant for another process
	}
	if hasPIDFDID {
		id, err := strconv.ParseUint(pidfdidVar, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("systemd: %s=%q: not a pidfd inode number", envListenPIDFDID, pidfdidVar)
		}
		if own, ok := selfPIDFDID(); ok && own != id {
			return nil, nil // the same PID, another process: PIDs were reused
		}
	}
	if !hasFDs {
		return nil, nil
	}
	n, err := strconv.Atoi(fdsVar)
	if err != nil || n <= 0 || n > math.MaxInt32-listenFDsStart {
		return nil, fmt.Errorf("systemd: %s=%q: not a positive count of descriptors", envListenFDs, fdsVar)
	}
	names := make([]string, n)
	if hasNames {
		// No coalescing: "a::b" names three descriptors, the second "".
		names = strings.Split(namesVar, ":")
		if len(names) != n {
			return nil, fmt.Errorf("systemd: %s=%q names %d descriptors, %s=%d",
				envListenFDNames, namesVar, len(names), envListenFDs, n)
		}
	} else {
		for i := range names {
			names[i] = unknownListenName
		}
	}
	if !fdsInherited {
		return nil, nil
	}
	fds := make([]passed, n)
	for i := range fds {
		fd := listenFDsStart + i
		if err := checkOpen(fd); err != nil {
			return nil, fmt.Errorf("systemd: %s=%d: fd %d (%q): %w", envListenFDs, n, fd, names[i], err)
		}
		fds[i] = passed{fd: fd, name: names[i]}
	}
	// Close-on-exec only once all are known to be open: the variables are
	// gone, so these descriptors are the program's to pass on or not.
	for _, p := range fds {
		setCloseOnExec(p.fd)
	}
	return fds, nil
}

// errNotListening says a passed descriptor is a socket that does not
// accept connections.
var errNotListening = errors.New("not a listening stream socket (a datagram socket, or a connection from a socket unit with Accept=yes: use systemd.Files)")
