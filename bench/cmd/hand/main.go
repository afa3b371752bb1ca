// Command hand is the hand-written side of the whole-process scenarios of
// cmd/procbench: signal.NotifyContext and a LIFO loop over
// []func(context.Context) error, then the end of main.
//
// Its flags make it a floor, the hand-written program doing one more thing
// that lastcall's contract requires:
//
//   - -stdio: from the signal on, SIGPIPE is caught, so that a gone reader
//     of stdout or stderr cannot kill the process halfway;
//   - -deadline: the hooks run on a goroutine of their own, and main waits
//     for the first of: they are done, a 30 s deadline, a second signal
//     (which exits with 128+signo); the signals are released at the end.
//     This is the least concurrency that bounds a shutdown whose hooks may
//     hang: a goroutine, a timer, a select;
//   - -warm (with -deadline): the process's first timer is started and
//     stopped before the ready line, so that the deadline's timer, after
//     the signal, does not start the runtime's network poller, which a
//     process's first timer does (epoll_create1, eventfd2, epoll_ctl);
//   - -report: each hook is timed and its result kept, as lastcall's
//     report does (a clock read and a 72-byte result per hook);
//   - -contract (built with -tags contract, which links log/slog): -stdio,
//     -deadline and -report together (not -warm: its deadline's timer is
//     the process's first), plus a slog record at the start, per hook and
//     at the end, to a logger that discards them, and the exit code from
//     the results.
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
	Started     time.Duration
	Elapsed     time.Duration
}

// contract is set by contract.go, built only with -tags contract.
var contract func(hooks []func(context.Context) error) int

func main() {
	n := flag.Int("hooks", 0, "no-op hooks to register")
	sleep := flag.Duration("sleep", 0, "add one more hook that sleeps this long")
	report := flag.Bool("report", false, "time each hook and fill a []result")
	stdio := flag.Bool("stdio", false, "from the signal on, catch SIGPIPE, as lastcall does")
	deadline := flag.Bool("deadline", false, "run the hooks on a goroutine, bounded by a deadline and a second signal")
	warm := flag.Bool("warm", false, "with -deadline: start the timer machinery before the ready line")
	withContract := false
	if contract != nil {
		flag.BoolVar(&withContract, "contract", false, "everything lastcall's contract requires, logs included")
	}
	flag.Parse()

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
	switch {
	case withContract:
		os.Exit(contract(hooks))
	case *deadline:
		if *warm {
			time.AfterFunc(time.Hour, func() {}).Stop()
		}
		os.Exit(bounded(hooks))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	runtime.KeepAlive(walk(bg, hooks, time.Now()))
}

// walk runs the hooks newest first and returns their results.
func walk(ctx context.Context, hooks []func(context.Context) error, start time.Time) []result {
	res := make([]result, 0, len(hooks))
	last := time.Since(start)
	for i := len(hooks) - 1; i >= 0; i-- {
		err := hooks[i](ctx)
		now := time.Since(start)
		st := 0
		if err != nil {
			st = 1
		}
		res = append(res, result{Name: "hook", Status: st, Err: err, Started: last, Elapsed: now - last})
		last = now
	}
	return res
}

// bounded is -deadline: the hooks on a goroutine that can be left behind,
// main waiting for the first of their end, the deadline, a second signal.
func bounded(hooks []func(context.Context) error) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	fmt.Println("ready")
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := len(hooks) - 1; i >= 0 && ctx.Err() == nil; i-- {
			_ = hooks[i](ctx)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	case sig := <-sigs:
		return 128 + int(sig.(syscall.Signal))
	}
	signal.Stop(sigs)
	return 0
}
