//go:build unix

package main

import "os"

// breakStderr puts, in place of file descriptor 2, the write end of a pipe
// whose read end is closed: from then on every write to stderr fails with
// EPIPE, or raises SIGPIPE in a program that has not asked for it, which
// ends the process.
func breakStderr() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	r.Close()
	defer w.Close()
	return dup2(int(w.Fd()), 2)
}
