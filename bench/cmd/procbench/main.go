// Command procbench runs the whole-process scenarios: for each library it
// builds the small program in cmd/<lib> once (go build, no -race), then,
// for each scenario and run, starts it in a process group of its own,
// waits for its "ready" line, sends SIGTERM (and a second one where the
// scenario says so), and records the time from the first signal to the
// process's end, its exit status and its peak RSS (getrusage's maxrss).
//
// Besides the four libraries, some rows are floors: the hand-written
// program doing one more thing that lastcall does (hand+report: time each
// hook and keep a 64-byte result; hand+stdio: catch SIGPIPE from the
// signal on; hand+nethttp: linked with net/http, as every program using
// lastcall is).
//
// It prints one line per scenario and library in the Go benchmark format,
// for cmd/report and benchstat:
//
//	BenchmarkProc/sigterm/hooks=0/lib=lastcall 15 812345 ns/op 0.91 ms-p90 6912 peak-RSS-KiB 0 exit-status 0 killed
//
// ns/op is the median time from the first signal to the end, ms-p90 its
// 90th percentile, peak-RSS-KiB the median peak RSS; exit-status is the
// status of the last run (128+signo when a signal ended the process, with
// killed 1). Run it from the bench module's directory.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type scenario struct {
	name   string
	args   []string
	second time.Duration // >0: a second SIGTERM this long after the first
	libs   []string
	runs   int
}

func main() {
	runs := flag.Int("n", 15, "runs of each quick scenario")
	slowRuns := flag.Int("n-slow", 3, "runs of the second-signal scenario (fx takes 10 s a run)")
	only := flag.String("run", "", "run only scenarios whose name contains this")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("procbench: ")

	libs := []string{"lastcall", "hand", "fx", "oklog"}
	scenarios := []scenario{
		{name: "sigterm/hooks=0", args: []string{"-hooks", "0"},
			libs: append(slices.Clone(libs), "hand+nethttp", "hand+stdio"), runs: *runs},
		{name: "sigterm/hooks=100000", args: []string{"-hooks", "100000"},
			libs: append(slices.Clone(libs), "hand+report"), runs: *runs},
		{name: "second-sigterm/hook=10s", args: []string{"-sleep", "10s"}, second: 200 * time.Millisecond,
			libs: libs, runs: *slowRuns},
	}

	dir, err := os.MkdirTemp("", "procbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bins := map[string]string{}
	build := func(name, pkg string, args ...string) {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("go build %s: %v", pkg, err)
		}
		bins[name] = bin
	}
	for _, lib := range libs {
		build(lib, "./cmd/"+lib)
	}
	// The hand-written program linked with net/http, as lastcall's is.
	build("hand+nethttp", "./cmd/hand", "-tags", "nethttp")

	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		// Round robin over the libraries, so that a change in the
		// machine's load during the scenario weighs on each of them alike.
		exits := make([][]time.Duration, len(sc.libs))
		rss := make([][]int64, len(sc.libs))
		last := make([]outcome, len(sc.libs))
		for range sc.runs {
			for k, lib := range sc.libs {
				bin, args := bins[lib], sc.args
				if base, flag, ok := strings.Cut(lib, "+"); ok && bin == "" {
					// A floor: the hand-written program doing one more thing.
					bin, args = bins[base], append(slices.Clone(args), "-"+flag)
				}
				o, err := once(bin, args, sc.second)
				if err != nil {
					log.Fatalf("%s %s: %v", sc.name, lib, err)
				}
				exits[k], rss[k], last[k] = append(exits[k], o.exit), append(rss[k], o.rssKiB), o
			}
		}
		for k, lib := range sc.libs {
			killed := 0
			if last[k].killed {
				killed = 1
			}
			fmt.Printf("BenchmarkProc/%s/lib=%s %d %d ns/op %.3f ms-p90 %d peak-RSS-KiB %d exit-status %d killed\n",
				sc.name, lib, sc.runs, median(exits[k]).Nanoseconds(), float64(pct(exits[k], 0.9))/1e6,
				median(rss[k]), last[k].status, killed)
			log.Printf("%-26s %-12s exit %8.3f ms (p90 %8.3f)  status %d  peak RSS %6d KiB",
				sc.name, lib, float64(median(exits[k]))/1e6, float64(pct(exits[k], 0.9))/1e6, last[k].status, median(rss[k]))
		}
	}
}

type outcome struct {
	exit   time.Duration // from the first signal to the end of the process
	status int           // exit code, or 128+signo
	killed bool          // a signal ended the process
	rssKiB int64
}

// once runs bin once: start, wait for "ready", SIGTERM, wait for the end.
func once(bin string, args []string, second time.Duration) (outcome, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return outcome{}, err
	}
	defer outR.Close()
	cmd := exec.Command(bin, args...)
	// *os.File for stdout and stderr: no copying goroutine, so Wait returns
	// as soon as the process has been reaped.
	cmd.Stdout, cmd.Stderr = outW, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		return outcome{}, err
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever is left of the group

	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- nil
				for sc.Scan() { // drain: the program must never block on stdout
				}
				return
			}
		}
		ready <- fmt.Errorf("stdout closed without a ready line")
	}()
	select {
	case err := <-ready:
		if err != nil {
			return outcome{}, err
		}
	case <-time.After(60 * time.Second):
		return outcome{}, fmt.Errorf("no ready line within 60s")
	}

	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return outcome{}, err
	}
	go func() { exited <- cmd.Wait() }()
	if second > 0 {
		select {
		case <-exited:
			return outcome{}, fmt.Errorf("ended before the second signal")
		case <-time.After(second - time.Since(start)):
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return outcome{}, err
		}
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		return outcome{}, fmt.Errorf("still running 60s after SIGTERM")
	}
	o := outcome{exit: time.Since(start)}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		o.status = ws.ExitStatus()
	case ws.Signaled():
		o.status, o.killed = 128+int(ws.Signal()), true
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		o.rssKiB = ru.Maxrss // KiB on Linux
	}
	return o, nil
}

func median[T int64 | time.Duration](xs []T) T { return pct(xs, 0.5) }

// pct returns the p-quantile of xs, nearest rank.
func pct[T int64 | time.Duration](xs []T, p float64) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
