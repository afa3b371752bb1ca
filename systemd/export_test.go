package systemd

import "time"

// SelfPIDFDID is selfPIDFDID, for the tests of LISTEN_PIDFDID.
var SelfPIDFDID = selfPIDFDID

// ResetMainPID forgets the MAINPID this process sent, as if it had sent
// none: tests that send one put the package back as they found it.
func ResetMainPID() { mainPID.Store(0) }

// SetSend replaces the function that sends datagrams, for tests on a
// fake clock, and returns a func that puts the real one back.
func SetSend(f func(addr, state string, deadline time.Time) error) (restore func()) {
	old := send
	send = f
	return func() { send = old }
}
