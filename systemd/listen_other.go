//go:build !unix

package systemd

// fdsInherited: where descriptors are not inherited by number (Windows,
// Plan 9, wasm), a LISTEN_FDS cannot name any, and none is taken.
const fdsInherited = false

func checkOpen(int) error      { return nil }
func setCloseOnExec(int)       {}
func checkListening(int) error { return nil }
