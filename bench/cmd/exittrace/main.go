// Command exittrace reads the output of perf script (tracepoints
// signal:signal_generate, signal:signal_deliver, sched:sched_switch,
// sched:sched_wakeup, sched:sched_wakeup_new, raw_syscalls:sys_enter,
// sched:sched_process_exit, recorded by bench/trace.sh with perf record
// around the shell that runs and signals the programs, not system-wide)
// and tells, for each process that received a SIGTERM, where the time from
// the signal to its end went:
//
//   - signal to handler: from the kill to the Go signal handler running;
//   - handler to exit_group: the program's own work after the signal
//     (goroutines waking each other, syscalls, the hooks);
//   - exit_group to end: the kernel tearing the process down, until its
//     last thread has exited;
//
// with, for the program's part, the syscalls made, the wakeups of its
// threads, how long woken threads waited for a CPU, how long its threads
// ran, and the threads created after the signal. Figures are medians over
// the runs of each program (the comm, the name of its binary). With -v it
// prints the timeline of the last run of each program.
//
//	perf script -F comm,pid,tid,cpu,time,event,trace -i perf.data | go run ./cmd/exittrace
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// syscalls names the x86-64 system calls a Go program makes around its end.
var syscalls = map[int]string{
	0: "read", 1: "write", 3: "close", 9: "mmap", 10: "mprotect", 11: "munmap", 13: "rt_sigaction",
	14: "rt_sigprocmask", 15: "rt_sigreturn", 24: "sched_yield", 28: "madvise", 35: "nanosleep",
	39: "getpid", 56: "clone", 60: "exit", 131: "sigaltstack", 186: "gettid", 200: "tkill",
	202: "futex", 228: "clock_gettime", 230: "clock_nanosleep", 231: "exit_group", 232: "epoll_wait",
	233: "epoll_ctl", 234: "tgkill", 281: "epoll_pwait", 290: "eventfd2", 291: "epoll_create1",
	293: "pipe2", 302: "prlimit64", 318: "getrandom", 435: "clone3",
}

type event struct {
	comm     string
	pid, tid int
	t        time.Duration // since boot
	name     string        // the tracepoint, without its group
	args     string
}

var lineRE = regexp.MustCompile(`^\s*(.+?)\s+(\d+)/(\d+)\s+\[\d+\]\s+(\d+)\.(\d+):\s+(\S+):\s*(.*)$`)

func parseLine(s string) (event, bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return event{}, false
	}
	pid, _ := strconv.Atoi(m[2])
	tid, _ := strconv.Atoi(m[3])
	sec, _ := strconv.ParseInt(m[4], 10, 64)
	frac := m[5]
	for len(frac) < 9 {
		frac += "0"
	}
	ns, _ := strconv.ParseInt(frac[:9], 10, 64)
	_, name, _ := strings.Cut(m[6], ":")
	return event{comm: m[1], pid: pid, tid: tid, t: time.Duration(sec)*time.Second + time.Duration(ns), name: name, args: m[7]}, true
}

// field returns the value of key=value in args.
func field(args, key string) string {
	for f := range strings.FieldsSeq(args) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// A run is one process from its SIGTERM to its end.
type run struct {
	prog       string
	pid        int
	sig        time.Duration
	deliver    time.Duration
	exitGroup  time.Duration
	end        time.Duration
	threads    map[int]bool
	live       int            // threads not yet exited
	syscalls   map[string]int // between the signal and exit_group
	wakeups    int
	waitCPU    time.Duration // woken threads waiting for a CPU
	onCPU      time.Duration // its threads running
	running    map[int]time.Duration
	woken      map[int]time.Duration
	newThreads int
	timeline   []string
	done       bool
}

func main() {
	verbose := flag.Bool("v", false, "print the timeline of the last run of each program")
	flag.Parse()
	log.SetFlags(0)
	runs := parse(os.Stdin)
	byProg := map[string][]*run{}
	var progs []string
	for _, r := range runs {
		if r.exitGroup == 0 || r.end == 0 {
			continue
		}
		if byProg[r.prog] == nil {
			progs = append(progs, r.prog)
		}
		byProg[r.prog] = append(byProg[r.prog], r)
	}
	fmt.Printf("| program | runs | signal to end (µs) | signal to handler | handler to exit_group | exit_group to end | on CPU before exit_group | waiting for a CPU | wakeups | syscalls | threads created | threads at the end |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, p := range progs {
		rs := byProg[p]
		med := func(f func(r *run) time.Duration) string {
			var xs []time.Duration
			for _, r := range rs {
				xs = append(xs, f(r))
			}
			slices.Sort(xs)
			return strconv.FormatFloat(float64(xs[len(xs)/2])/1e3, 'f', 0, 64)
		}
		medN := func(f func(r *run) int) string {
			var xs []int
			for _, r := range rs {
				xs = append(xs, f(r))
			}
			slices.Sort(xs)
			return strconv.Itoa(xs[len(xs)/2])
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p, len(rs),
			med(func(r *run) time.Duration { return r.end - r.sig }),
			med(func(r *run) time.Duration { return r.deliver - r.sig }),
			med(func(r *run) time.Duration { return r.exitGroup - r.deliver }),
			med(func(r *run) time.Duration { return r.end - r.exitGroup }),
			med(func(r *run) time.Duration { return r.onCPU }),
			med(func(r *run) time.Duration { return r.waitCPU }),
			medN(func(r *run) int { return r.wakeups }),
			medN(func(r *run) int {
				n := 0
				for _, c := range r.syscalls {
					n += c
				}
				return n
			}),
			medN(func(r *run) int { return r.newThreads }),
			medN(func(r *run) int { return len(r.threads) }))
	}
	fmt.Println()
	for _, p := range progs {
		rs := byProg[p]
		// The syscalls of the median run (by the time to exit_group).
		s := slices.Clone(rs)
		slices.SortFunc(s, func(a, b *run) int { return int((a.exitGroup - a.sig) - (b.exitGroup - b.sig)) })
		r := s[len(s)/2]
		var names []string
		for n := range r.syscalls {
			names = append(names, n)
		}
		slices.Sort(names)
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s %d", n, r.syscalls[n]))
		}
		fmt.Printf("- %s, syscalls between the signal and exit_group (median run): %s\n", p, strings.Join(parts, ", "))
	}
	if *verbose {
		for _, p := range progs {
			rs := byProg[p]
			fmt.Printf("\n#### %s, pid %d\n\n```\n%s```\n", p, rs[len(rs)-1].pid, strings.Join(rs[len(rs)-1].timeline, ""))
		}
	}
}

