// Command hand is the hand-written side of the whole-process scenarios of
// cmd/procbench: signal.NotifyContext and a LIFO loop over
// []func(context.Context) error. With -report it also records, per hook,
// what lastcall's report holds (the floor of that report's cost: a clock
// read and a 64-byte result per hook); with
// -stdio it catches SIGPIPE from the signal on, as lastcall does.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// result has the layout of lastcall's shutdown.HookResult, so that -report
// costs what lastcall's report costs, without importing lastcall (and the
// packages it imports) into the hand-written program.
type result struct {
	Name, Stage string
	Status      int
	Err         error
	Elapsed     time.Duration
}

func main() {
	n := flag.Int("hooks", 0, "no-op hooks to register")
	sleep := flag.Duration("sleep", 0, "add one more hook that sleeps this long")
	report := flag.Bool("report", false, "time each hook and fill a []shutdown.HookResult")
	stdio := flag.Bool("stdio", false, "from the signal on, catch SIGPIPE, as lastcall does")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hooks := make([]func(context.Context) error, 0, *n+1)
	for range *n {
		hooks = append(hooks, func(context.Context) error { return nil })
	}
	if *sleep > 0 {
		hooks = append(hooks, func(ctx context.Context) error {
			select {
			case <-time.After(*sleep):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	fmt.Println("ready")
	<-ctx.Done()
	if *stdio {
		// What lastcall does at the trigger so that a reader of stdout or
		// stderr that has gone cannot kill the process halfway through its
		// cleanup: a write then fails with EPIPE instead.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	}
	stop() // a second signal now ends the process the default way

	bg := context.Background()
	if !*report {
		for i := len(hooks) - 1; i >= 0; i-- {
			_ = hooks[i](bg)
		}
		return
	}
	res := make([]result, 0, len(hooks))
	start := time.Now()
	var last time.Duration
	for i := len(hooks) - 1; i >= 0; i-- {
		err := hooks[i](bg)
		now := time.Since(start)
		res = append(res, result{Name: "hook", Err: err, Elapsed: now - last})
		last = now
	}
	runtime.KeepAlive(res)
}
