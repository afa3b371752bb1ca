// Command killdemo is Python's atexit article in Go: two exit handlers that
// run in reverse order of registration, both when main ends normally and
// when the process gets SIGTERM or SIGINT while it sleeps.
//
// Build it, then run it (go run would not pass the signal on to it):
//
//	go build -o /tmp/killdemo ./examples/killdemo
//	/tmp/killdemo                      # handler 2, then handler 1, after 1s
//	/tmp/killdemo -sleep 30s & sleep 1; kill -15 $!   # the same, at once
//	/tmp/killdemo -unregister          # handler 2 only
//	/tmp/killdemo -timeline            # and the shutdown's timeline on stderr
//
// The exit code is 0 either way.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	// The atexit line: the hooks also run when main returns.
	defer shutdown.Shutdown(nil)

	sleep := flag.Duration("sleep", time.Second, "how long to sleep before ending normally")
	unregister := flag.Bool("unregister", false, "unregister handler 1 before sleeping")
	timeline := flag.Bool("timeline", false, "print the shutdown's timeline on stderr when it completes")
	flag.Parse()

	if *timeline {
		shutdown.Default().Observe(func(e shutdown.Event) {
			if e.Kind == shutdown.Completed {
				fmt.Fprint(os.Stderr, e.Report.Timeline())
			}
		})
	}

	h1 := shutdown.Register("handler 1", shutdown.Func(func() { fmt.Println("Message from exit handler 1...") }))
	shutdown.Register("handler 2", shutdown.Func(func() { fmt.Println("Message from exit handler 2...") }))
	if *unregister {
		h1.Unregister()
	}

	fmt.Printf("Will sleep for %s...\n", human(*sleep))
	time.Sleep(*sleep)
}

// human spells whole seconds out ("1 second", "30 seconds").
func human(d time.Duration) string {
	switch {
	case d == time.Second:
		return "1 second"
	case d > 0 && d%time.Second == 0:
		return fmt.Sprintf("%d seconds", d/time.Second)
	}
	return d.String()
}
