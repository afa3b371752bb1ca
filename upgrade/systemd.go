package upgrade

import "os"

// activated returns the descriptors of systemd socket activation; notify
// sends a state to systemd. Both are stand-ins until package systemd
// provides them.
var (
	activated = func() ([]*os.File, error) { return nil, nil }
	notify    = func(state string) error { return nil }
)
