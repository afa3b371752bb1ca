//go:build !unix

package proctest

import "os"

// Exit exits with code; Build makes no binaries where it is not supported.
func Exit(code int) { os.Exit(code) }
