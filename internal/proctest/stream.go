//go:build unix

package proctest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartCmd is the start of [Start] for a test that follows the process
// itself (its children, its exit status) instead of through a [Proc]. It
// starts cmd in a new process group, with its environment (cmd.Env, or the
// test's when nil) plus GORACE=atexit_sleep_ms=0, and reads its stdout and
// stderr line by line into two Streams. It sets cmd.Stdout, cmd.Stderr
// and cmd.SysProcAttr; cmd.Stdin is /dev/null unless set.
//
// The caller waits for the process (cmd.Wait) and, once it has ended or
// been killed, closes both streams; a stream ends by itself once every
// process holding its pipe has ended.
func StartCmd(cmd *exec.Cmd) (stdout, stderr *Stream, err error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = withGORACE(cmd.Env)
	cmd.Stdout, cmd.Stderr = outW, errW
	// A process group of its own: the cleanup can kill the binary and
	// whatever it started with one kill(-pgid), and a signal sent to the
	// test's own group (Ctrl-C in a terminal) does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	spawning.RLock()
	err = cmd.Start()
	spawning.RUnlock()
	// The child holds its own copies of the write ends; closing ours lets
	// the readers see EOF when the child's are gone.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return newStream("stdout", outR, start), newStream("stderr", errR, start), nil
}

// A Stream is one output of a process, its stdout or its stderr, read line
// by line by a goroutine of its own as the lines arrive. It keeps every
// line with the time it arrived. Its methods are safe for concurrent use.
type Stream struct {
	name  string
	r     *os.File
	start time.Time
	done  chan struct{} // closed when the reader returns

	mu      sync.Mutex
	lines   []line
	ended   bool          // the reader has returned
	changed chan struct{} // closed (and replaced) on each new line and at the end
	closed  bool          // r has been closed
}

type line struct {
	text string
	at   time.Duration // since the start of the process
}

func newStream(name string, r *os.File, start time.Time) *Stream {
	s := &Stream{
		name:    name,
		r:       r,
		start:   start,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	go s.read()
	return s
}

func (s *Stream) read() {
	defer close(s.done)
	br := bufio.NewReader(s.r)
	for {
		text, err := br.ReadString('\n')
		if text != "" {
			s.add(strings.TrimSuffix(text, "\n"))
		}
		if err != nil {
			break
		}
	}
	s.mu.Lock()
	s.ended = true
	close(s.changed)
	s.mu.Unlock()
}

func (s *Stream) add(text string) {
	at := time.Since(s.start)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line{text, at})
	close(s.changed)
	s.changed = make(chan struct{})
}

// Mark returns the number of lines read so far: a cursor for Find,
// FindFunc and Lines that leaves those lines out.
func (s *Stream) Mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// Find waits up to timeout for a line, from the cursor from on, that
// contains every one of subs, and returns the first such line. It returns
// an error when timeout passes first or the stream ends without such a
// line.
func (s *Stream) Find(from int, timeout time.Duration, subs ...string) (string, error) {
	what := fmt.Sprintf("%q", subs)
	if len(subs) == 1 {
		what = fmt.Sprintf("%q", subs[0])
	}
	return s.FindFunc(from, timeout, what, func(l string) bool { return containsAll(l, subs) })
}

// FindFunc is Find for the first line that match accepts; what describes
// such a line in the error ("no stderr line containing WHAT").
func (s *Stream) FindFunc(from int, timeout time.Duration, what string, match func(string) bool) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for ; from < len(s.lines); from++ {
			if text := s.lines[from].text; match(text) {
				s.mu.Unlock()
				return text, nil
			}
		}
		ended, changed := s.ended, s.changed
		s.mu.Unlock()
		if ended {
			return "", fmt.Errorf("%s closed without a line containing %s", s.name, what)
		}
		select {
		case <-changed:
		case <-timer.C:
			return "", fmt.Errorf("no %s line containing %s within %v", s.name, what, timeout)
		}
	}
}

// Lines returns the lines read so far, from the cursor from on, that
// contain every one of subs: all of them when subs is empty.
func (s *Stream) Lines(from int, subs ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for _, l := range s.lines[min(from, len(s.lines)):] {
		if containsAll(l.text, subs) {
			out = append(out, l.text)
		}
	}
	return out
}

// Tail returns the last n lines read, one a line, each after its time
// since the start of the process.
func (s *Stream) Tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.lines[max(0, len(s.lines)-n):] {
		fmt.Fprintf(&b, "%8.3fs %s\n", l.at.Seconds(), l.text)
	}
	return b.String()
}

// Done returns a channel closed once the stream has ended: every process
// holding the pipe's write end has closed it, or Close was called.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Close closes the read end of the pipe, once: the stream ends, and the
// process's writes to the pipe fail from then on.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.r.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

func containsAll(l string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(l, sub) {
			return false
		}
	}
	return true
}
