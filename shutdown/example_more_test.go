package shutdown_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Drain hooks run at the trigger, before the drain delay and the LIFO
// walk: the place to tell a health service, a service manager or service
// discovery that this process is going away. They come first in the
// report, under the stage "drain".
func ExampleCoordinator_OnDrain() {
	c := shutdown.New(quiet...)
	c.Register("server", shutdown.Func(func() { fmt.Println("stop the server") }))
	c.OnDrain("health", shutdown.Func(func() { fmt.Println("health: NOT_SERVING") }))

	rep := c.Shutdown(nil)
	for _, h := range rep.Hooks {
		fmt.Printf("%-6s %-7s %s\n", h.Stage, h.Name, h.Status)
	}
	// Output:
	// health: NOT_SERVING
	// stop the server
	// drain  health  ok
	//        server  ok
}

// Context ends at the trigger: stop taking work. InFlight ends only with
// the shutdown: finish, send and flush the work already taken with it.
func ExampleCoordinator_InFlight() {
	c := shutdown.New(quiet...)
	c.Register("flush", func(context.Context) error {
		fmt.Println("taking work:", c.Context().Err())
		fmt.Println("work in flight:", c.InFlight().Err())
		return nil
	})

	c.Shutdown(nil)
	fmt.Println("work in flight, after the shutdown:", c.InFlight().Err())
	// Output:
	// taking work: context canceled
	// work in flight: <nil>
	// work in flight, after the shutdown: context canceled
}

// Graceful stops a server that has two ways to stop, such as a
// *grpc.Server: Graceful(srv.GracefulStop, srv.Stop). Here the graceful
// stop waits for a call that never ends, so at the hook's timeout the hard
// stop cuts it, and the hook is recorded as timed out.
func ExampleGraceful() {
	c := shutdown.New(quiet...)
	call := make(chan struct{})     // a call in flight that would never end
	draining := make(chan struct{}) // the graceful stop has begun
	stopped := make(chan struct{})  // the hard stop is over
	graceful := func() {
		fmt.Println("graceful: no new calls; waiting for the one in flight")
		close(draining)
		<-call
	}
	hard := func() {
		<-draining
		fmt.Println("hard: the call in flight is cut")
		close(call)
		close(stopped)
	}
	c.Register("grpc", shutdown.Graceful(graceful, hard), shutdown.Timeout(50*time.Millisecond))

	rep := c.Shutdown(nil)
	<-stopped // the hard stop runs as its hook is left behind
	fmt.Println(rep.Hooks[0].Name, rep.Hooks[0].Status)
	// Output:
	// graceful: no new calls; waiting for the one in flight
	// hard: the call in flight is cut
	// grpc timed out
}

// exampleReport is the report of a shutdown whose queue hook ate the
// deadline, written out by hand so that the examples print the same
// figures on every run.
func exampleReport() *shutdown.Report {
	return &shutdown.Report{
		Cause:   errors.New("signal: terminated"),
		Elapsed: 2 * time.Second,
		Hooks: []shutdown.HookResult{
			{Name: "health", Stage: "drain", Status: shutdown.OK, Elapsed: 100 * time.Microsecond},
			{Name: "http", Status: shutdown.OK, Started: 500 * time.Millisecond, Elapsed: 300 * time.Millisecond},
			{Name: "queue", Status: shutdown.TimedOut, Started: 800 * time.Millisecond, Elapsed: 1200 * time.Millisecond, Err: context.DeadlineExceeded},
			{Name: "db", Status: shutdown.Skipped, Started: 2 * time.Second, Err: shutdown.ErrSkipped},
		},
	}
}

// The timeline shows which hook took the time: the drain, the gap of the
// drain delay, then each hook on the time axis from the trigger; the one
// that ate the deadline is the row of '#'.
func ExampleReport_Timeline() {
	fmt.Print(exampleReport().Timeline())
	// Output:
	// shutdown: signal: terminated; exit code 1; 2s
	// stage  hook   |0s                                            2s|
	// drain  health |=                                               | ok            100µs
	//        http   |            =======                             | ok            300ms
	//        queue  |                   #############################| timed out      1.2s
	//        db     |                                                | skipped
}

// A report marshals to JSON that a reader without the Go types can use:
// statuses as words, times in milliseconds, the exit code included.
func ExampleReport_MarshalJSON() {
	rep := exampleReport()
	rep.Hooks = rep.Hooks[1:3]
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {
	//   "cause": "signal: terminated",
	//   "exit_code": 1,
	//   "forced": false,
	//   "elapsed_ms": 2000,
	//   "hooks": [
	//     {
	//       "name": "http",
	//       "stage": "",
	//       "status": "ok",
	//       "started_ms": 500,
	//       "elapsed_ms": 300,
	//       "error": ""
	//     },
	//     {
	//       "name": "queue",
	//       "stage": "",
	//       "status": "timed out",
	//       "started_ms": 800,
	//       "elapsed_ms": 1200,
	//       "error": "context deadline exceeded"
	//     }
	//   ]
	// }
}

// WithReportFile writes the report as JSON when the shutdown ends, on
// every path (a forced exit included): in Kubernetes, give it
// /dev/termination-log and `kubectl describe pod` shows it.
func ExampleWithReportFile() {
	path := filepath.Join(os.TempDir(), "lastcall-example-report.json")
	defer os.Remove(path)
	c := shutdown.New(append(quiet, shutdown.WithReportFile(path))...)
	c.Register("queue", func(context.Context) error { return errors.New("broker gone") })
	c.Shutdown(errors.New("signal: terminated"))

	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	var rep struct {
		Cause    string `json:"cause"`
		ExitCode int    `json:"exit_code"`
		Hooks    []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Cause, rep.ExitCode, rep.Hooks)
	// Output:
	// signal: terminated 1 [{queue failed broker gone}]
}
