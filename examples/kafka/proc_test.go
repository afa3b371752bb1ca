//go:build unix

package main

// What the process tests need of the root module's internal/proctest,
// which a module of its own cannot import: build this package once, start
// it in a process group of its own, read its output line by line, wait for
// a line instead of sleeping, bound every wait, decode how it ended, and
// kill the group when the test ends.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	bin       string
	buildErr  error
)

// build compiles this package once per test process, with -race unless
// PROCTEST_NORACE=1, and returns the binary. go run is never used: it
// does not pass SIGTERM on to the program.
func build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "proctest-")
		if buildErr != nil {
			return
		}
		bin = filepath.Join(binDir, "prog")
		args := []string{"build"}
		if os.Getenv("PROCTEST_NORACE") != "1" {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "-o", bin, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// exit removes the binary and exits with code: for goleak.Cleanup.
func exit(code int) {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is a running binary.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout *lines
	stderr *lines
	exited chan struct{} // closed once the process has been reaped
}

// result is how a process ended.
type result struct {
	Exited   bool // it called exit: Code holds the status
	Code     int
	Signaled bool
	Signal   syscall.Signal
	Stdout   []string
	Stderr   []string
}

func (r result) String() string {
	switch {
	case r.Exited:
		return fmt.Sprintf("exit status %d", r.Code)
	case r.Signaled:
		return "signal: " + r.Signal.String()
	}
	return "not ended"
}

// start runs bin with args in a process group of its own, with
// GORACE=atexit_sleep_ms=0 so that the race detector does not sleep a
// second before the exit. When the test ends the whole group is killed
// and reaped; if the test failed, both outputs are logged.
func start(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, stdout: newLines(), stderr: newLines(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go p.stdout.read(outR)
	go p.stderr.read(errR)
	go func() {
		// Wait closes the pipes: read them to their end first.
		<-p.stdout.done
		<-p.stderr.done
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH once it has ended
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("process %d not reaped 10s after SIGKILL", cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("output of pid %d:\nstdout:\n\t%s\nstderr:\n\t%s", cmd.Process.Pid,
				strings.Join(p.stdout.snapshot(), "\n\t"), strings.Join(p.stderr.snapshot(), "\n\t"))
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// waitLine waits for a stdout line containing substr and returns it.
func (p *proc) waitLine(substr string, timeout time.Duration) (string, error) {
	return p.stdout.wait(substr, timeout)
}

func (p *proc) mustWaitLine(substr string, timeout time.Duration) string {
	p.t.Helper()
	l, err := p.waitLine(substr, timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return l
}

// wait waits for the process to end and its output to close, and decodes
// its wait status.
func (p *proc) wait(timeout time.Duration) (result, error) {
	select {
	case <-p.exited:
	case <-time.After(timeout):
		return result{}, fmt.Errorf("process %d still running after %v", p.cmd.Process.Pid, timeout)
	}
	r := result{Code: -1, Stdout: p.stdout.snapshot(), Stderr: p.stderr.snapshot()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			r.Exited, r.Code = true, ws.ExitStatus()
		case ws.Signaled():
			r.Signaled, r.Signal = true, ws.Signal()
		}
	}
	return r, nil
}

func (p *proc) mustWait(timeout time.Duration) result {
	p.t.Helper()
	r, err := p.wait(timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// lines is one output stream, read as it arrives.
type lines struct {
	mu      sync.Mutex
	text    []string
	changed chan struct{} // closed and replaced on every line
	done    chan struct{} // closed at the end of the stream
}

func newLines() *lines { return &lines{changed: make(chan struct{}), done: make(chan struct{})} }

func (l *lines) read(r io.Reader) {
	defer close(l.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.text = append(l.text, sc.Text())
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
}

func (l *lines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.text)
}

func (l *lines) wait(substr string, timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for next := 0; ; {
		l.mu.Lock()
		for ; next < len(l.text); next++ {
			if strings.Contains(l.text[next], substr) {
				defer l.mu.Unlock()
				return l.text[next], nil
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-l.done:
			l.mu.Lock()
			n := len(l.text)
			l.mu.Unlock()
			if next == n {
				return "", fmt.Errorf("output closed without a line containing %q", substr)
			}
		case <-timer.C:
			return "", fmt.Errorf("no line containing %q within %v", substr, timeout)
		}
	}
}
