//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

// A family is a server and the processes that took over from it by
// in-place upgrades: one process group, sharing one stdout and one
// stderr, which the test reads line by line. The test process is their
// subreaper (PR_SET_CHILD_SUBREAPER): a process whose parent has exited
// is handed to the test, which reaps it and decodes its exit status,
// however many upgrades down it is. proctest.Proc cannot follow them: it
// tracks one process, and its Wait waits for the output to close, which
// the next generation holds. The family starts the first process with
// proctest.StartCmd and reads the shared outputs as its Streams.
type family struct {
	t              *testing.T
	pgid           int
	stdout, stderr *proctest.Stream

	mu    sync.Mutex
	procs map[int]*member
}

// A member is one process of the family that the test reaps.
type member struct {
	pid   int
	ended chan struct{}   // closed once reaped
	end   proctest.Result // how it ended, without its outputs
	at    time.Time       // when it was reaped
}

var subreaper = sync.OnceValue(func() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
})

// startFamily starts bin with args in a new process group, with env added
// to the test's environment and extra as descriptors 3, 4, ….
func startFamily(t *testing.T, bin string, env []string, extra []*os.File, args ...string) *family {
	t.Helper()
	if err := subreaper(); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.ExtraFiles = extra
	stdout, stderr, err := proctest.StartCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	f := &family{
		t:      t,
		pgid:   cmd.Process.Pid,
		stdout: stdout,
		stderr: stderr,
		procs:  map[int]*member{},
	}
	first := &member{pid: cmd.Process.Pid, ended: make(chan struct{})}
	f.procs[first.pid] = first
	go func() {
		cmd.Wait()
		first.end = proctest.ResultOf(cmd.ProcessState.Sys().(syscall.WaitStatus))
		first.at = time.Now()
		close(first.ended)
	}()
	t.Cleanup(f.cleanup)
	return f
}

// first returns the process the test started.
func (f *family) first() int { return f.pgid }

// adopt starts following pid, a new process started by parent (itself
// followed): once parent has been reaped, pid is the test's child.
func (f *family) adopt(pid, parent int) *member {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.procs[pid]; ok {
		return m
	}
	p, ok := f.procs[parent]
	if !ok {
		f.t.Fatalf("adopt %d: parent %d not followed", pid, parent)
	}
	m := &member{pid: pid, ended: make(chan struct{})}
	f.procs[pid] = m
	go func() {
		<-p.ended
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		m.end, m.at = proctest.ResultOf(ws), time.Now()
		close(m.ended)
	}()
	return m
}

// member returns the followed process pid.
func (f *family) member(pid int) *member {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.procs[pid]
	if !ok {
		f.t.Fatalf("process %d not followed", pid)
	}
	return m
}

// wait waits up to d for m to end and returns how it ended.
func (m *member) wait(d time.Duration) (proctest.Result, error) {
	select {
	case <-m.ended:
		return m.end, nil
	case <-time.After(d):
		return proctest.Result{}, fmt.Errorf("process %d still running after %v", m.pid, d)
	}
}

// live returns the processes of the family's group that are running (not
// zombies), from /proc.
func (f *family) live() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		fields := strings.Fields(rest)
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		if pgrp, _ := strconv.Atoi(fields[2]); pgrp == f.pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (f *family) cleanup() {
	syscall.Kill(-f.pgid, syscall.SIGKILL)
	deadline := time.After(10 * time.Second)
	f.mu.Lock()
	procs := make([]*member, 0, len(f.procs))
	for _, m := range f.procs {
		procs = append(procs, m)
	}
	f.mu.Unlock()
	for _, m := range procs {
		select {
		case <-m.ended:
		case <-deadline:
			f.t.Errorf("process %d not reaped 10s after SIGKILL", m.pid)
		}
	}
	for _, s := range []*proctest.Stream{f.stdout, f.stderr} {
		select {
		case <-s.Done():
		case <-deadline:
		}
		s.Close()
	}
	if f.t.Failed() {
		f.t.Logf("output of the family (stderr last %d lines):\n%s", tail, f.stderr.Tail(tail))
	}
}

const tail = 60

// attr returns the value of key=value in a log record, "" if absent.
func attr(line, key string) string {
	m := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=("(?:[^"\\]|\\.)*"|\S*)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	if v, err := strconv.Unquote(m[1]); err == nil {
		return v
	}
	return m[1]
}

func attrInt(line, key string) int {
	n, _ := strconv.Atoi(attr(line, key))
	return n
}

// fdKinds counts the open descriptors of pid by kind: "tcp-listen",
// "unix" (a Unix socket), "conn" (any other socket: a TCP connection,
// possibly one the peer has closed and the kernel no longer lists),
// "pipe", "anon_inode:[eventpoll]", a file's path. The connections come
// and go with the load; the rest is what a leak would grow.
func fdKinds(pid int) (map[string]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	listening, unix := map[string]bool{}, map[string]bool{}
	for _, name := range []string{"tcp", "tcp6", "unix"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(l)
			switch {
			case name == "unix" && len(f) > 6:
				unix[f[6]] = true
			case name != "unix" && len(f) > 9 && f[3] == "0A": // TCP_LISTEN
				listening[f[9]] = true
			}
		}
	}
	kinds := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		kind := target
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			ino = strings.TrimSuffix(ino, "]")
			switch {
			case listening[ino]:
				kind = "tcp-listen"
			case unix[ino]:
				kind = "unix"
			default:
				kind = "conn"
			}
		} else if strings.HasPrefix(target, "pipe:[") {
			kind = "pipe"
		}
		kinds[kind]++
	}
	return kinds, nil
}

// steady returns the kinds without the connections.
func steady(kinds map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range kinds {
		if k != "conn" {
			out[k] = n
		}
	}
	return out
}

func total(kinds map[string]int) int {
	n := 0
	for _, c := range kinds {
		n += c
	}
	return n
}
