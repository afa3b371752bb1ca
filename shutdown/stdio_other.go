//go:build !unix

package shutdown

// protectStdio is a no-op where there is no SIGPIPE.
func protectStdio() {}
