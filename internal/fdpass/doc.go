// Package fdpass holds the descriptor plumbing that package upgrade and its
// tests share: a copy of a socket's descriptor that can be handed to a new
// process without disturbing the socket this process keeps using, and a
// connected pair of Unix sockets for a handshake between two processes.
//
// Handing a listener to exec.Cmd.ExtraFiles through its File method would
// put the socket into blocking mode (os.File.Fd does, for files that
// package net made), and the blocking flag belongs to the socket, not to
// one descriptor: every Accept of the process that keeps serving would then
// tie up a thread, and deadlines would stop working on it. [Dup] copies the
// descriptor and leaves the flag alone.
//
// The package works on Unix only; elsewhere its functions return
// errors.ErrUnsupported.
package fdpass
