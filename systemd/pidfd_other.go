//go:build !linux

package systemd

// selfPIDFDID: pidfds are a Linux feature; elsewhere the PID alone
// decides.
func selfPIDFDID() (uint64, bool) { return 0, false }
