// Command oklog is the oklog/run side of the whole-process scenarios of
// cmd/procbench: a signal actor, plus one actor per hook that blocks until
// interrupted and then runs its no-op hook (with -sleep, one more that
// sleeps that long). It prints "ready" once every actor is running.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/oklog/run"
)

func main() {
	n := flag.Int("hooks", 0, "no-op hooks to register")
	sleep := flag.Duration("sleep", 0, "add one more hook that sleeps this long")
	flag.Parse()

	// run.SignalHandler, except that signal.Notify happens before "ready"
	// is printed, not whenever its actor's goroutine gets to run.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	var g run.Group
	g.Add(func() error {
		defer signal.Stop(sigs) // a second signal ends the process the default way
		select {
		case sig := <-sigs:
			return run.SignalError{Signal: sig}
		case <-quit:
			return nil
		}
	}, func(error) { close(quit) })

	var started sync.WaitGroup
	ctx := context.Background()
	add := func(hook func(context.Context) error) {
		stop := make(chan struct{})
		started.Add(1)
		g.Add(func() error {
			started.Done()
			<-stop
			return hook(ctx)
		}, func(error) { close(stop) })
	}
	for range *n {
		add(func(context.Context) error { return nil })
	}
	if *sleep > 0 {
		add(func(ctx context.Context) error {
			select {
			case <-time.After(*sleep):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	ready := make(chan struct{})
	g.Add(func() error {
		started.Wait()
		fmt.Println("ready")
		<-ready
		return nil
	}, func(error) { close(ready) })

	err := g.Run()
	var se run.SignalError
	if err != nil && !errors.As(err, &se) {
		os.Exit(1)
	}
}
