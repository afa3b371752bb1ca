package shutdown

import (
	"context"
	"sync"
)

var defaultCoordinator = sync.OnceValue(func() *Coordinator { return New() })

// Default returns the process's default coordinator, created with New() on
// first use: it listens for signals.Default() from then on. The
// package-level functions act on it, atexit-style.
func Default() *Coordinator { return defaultCoordinator() }

// Register adds a hook to the default coordinator; see [Coordinator.Register].
func Register(name string, fn Hook, opts ...HookOption) *Handle {
	return Default().Register(name, fn, opts...)
}

// Go runs a task under the default coordinator; see [Coordinator.Go].
func Go(name string, fn func(ctx context.Context) error) { Default().Go(name, fn) }

// Wait waits for the default coordinator's shutdown; see [Coordinator.Wait].
func Wait() *Report { return Default().Wait() }

// Shutdown runs the default coordinator's shutdown; see
// [Coordinator.Shutdown]. defer Shutdown(nil) at the top of main runs the
// hooks when main returns, the way atexit handlers run at a normal exit.
func Shutdown(cause error) *Report { return Default().Shutdown(cause) }

// Exit runs the default coordinator's shutdown, then exits with code; see
// [Coordinator.Exit].
func Exit(code int) { Default().Exit(code) }

// Context returns the default coordinator's context; see
// [Coordinator.Context].
func Context() context.Context { return Default().Context() }
