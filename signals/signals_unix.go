//go:build unix

package signals

import (
	"os"
	"syscall"
)

func defaultSignals() []os.Signal { return []os.Signal{syscall.SIGINT, syscall.SIGTERM} }
