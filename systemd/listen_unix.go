//go:build unix

package systemd

import (
	"errors"
	"syscall"
)

// fdsInherited: a Unix child inherits its parent's descriptors by number.
const fdsInherited = true

// checkOpen returns an error unless fd is an open descriptor.
func checkOpen(fd int) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		if errors.Is(err, syscall.EBADF) {
			return errors.New("not open")
		}
		return err
	}
	return nil
}

func setCloseOnExec(fd int) { syscall.CloseOnExec(fd) }

// checkListening returns an error unless fd is a socket that accepts
// connections, as sd_is_socket(fd, 0, 0, 1) would say.
func checkListening(fd int) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if uint32(st.Mode)&syscall.S_IFMT != syscall.S_IFSOCK {
		return errors.New("not a socket (use systemd.Files)")
	}
	accepting, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if errors.Is(err, syscall.ENOPROTOOPT) {
		return nil // the system cannot tell: net.FileListener will
	}
	if err != nil {
		return err
	}
	if accepting == 0 {
		return errNotListening
	}
	return nil
}
