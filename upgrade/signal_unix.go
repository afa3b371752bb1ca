//go:build unix

package upgrade

import (
	"os"
	"syscall"
)

var defaultSignal os.Signal = syscall.SIGUSR2
