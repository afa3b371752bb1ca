// Command testprog is a small program built on package shutdown for the
// process-level tests: it registers hooks, prints "ready" once its
// coordinator exists and its hooks are registered, and ends the way its
// flags say, so that a test can send it real signals and read how it ended.
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
//	callers  -callers goroutines call c.Shutdown at the same moment; main
//	         prints "callers N reports R hooks H ok K cause C" (R: how many
//	         distinct reports they got) and exits with the report's code
//
// Other flags shape the run for the fault-matrix tests (internal/faults):
//
//	-startup-work D  work for D before New: a start-up window in which a
//	                 signal finds no coordinator yet
//	-register-work D print "new" once New has returned, then work for D
//	                 before registering the hooks
//	-done            add a hook, registered first so that it runs last,
//	                 that prints and marks "done": the shutdown reached its end
//	-hook-delay D    hook i works for D (ignoring its context) before it prints
//	-stuck K         add a stage "stuck" of K hooks that print "stuck i
//	                 hanging" and block for an hour, ignoring their context,
//	                 and after it a hook "first", which runs before them
//	-tick D          print "tick N" every D until the shutdown is triggered
//	-pid             print "pid N" (the process id) before "ready"
//	-json-log        write the coordinator's log records to stderr as JSON
//	-report-file F   WithReportFile(F): the report as JSON, a termination message
//	-hold FIFO       add a hook, registered after the others (so it runs
//	                 first), that prints and marks "holding", then reads
//	                 the named pipe FIFO to its end: it returns once a test
//	                 has opened the pipe for writing and closed it
//	-break-stderr    before "ready", make stderr a pipe nobody reads (a
//	                 log collector that has gone), and add a hook, run
//	                 first, that writes to stderr and marks "stderr epipe"
//	                 (or "stderr ok", "stderr error: ...")
//
// With -hang, a hook registered last (so it runs first) prints "hanging"
// and then blocks for an hour, ignoring its context.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
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
	mode := flag.String("mode", "normal", "normal, wait, exit=CODE or callers")
	run := flag.Duration("run", 0, "how long main works before it ends (modes normal and exit)")
	marks := flag.String("marks", "", "file to which each hook appends a line")
	startupWork := flag.Duration("startup-work", 0, "how long the program works before New")
	registerWork := flag.Duration("register-work", 0, "how long the program works between New and registering its hooks")
	done := flag.Bool("done", false, "add a hook, run last, that prints and marks \"done\"")
	hookDelay := flag.Duration("hook-delay", 0, "how long each hook i works before it prints")
	stuck := flag.Int("stuck", 0, "add a stage of this many hooks that block for an hour, and a hook \"first\" run before it")
	tick := flag.Duration("tick", 0, "print \"tick N\" at this interval until the shutdown is triggered")
	pid := flag.Bool("pid", false, "print \"pid N\" before \"ready\"")
	jsonLog := flag.Bool("json-log", false, "log JSON records to stderr")
	reportFile := flag.String("report-file", "", "WithReportFile")
	callers := flag.Int("callers", 1000, "mode callers: how many goroutines call Shutdown")
	hold := flag.String("hold", "", "add a hook, run first, that reads this named pipe to its end")
	brokenStderr := flag.Bool("break-stderr", false, "make stderr a pipe nobody reads before \"ready\"")
	flag.Parse()

	exitCode, isExit := 0, false
	switch {
	case *mode == "normal" || *mode == "wait" || *mode == "callers":
	case strings.HasPrefix(*mode, "exit="):
		n, err := strconv.Atoi(strings.TrimPrefix(*mode, "exit="))
		if err != nil {
			fatalf("bad -mode %q: %v", *mode, err)
		}
		exitCode, isExit = n, true
	default:
		fatalf("bad -mode %q", *mode)
	}

	// The start-up: until New returns, SIGTERM and SIGINT have Go's
	// default action and end the process.
	time.Sleep(*startupWork)

	m := &marker{path: *marks}
	opts := []shutdown.Option{shutdown.WithTimeout(*timeout), shutdown.WithDrainDelay(*drain)}
	if *jsonLog {
		opts = append(opts, shutdown.WithLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil))))
	}
	if *reportFile != "" {
		opts = append(opts, shutdown.WithReportFile(*reportFile))
	}
	c := shutdown.New(opts...)
	if *registerWork > 0 {
		fmt.Println("new")
		time.Sleep(*registerWork)
	}
	if *done {
		c.Register("done", shutdown.Func(func() { m.say("done") }))
	}
	for i := 1; i <= *hooks; i++ {
		name := fmt.Sprint("hook ", i)
		c.Register(name, shutdown.Func(func() {
			time.Sleep(*hookDelay)
			m.say(name)
		}))
	}
	if *stuck > 0 {
		s := c.Stage("stuck")
		for i := 1; i <= *stuck; i++ {
			name := fmt.Sprint("stuck ", i)
			s.Register(name, shutdown.Func(func() {
				m.say(name + " hanging")
				time.Sleep(time.Hour)
			}))
		}
		c.Register("first", shutdown.Func(func() { m.say("first") }))
	}
	if *hang {
		c.Register("hang", shutdown.Func(func() {
			m.say("hanging")
			time.Sleep(time.Hour)
		}))
	}
	if *hold != "" {
		c.Register("hold", func(context.Context) error {
			m.say("holding")
			// Opening a named pipe for reading blocks until a writer
			// opens it; the read ends when the writer closes it.
			_, err := os.ReadFile(*hold)
			return err
		})
	}
	if *brokenStderr {
		if err := breakStderr(); err != nil {
			fatalf("break stderr: %v", err)
		}
		c.Register("stderr", shutdown.Func(func() {
			_, err := fmt.Fprintln(os.Stderr, "stderr")
			m.mark("stderr", err)
		}))
	}

	if *mode == "normal" {
		// The atexit line: the hooks run when main returns.
		defer c.Shutdown(nil)
	}
	if *pid {
		fmt.Println("pid", os.Getpid())
	}
	fmt.Println("ready")
	if *tick > 0 {
		go ticker(c, *tick)
	}

	switch {
	case *mode == "wait":
		os.Exit(c.Wait().ExitCode())
	case *mode == "callers":
		os.Exit(shutdownFrom(c, *callers).ExitCode())
	case isExit:
		time.Sleep(*run)
		c.Exit(exitCode)
	default:
		time.Sleep(*run)
	}
}

