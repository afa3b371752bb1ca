//go:build !unix && !windows

package signals

import "os"

func defaultSignals() []os.Signal { return []os.Signal{os.Interrupt} }
