package systemd

import (
	"os"
	"syscall"
)

// sysPIDFDOpen is pidfd_open(2): 434 on every architecture Go supports,
// and not in package syscall on all of them.
const sysPIDFDOpen = 434

// pidfsMagic is the file system type of pidfs (Linux 6.9), on which a
// pidfd's inode number names one process for the life of the system.
const pidfsMagic = 0x50494446

// selfPIDFDID returns the inode number of a pidfd of this process, which
// is what LISTEN_PIDFDID holds; false when the kernel cannot tell (no
// pidfd_open, or pidfds that are not on pidfs), and the PID alone decides.
func selfPIDFDID() (uint64, bool) {
	r, _, errno := syscall.Syscall(sysPIDFDOpen, uintptr(os.Getpid()), 0, 0)
	if errno != 0 {
		return 0, false
	}
	fd := int(r)
	defer syscall.Close(fd)
	var fs syscall.Statfs_t
	if err := syscall.Fstatfs(fd, &fs); err != nil || uint64(fs.Type) != pidfsMagic {
		return 0, false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}