// ticker prints "tick N" every d until the shutdown is triggered: a sign
// that the program is alive and working.
func ticker(c *shutdown.Coordinator, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-c.Context().Done():
			return
		case <-t.C:
		}
		fmt.Println("tick", n)
	}
}

// shutdownFrom starts n goroutines, lets them all call c.Shutdown at the
// same moment, each with a cause of its own, and prints what they got.
func shutdownFrom(c *shutdown.Coordinator, n int) *shutdown.Report {
	reports := make([]*shutdown.Report, n)
	var started, ended sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		started.Add(1)
		ended.Add(1)
		go func() {
			defer ended.Done()
			started.Done()
			<-start
			reports[i] = c.Shutdown(fmt.Errorf("caller %d", i))
		}()
	}
	started.Wait()
	close(start)
	ended.Wait()

	distinct := map[*shutdown.Report]bool{}
	for _, r := range reports {
		distinct[r] = true
	}
	rep := reports[0]
	ok := 0
	for _, h := range rep.Hooks {
		if h.Status == shutdown.OK {
			ok++
		}
	}
	fmt.Printf("callers %d reports %d hooks %d ok %d cause %v\n", n, len(distinct), len(rep.Hooks), ok, rep.Cause)
	return rep
}

// marker writes a hook's line to stdout and its mark to the marks file.
type marker struct {
	path string
	mu   sync.Mutex
}

func (m *marker) say(line string) {
	_, err := fmt.Println(line)
	m.mark(line, err)
}

// mark appends line to the marks file with the outcome of a write: "ok",
// "epipe" or "error: ...".
func (m *marker) mark(line string, err error) {
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