func parse(in io.Reader) []*run {
	var runs []*run
	byPid := map[int]*run{} // process being watched, by tgid
	byTid := map[int]*run{} // its threads
	tgid := map[int]int{}   // every live thread seen, to its process
	watch := func(r *run, tid int) {
		r.threads[tid] = true
		r.live++
		byTid[tid] = r
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		e, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		tgid[e.tid] = e.pid
		switch e.name {
		case "sched_wakeup_new":
			if tid, _ := strconv.Atoi(field(e.args, "pid")); tgid[tid] == 0 {
				tgid[tid] = e.pid // a thread, until it shows otherwise
			}
		}
		if e.name == "signal_generate" && field(e.args, "sig") == "15" {
			pid, _ := strconv.Atoi(field(e.args, "pid"))
			if r := byPid[pid]; r != nil && !r.done {
				continue // a second signal
			}
			r := &run{prog: field(e.args, "comm"), pid: pid, sig: e.t, threads: map[int]bool{},
				syscalls: map[string]int{}, running: map[int]time.Duration{}, woken: map[int]time.Duration{}}
			byPid[pid] = r
			runs = append(runs, r)
			for tid, p := range tgid {
				if p == pid {
					watch(r, tid)
				}
			}
			r.note(e, "SIGTERM sent by %s", e.comm)
			continue
		}
		// Threads of a watched process, from their own events.
		if r := byPid[e.pid]; r != nil && !r.done && !r.threads[e.tid] {
			watch(r, e.tid)
		}
		switch e.name {
		case "sched_switch":
			prev, _ := strconv.Atoi(field(e.args, "prev_pid"))
			next, _ := strconv.Atoi(field(e.args, "next_pid"))
			if r := byTid[prev]; r != nil && !r.done {
				if t0, ok := r.running[prev]; ok && r.exitGroup == 0 {
					r.onCPU += e.t - t0
				}
				delete(r.running, prev)
				r.note(e, "thread %d off CPU (%s)", prev, field(e.args, "prev_state"))
			}
			if r := byTid[next]; r != nil && !r.done {
				r.running[next] = e.t
				if w, ok := r.woken[next]; ok {
					if r.exitGroup == 0 {
						r.waitCPU += e.t - w
					}
					delete(r.woken, next)
					r.note(e, "thread %d on CPU, %.0f µs after its wakeup", next, float64(e.t-w)/1e3)
				} else {
					r.note(e, "thread %d on CPU", next)
				}
			}
		case "sched_wakeup", "sched_wakeup_new":
			tid, _ := strconv.Atoi(field(e.args, "pid"))
			r := byTid[tid]
			if r == nil && e.name == "sched_wakeup_new" {
				r = byPid[e.pid] // a thread the process just created
				if r != nil && !r.done {
					watch(r, tid)
					if r.exitGroup == 0 {
						r.newThreads++
					}
				}
			}
			if r != nil && !r.done {
				r.woken[tid] = e.t
				if r.exitGroup == 0 {
					r.wakeups++
				}
				r.note(e, "thread %d woken by %s %d/%d", tid, e.comm, e.pid, e.tid)
			}
		case "signal_deliver":
			if r := byTid[e.tid]; r != nil && !r.done && r.deliver == 0 && field(e.args, "sig") == "15" {
				r.deliver = e.t
				r.note(e, "SIGTERM delivered to thread %d", e.tid)
			}
		case "sys_enter":
			if r := byTid[e.tid]; r != nil && !r.done && r.deliver != 0 && r.exitGroup == 0 {
				nr, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(e.args, "NR "))[0])
				name := syscalls[nr]
				if name == "" {
					name = "syscall " + strconv.Itoa(nr)
				}
				r.syscalls[name]++
				if name == "exit_group" {
					r.exitGroup = e.t
				}
				r.note(e, "thread %d: %s", e.tid, name)
			}
		case "sched_process_exit":
			tid, _ := strconv.Atoi(field(e.args, "pid"))
			if r := byTid[tid]; r != nil && !r.done {
				r.live--
				r.note(e, "thread %d exited", tid)
				if r.live == 0 {
					r.end, r.done = e.t, true
				}
			}
			delete(tgid, tid)
		}
	}
	return runs
}

func (r *run) note(e event, format string, args ...any) {
	r.timeline = append(r.timeline, fmt.Sprintf("%8.1f µs  %s\n", float64(e.t-r.sig)/1e3, fmt.Sprintf(format, args...)))
}
