//go:build !unix

package upgrade

import "os"

// defaultSignal: no SIGUSR2 here, and New returns ErrNotSupported anyway.
var defaultSignal os.Signal
