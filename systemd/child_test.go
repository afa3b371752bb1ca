//go:build unix

package systemd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/systemd"
)

// childReport is what a child process found, printed by it as one JSON
// line on stdout.
type childReport struct {
	PID      int                 `json:"pid"`
	Err      string              `json:"err,omitempty"`
	Addrs    []string            `json:"addrs,omitempty"`     // Listeners, in order
	ByName   map[string][]string `json:"by_name,omitempty"`   // ListenersByName
	Files    []string            `json:"files,omitempty"`     // Files: names, in order
	CloExec  []bool              `json:"cloexec,omitempty"`   // Files: close-on-exec set on each
	Again    int                 `json:"again"`               // what a second Listeners call found
	AgainErr string              `json:"again_err,omitempty"` // and its error
	Env      []string            `json:"env,omitempty"`       // LISTEN_* left in the environment
	ChildEnv []string            `json:"child_env,omitempty"` // LISTEN_* a child process started afterwards sees
}

// runChild is the child's main: mode says which call it makes. In the
// "serve" modes it then accepts one connection on each listener and
// writes the listener's name on it.
func runChild(mode string) int {
	if mode == "env" {
		fmt.Println(strings.Join(listenEnv(), "\n"))
		return 0
	}
	if mode == "service" {
		return service()
	}
	rep := childReport{PID: os.Getpid()}
	var serve map[string][]net.Listener
	switch mode {
	case "listeners", "listeners-own-pidfdid":
		if mode == "listeners-own-pidfdid" {
			id, _ := systemd.SelfPIDFDID()
			os.Setenv("LISTEN_PIDFDID", strconv.FormatUint(id, 10))
		}
		ls, err := systemd.Listeners()
		rep.Err = errString(err)
		for _, l := range ls {
			rep.Addrs = append(rep.Addrs, l.Addr().String())
			l.Close()
		}
	case "by-name", "by-name-serve":
		m, err := systemd.ListenersByName()
		rep.Err = errString(err)
		if m != nil {
			rep.ByName = map[string][]string{}
		}
		for name, ls := range m {
			for _, l := range ls {
				rep.ByName[name] = append(rep.ByName[name], l.Addr().String())
			}
		}
		if mode == "by-name-serve" {
			serve = m
		} else {
			for _, ls := range m {
				for _, l := range ls {
					l.Close()
				}
			}
		}
	case "files":
		fs, err := systemd.Files()
		rep.Err = errString(err)
		for _, f := range fs {
			rep.Files = append(rep.Files, f.Name())
			flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_GETFD, 0)
			rep.CloExec = append(rep.CloExec, errno == 0 && flags&syscall.FD_CLOEXEC != 0)
			f.Close()
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		return 2
	}
	again, err := systemd.Listeners()
	rep.Again, rep.AgainErr = len(again), errString(err)
	rep.Env = listenEnv()
	rep.ChildEnv = childListenEnv()
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
	// Each listener answers one connection with its name, all at once:
	// the test connects in an order of its own.
	var wg sync.WaitGroup
	var failed atomic.Bool
	for name, ls := range serve {
		for _, l := range ls {
			wg.Go(func() {
				defer l.Close()
				c, err := l.Accept()
				if err != nil {
					fmt.Fprintln(os.Stderr, "accept:", err)
					failed.Store(true)
					return
				}
				fmt.Fprintln(c, name)
				c.Close()
			})
		}
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// listenEnv returns this process's LISTEN_* variables, sorted.
func listenEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	return env
}

// childListenEnv starts this binary as a child (mode "env") the way a
// program starts one, with its environment, and returns the LISTEN_*
// variables the child sees.
func childListenEnv() []string {
	bin, err := os.Executable()
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), childEnv+"=env")
	out, err := cmd.Output()
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return strings.Fields(string(out))
}

// activation is how a test passes descriptors to a child.
type activation struct {
	files []*os.File        // descriptors 3, 4, …
	env   map[string]string // LISTEN_FDS, LISTEN_FDNAMES, …
	// ownPID sets LISTEN_PID to the child's PID, which is only known
	// once it runs: a shell exports its own $$ and execs the child, which
	// keeps the PID.
	ownPID bool
}

// runActivated runs the test binary as a child in mode with a's
// descriptors and variables, and returns its report.
func runActivated(t *testing.T, mode string, a activation) childReport {
	t.Helper()
	bin, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if a.ownPID {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0"`, bin)
	} else {
		cmd = exec.CommandContext(ctx, bin)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "GORACE=atexit_sleep_ms=0")
	for k, v := range a.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.ExtraFiles = a.files
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "child: %s", stderr.String())
	return parseReport(t, string(out))
}

// parseReport reads the child's JSON line from its output.
func parseReport(t *testing.T, out string) childReport {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "{") {
			var rep childReport
			require.NoError(t, json.Unmarshal([]byte(line), &rep), "child said: %s", line)
			return rep
		}
	}
	require.FailNow(t, "no report from the child", "output: %q", out)
	return childReport{}
}

// service is a small socket-activated service watched by Watch: it
// answers "hello" on its listener until SIGTERM, and tells systemd it is
// ready, then how its shutdown goes.
func service() int {
	c := shutdown.New(shutdown.WithTimeout(30 * time.Second))
	systemd.Watch(c)
	ls, err := systemd.Listeners()
	if err != nil || len(ls) != 1 {
		fmt.Fprintln(os.Stderr, "listeners:", len(ls), err)
		return 2
	}
	l := ls[0]
	c.Go("serve", func(ctx context.Context) error {
		go func() { <-ctx.Done(); l.Close() }()
		for {
			conn, err := l.Accept()
			if err != nil {
				return nil // closed at the trigger
			}
			fmt.Fprintln(conn, "hello")
			conn.Close()
		}
	})
	c.Register("flush", func(context.Context) error { return nil })
	if err := systemd.Notify("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid())); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		return 2
	}
	fmt.Println("ready")
	return c.Wait().ExitCode()
}
