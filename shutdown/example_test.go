package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lastcall-go/lastcall/shutdown"
)

// quiet is what the examples pass to New: no signals (only the example
// triggers the shutdown) and no log output.
var quiet = []shutdown.Option{
	shutdown.WithSignals(),
	shutdown.WithLogger(slog.New(slog.DiscardHandler)),
}

// Hooks run in reverse order of registration: what was opened first is
// closed last.
func ExampleCoordinator_Register() {
	c := shutdown.New(quiet...)
	c.Register("database", shutdown.Func(func() { fmt.Println("close the database") }))
	c.Register("cache", func(context.Context) error {
		fmt.Println("flush the cache")
		return nil
	})
	c.Register("server", shutdown.Func(func() { fmt.Println("stop the server") }))

	rep := c.Shutdown(nil)
	fmt.Println("exit code", rep.ExitCode())
	// Output:
	// stop the server
	// flush the cache
	// close the database
	// exit code 0
}

// Unregister removes a hook that has not run yet, as atexit.unregister
// does; it reports whether it removed it.
func ExampleHandle_Unregister() {
	c := shutdown.New(quiet...)
	c.Register("first", shutdown.Func(func() { fmt.Println("registered first") }))
	tmp := c.Register("temp", shutdown.Func(func() { fmt.Println("remove the temp file") }))
	c.Register("last", shutdown.Func(func() { fmt.Println("registered last") }))

	// The temp file was removed by the program already.
	fmt.Println(tmp.Unregister())
	fmt.Println(tmp.Unregister())

	c.Shutdown(nil)
	// Output:
	// true
	// false
	// registered last
	// registered first
}

// The hooks of a stage run in parallel (here at most two at once), and the
// step before it in the LIFO order runs only when all of them have
// returned; the report lists them in registration order, with their
// outcome, and a failure does not stop the others.
func ExampleCoordinator_Stage() {
	c := shutdown.New(quiet...)
	c.Register("database", shutdown.Func(func() {}))
	servers := c.Stage("servers", shutdown.Limit(2))
	servers.Register("http", shutdown.Func(func() {}))
	servers.Register("grpc", func(context.Context) error { return errors.New("listener already closed") })
	servers.Register("metrics", shutdown.Func(func() {}))

	rep := c.Shutdown(nil)
	for _, h := range rep.Hooks {
		fmt.Printf("%-8s %-8s %s\n", h.Stage, h.Name, h.Status)
	}
	fmt.Println(rep.Err())
	fmt.Println("exit code", rep.ExitCode())
	// Output:
	// servers  http     ok
	// servers  grpc     failed
	// servers  metrics  ok
	//          database ok
	// hook "grpc" failed: listener already closed
	// exit code 1
}

// A task runs now with the coordinator's context, which is canceled when
// the shutdown starts; its stop step waits for it to return before the
// hooks registered before it run.
func ExampleCoordinator_Go() {
	c := shutdown.New(quiet...)
	c.Register("flush", shutdown.Func(func() { fmt.Println("flush the results") }))

	jobs := make(chan int)
	c.Go("worker", func(ctx context.Context) error {
		for {
			select {
			case j := <-jobs:
				fmt.Println("job", j)
			case <-ctx.Done():
				fmt.Println("worker stopped")
				return ctx.Err() // context.Canceled is how a task says it was told to stop
			}
		}
	})
	jobs <- 1
	jobs <- 2

	rep := c.Shutdown(nil)
	for _, h := range rep.Hooks {
		fmt.Println(h.Name, h.Status)
	}
	// Output:
	// job 1
	// job 2
	// worker stopped
	// flush the results
	// worker ok
	// flush ok
}

// Exit is sys.exit: it runs the hooks, then ends the process through the
// exit func (os.Exit unless WithExitFunc says otherwise) with its code.
func ExampleCoordinator_Exit() {
	c := shutdown.New(append(quiet, shutdown.WithExitFunc(func(code int) {
		fmt.Println("os.Exit", code)
	}))...)
	c.Register("database", shutdown.Func(func() { fmt.Println("close the database") }))

	c.Exit(3)
	// Output:
	// close the database
	// os.Exit 3
}

// The package-level functions act on a default coordinator, the atexit way:
// register hooks anywhere, and run them when main returns with one deferred
// call (here called directly, as an example cannot defer past its output).
func ExampleRegister() {
	// In main: defer shutdown.Shutdown(nil)
	shutdown.Register("first", shutdown.Func(func() { fmt.Println("registered first, runs last") }))
	shutdown.Register("second", shutdown.Func(func() { fmt.Println("registered second, runs first") }))

	rep := shutdown.Shutdown(nil)
	fmt.Println("exit code", rep.ExitCode())
	// Output:
	// registered second, runs first
	// registered first, runs last
	// exit code 0
}
