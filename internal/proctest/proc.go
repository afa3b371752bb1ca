//go:build unix

package proctest

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// reapTimeout bounds how long the cleanup waits for a killed process group
// to be reaped and its output to close.
const reapTimeout = 10 * time.Second

// Proc is a running binary started by Start. Its methods are safe for
// concurrent use, except the Must variants, which fail the test and so must
// be called from the goroutine running it.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	start  time.Time
	stdout *Stream
	stderr *Stream

	exited  chan struct{} // closed once the process has been reaped
	elapsed time.Duration // start to reap; read after exited is closed
}

// Result is how a process ended.
type Result struct {
	Exited   bool           // it called exit: Code holds the status
	Code     int            // exit code when Exited, else -1
	Signaled bool           // a signal ended it: Signal holds which
	Signal   syscall.Signal // the ending signal when Signaled
	Stdout   []string       // every line read from stdout, without newlines
	Stderr   []string       // every line read from stderr, without newlines
	Elapsed  time.Duration  // from Start to the end of the process
}

// String describes the status the way a shell would: "exit status 0",
// "signal: terminated".
func (r Result) String() string {
	switch {
	case r.Exited:
		return fmt.Sprintf("exit status %d", r.Code)
	case r.Signaled:
		return "signal: " + r.Signal.String()
	}
	return "not ended"
}

// Start runs bin with args in a new process group, with the environment of
// the test plus GORACE=atexit_sleep_ms=0, and starts reading its stdout and
// stderr line by line. Stdin is /dev/null. Start fails t if the process
// cannot start.
//
// When the test ends, Start's cleanup sends SIGKILL to the whole process
// group, reaps the process and waits for its output to close; if the test
// failed, it logs both outputs with the time each line arrived.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, stderr, err := StartCmd(cmd)
	if err != nil {
		t.Fatalf("proctest: %v", err)
	}
	p := &Proc{
		t:      t,
		cmd:    cmd,
		start:  stdout.start,
		stdout: stdout,
		stderr: stderr,
		exited: make(chan struct{}),
	}
	go func() {
		cmd.Wait() // the status is read from cmd.ProcessState
		p.elapsed = time.Since(p.start)
		close(p.exited)
	}()
	t.Cleanup(p.cleanup)
	return p
}

func withGORACE(env []string) []string {
	const opt = "atexit_sleep_ms=0"
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GORACE="); ok {
			env = slices.Clone(env)
			env[i] = "GORACE=" + strings.TrimSpace(v+" "+opt)
			return env
		}
	}
	return append(env, "GORACE="+opt)
}

// Pid returns the process id, which is also its process group id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process, as kill(1) does. It returns
// os.ErrProcessDone once the process has been reaped.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// SignalGroup sends sig to every process of the process group, as a
// terminal does on Ctrl-C.
func (p *Proc) SignalGroup(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return os.ErrProcessDone
	default:
	}
	return syscall.Kill(-p.Pid(), sig)
}

// WaitLine waits until a stdout line containing substr has been read and
// returns the first such line, counting every line since Start. It returns
// an error when timeout passes first or stdout closes without such a line.
func (p *Proc) WaitLine(substr string, timeout time.Duration) (string, error) {
	return p.stdout.Find(0, timeout, substr)
}

// WaitStderrLine is WaitLine for stderr.
func (p *Proc) WaitStderrLine(substr string, timeout time.Duration) (string, error) {
	return p.stderr.Find(0, timeout, substr)
}

// MustWaitLine is WaitLine failing the test on error.
func (p *Proc) MustWaitLine(substr string, timeout time.Duration) string {
	p.t.Helper()
	line, err := p.WaitLine(substr, timeout)
	if err != nil {
		p.t.Fatalf("proctest: %v", err)
	}
	return line
}

// Wait waits until the process has ended and its stdout and stderr have
// closed, and returns how it ended. If that takes longer than timeout it
// returns an error (the process is left running; the cleanup kills it).
// Wait may be called any number of times.
func (p *Proc) Wait(timeout time.Duration) (Result, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		return Result{}, fmt.Errorf("process %d still running after %v", p.Pid(), timeout)
	}
	r := p.result()
	for _, o := range []*Stream{p.stdout, p.stderr} {
		select {
		case <-o.done:
		case <-timer.C:
			// Something the process started still holds the pipe.
			return r, fmt.Errorf("process %d ended (%v) but its %s was still open after %v",
				p.Pid(), r, o.name, timeout)
		}
	}
	r.Stdout, r.Stderr = p.Stdout(), p.Stderr()
	return r, nil
}

