package systemd

// SelfPIDFDID is selfPIDFDID, for the tests of LISTEN_PIDFDID.
var SelfPIDFDID = selfPIDFDID

// ResetMainPID forgets the MAINPID this process sent, as if it had sent
// none: tests that send one put the package back as they found it.
func ResetMainPID() { mainPID.Store(0) }
