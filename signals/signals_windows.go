//go:build windows

package signals

import (
	"os"
	"syscall"
)

// Go delivers CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT and CTRL_SHUTDOWN_EVENT as
// syscall.SIGTERM, and Ctrl-C / Ctrl-Break as os.Interrupt.
func defaultSignals() []os.Signal { return []os.Signal{os.Interrupt, syscall.SIGTERM} }
