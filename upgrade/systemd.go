package upgrade

import "github.com/lastcall-go/lastcall/systemd"

// The service manager's protocol, as variables so that unit tests can
// stand in for systemd.
var (
	activated = systemd.Files
	notify    = systemd.Notify
)