// MustWait is Wait failing the test on error.
func (p *Proc) MustWait(timeout time.Duration) Result {
	p.t.Helper()
	r, err := p.Wait(timeout)
	if err != nil {
		p.t.Fatalf("proctest: %v", err)
	}
	return r
}

// result decodes the wait status; call it after exited is closed.
func (p *Proc) result() Result {
	r := Result{Code: -1}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		r = ResultOf(ws)
	}
	r.Elapsed = p.elapsed
	return r
}

// ResultOf returns how a process with the wait status ws ended, for a test
// that reaps processes itself; the outputs and Elapsed are left empty.
func ResultOf(ws syscall.WaitStatus) Result {
	r := Result{Code: -1}
	switch {
	case ws.Exited():
		r.Exited, r.Code = true, ws.ExitStatus()
	case ws.Signaled():
		r.Signaled, r.Signal = true, ws.Signal()
	}
	return r
}

// Stdout returns the stdout lines read so far.
func (p *Proc) Stdout() []string { return p.stdout.Lines(0) }

// Stderr returns the stderr lines read so far.
func (p *Proc) Stderr() []string { return p.stderr.Lines(0) }

// CloseStdout closes the test's end of the stdout pipe, as a log collector
// that goes away would: from then on the process's writes to stdout fail
// with EPIPE (and raise SIGPIPE unless it handles it). Lines written after
// the close are not recorded, and WaitLine no longer finds new ones.
//
// Between fork and exec, a child that another goroutine is starting holds
// a copy of every open descriptor, this read end included, and the writer
// would not see the pipe break until that exec; CloseStdout therefore
// waits for the processes being started by this package to have started.
func (p *Proc) CloseStdout() error {
	spawning.Lock()
	defer spawning.Unlock()
	return p.stdout.Close()
}

// spawning is held for reading while this package forks a process, and
// for writing while CloseStdout closes a pipe.
var spawning sync.RWMutex

func (p *Proc) cleanup() {
	// ESRCH (nothing left in the group) is the normal case after Wait.
	syscall.Kill(-p.Pid(), syscall.SIGKILL)
	deadline := time.NewTimer(reapTimeout)
	defer deadline.Stop()
	select {
	case <-p.exited:
	case <-deadline.C:
		p.t.Errorf("proctest: process %d not reaped %v after SIGKILL", p.Pid(), reapTimeout)
	}
	for _, o := range []*Stream{p.stdout, p.stderr} {
		select {
		case <-o.done:
		case <-deadline.C:
			// A process outside the group holds the pipe: stop reading.
			o.Close()
			<-o.done
		}
		o.Close()
	}
	if p.t.Failed() {
		p.t.Logf("proctest: output of %s (pid %d):\n%s", p.cmd.Path, p.Pid(), p.transcript())
	}
}

// transcript merges both outputs in arrival order, each line marked with
// its stream and its time since Start.
func (p *Proc) transcript() string {
	type entry struct {
		line
		stream string
	}
	var all []entry
	for _, o := range []*Stream{p.stdout, p.stderr} {
		o.mu.Lock()
		for _, l := range o.lines {
			all = append(all, entry{l, o.name})
		}
		o.mu.Unlock()
	}
	slices.SortStableFunc(all, func(a, b entry) int { return cmp.Compare(a.at, b.at) })
	var b strings.Builder
	for _, e := range all {
		fmt.Fprintf(&b, "%8.3fs %s: %s\n", e.at.Seconds(), e.stream, e.text)
	}
	return b.String()
}

// IgnoresSignal reports whether the process ignores sig, from the SigIgn
// mask of /proc/PID/status (Linux). It fails the test where that cannot be
// read.
func (p *Proc) IgnoresSignal(sig syscall.Signal) bool {
	p.t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		p.t.Fatalf("reading the ignored signals: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				p.t.Fatalf("SigIgn line %q: %v", l, err)
			}
			return mask&(1<<(uint(sig)-1)) != 0
		}
	}
	p.t.Fatal("no SigIgn line in /proc/PID/status")
	return false
}
