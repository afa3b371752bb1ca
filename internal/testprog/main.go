// Command testprog is a small program built on package shutdown for the
// process-level tests: it registers hooks, prints "ready" once its
// coordinator exists, and ends the way its flags say, so that a test can
// send it real signals and read how it ended.
//
// Hook i (1..N, registered in that order) prints "hook i" on stdout and
// appends a line to the -marks file, synced to disk, so that a test sees
// that the hook ran even when stdout is gone: "hook i ok" when the write to
// stdout succeeded, "hook i epipe" when it failed with EPIPE (the reader of
// stdout has gone), "hook i error: ..." for any other failure.
//
// Modes:
//
//	normal   defer c.Shutdown(nil); work for -run; return from main
//	wait     c.Wait(), then os.Exit with the report's exit code
//	exit=N   work for -run, then c.Exit(N)
//
// With -hang, a hook registered last (so it runs first) prints "hanging"
// and then blocks for an hour, ignoring its context.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	hooks := flag.Int("hooks", 2, "number of hooks to register")
	hang := flag.Bool("hang", false, "add a hook, run first, that blocks for an hour")
	timeout := flag.Duration("timeout", shutdown.DefaultTimeout, "WithTimeout")
	drain := flag.Duration("drain", 0, "WithDrainDelay")
	mode := flag.String("mode", "normal", "normal, wait or exit=CODE")
	run := flag.Duration("run", 0, "how long main works before it ends (modes normal and exit)")
	marks := flag.String("marks", "", "file to which each hook appends a line")
	flag.Parse()

	exitCode, isExit := 0, false
	switch {
	case *mode == "normal" || *mode == "wait":
	case strings.HasPrefix(*mode, "exit="):
		n, err := strconv.Atoi(strings.TrimPrefix(*mode, "exit="))
		if err != nil {
			fatalf("bad -mode %q: %v", *mode, err)
		}
		exitCode, isExit = n, true
	default:
		fatalf("bad -mode %q", *mode)
	}

	m := &marker{path: *marks}
	c := shutdown.New(shutdown.WithTimeout(*timeout), shutdown.WithDrainDelay(*drain))
	for i := 1; i <= *hooks; i++ {
		name := fmt.Sprint("hook ", i)
		c.Register(name, shutdown.Func(func() { m.say(name) }))
	}
	if *hang {
		c.Register("hang", shutdown.Func(func() {
			m.say("hanging")
			time.Sleep(time.Hour)
		}))
	}

	if *mode == "normal" {
		// The atexit line: the hooks run when main returns.
		defer c.Shutdown(nil)
	}
	fmt.Println("ready")

	switch {
	case *mode == "wait":
		os.Exit(c.Wait().ExitCode())
	case isExit:
		time.Sleep(*run)
		c.Exit(exitCode)
	default:
		time.Sleep(*run)
	}
}

// marker writes a hook's line to stdout and its mark to the marks file.
type marker struct {
	path string
	mu   sync.Mutex
}

func (m *marker) say(line string) {
	_, err := fmt.Println(line)
	mark := line + " ok"
	switch {
	case errors.Is(err, syscall.EPIPE):
		mark = line + " epipe"
	case err != nil:
		mark = line + " error: " + err.Error()
	}
	if m.path == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fatalf("marks: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(mark + "\n"); err != nil {
		fatalf("marks: %v", err)
	}
	if err := f.Sync(); err != nil {
		fatalf("marks: %v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testprog: "+format+"\n", args...)
	os.Exit(2)
}
