// Command procbench runs the whole-process scenarios. It builds each
// program once (plain go build, no -race), then, for each scenario and run,
// starts it in a process group of its own, waits for its "ready" line,
// sends SIGTERM (and a second one where the scenario says so), and records
// the time from exec to the ready line, the time from the first signal to
// the process's end, the CPU time the process used, its exit status and its
// peak RSS (getrusage's maxrss). The programs of a scenario take turns, one
// run each (round robin, the first of each round rotating), so that a
// change in the machine's load weighs on all of them alike.
//
// In the HTTP scenario the program is a server: 32 clients, each on a
// keep-alive connection of its own, send one request whose handler takes
// 200 ms; once the server reports all 32 in flight, SIGTERM; the clients
// send nothing after it. A request counts as failed unless it got a full
// 200 response. A run in which one request ended before the last reached
// the handler (a busy machine) never had all 32 in flight: it is made
// again, up to three times in all.
//
// Besides the libraries, some programs are floors: the hand-written program
// doing one more thing that lastcall's contract requires (see cmd/hand;
// hand+linked is the plain hand-written path in the binary of
// hand+contract, which links log/slog). The binary sizes of lastcall's,
// hand's and hand+contract's programs, of the HTTP servers of lastcall and
// hand, and of the two minimal programs in cmd/minimal are printed too.
//
// -engine NAME=DIR adds lastcall's programs built from another checkout of
// the repository (a copy with a change to package shutdown, say) as
// lastcall@NAME, run in the same rounds as the others; -libs restricts the
// programs run:
//
//	go run ./cmd/procbench -run sigterm/hooks=5 -engine try=/tmp/copy -libs lastcall,lastcall@try,hand
//
// It prints one line per scenario and program in the Go benchmark format,
// for cmd/report and benchstat:
//
//	BenchmarkSize/minimal/lib=lastcall 1 3313387 bytes
//	BenchmarkProc/sigterm/hooks=5/lib=lastcall 41 612345 ns/op 0.91 ms-p90 1.23 ms-ready 1.5 ms-ready-p90 0.8 ms-cpu 3320 ready-RSS-KiB 3560 peak-RSS-KiB 0 exit-status 0 killed
//	BenchmarkProc/driver 1 13384 peak-RSS-KiB
//
// ns/op is the median time from the first signal to the end, ms-p90 its
// 90th percentile; ms-ready the median time from exec to the ready line;
// ms-cpu the median user+system time of the whole process; ready-RSS-KiB
// the median VmHWM just before the signal, peak-RSS-KiB the median
// getrusage maxrss (see hwm); exit-status the status of the last run
// (128+signo when a signal ended the process, with killed 1). The HTTP
// scenario adds failed (requests that failed, over all runs) and
// ms-last-response (median, from the signal to the last response read by a
// client). The last line is the driver's own peak RSS, below which maxrss
// says nothing. Run it from the bench module's directory.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A program is one binary and the arguments that make it a library's
// side (or a floor) of every scenario.
type program struct {
	dir  string   // the bench module to build in ("": this one)
	pkg  string   // the package to build
	tags string   // build tags
	args []string // before the scenario's own
}

var programs = map[string]program{
	"lastcall": {pkg: "./cmd/lastcall"},
	"hand":     {pkg: "./cmd/hand"},
	"fx":       {pkg: "./cmd/fx"},
	"oklog":    {pkg: "./cmd/oklog"},
	// Floors: the hand-written program doing one more thing (cmd/hand).
	"hand+stdio":         {pkg: "./cmd/hand", args: []string{"-stdio"}},
	"hand+deadline":      {pkg: "./cmd/hand", args: []string{"-deadline"}},
	"hand+deadline+warm": {pkg: "./cmd/hand", args: []string{"-deadline", "-warm"}},
	"hand+linked":        {pkg: "./cmd/hand", tags: "contract"}, // hand's path, contract's binary
	"hand+report":        {pkg: "./cmd/hand", args: []string{"-report"}},
	"hand+contract":      {pkg: "./cmd/hand", tags: "contract", args: []string{"-contract"}},
	// HTTP servers.
	"http/lastcall": {pkg: "./cmd/httpd/lastcall"},
	"http/hand":     {pkg: "./cmd/httpd/hand"},
	"http/fx":       {pkg: "./cmd/httpd/fx"},
	"http/oklog":    {pkg: "./cmd/httpd/oklog"},
	// Binary size only.
	"minimal/lastcall": {pkg: "./cmd/minimal/lastcall"},
	"minimal/hand":     {pkg: "./cmd/minimal/hand"},
}

type scenario struct {
	name   string
	args   []string
	second time.Duration // >0: a second SIGTERM this long after the first
	http   bool          // drive the program as an HTTP server
	libs   []string
	runs   int
}

const (
	httpClients = 32
	httpWork    = 200 * time.Millisecond
)

func main() {
	runs := flag.Int("n", 201, "runs of each quick scenario")
	bigRuns := flag.Int("n-big", 15, "runs of the scenario of 100,000 hooks (fx takes 2 s to start)")
	slowRuns := flag.Int("n-slow", 3, "runs of the second-signal scenario (fx takes 10 s a run)")
	httpRuns := flag.Int("n-http", 25, "runs of the HTTP drain scenario")
	only := flag.String("run", "", "run only scenarios whose name contains this")
	onlyLibs := flag.String("libs", "", "comma-separated: run only these programs (lastcall@NAME for an -engine)")
	var engines []string
	flag.Func("engine", "NAME=DIR: also run lastcall's programs built from the checkout at DIR (its bench module), as lastcall@NAME; repeatable", func(v string) error {
		name, dir, ok := strings.Cut(v, "=")
		if !ok || name == "" || dir == "" {
			return fmt.Errorf("want NAME=DIR")
		}
		abs, err := filepath.Abs(filepath.Join(dir, "bench"))
		if err != nil {
			return err
		}
		programs["lastcall@"+name] = program{dir: abs, pkg: "./cmd/lastcall"}
		programs["http/lastcall@"+name] = program{dir: abs, pkg: "./cmd/httpd/lastcall"}
		programs["minimal/lastcall@"+name] = program{dir: abs, pkg: "./cmd/minimal/lastcall"}
		engines = append(engines, name)
		return nil
	})
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("procbench: ")

	mine := []string{"lastcall"} // and the engines to compare it with
	for _, e := range engines {
		mine = append(mine, "lastcall@"+e)
	}
	libs := append(slices.Clone(mine), "hand", "fx", "oklog")
	floors := []string{"hand+stdio", "hand+deadline", "hand+deadline+warm", "hand+linked", "hand+contract"}
	prefix := func(p string, libs []string) []string {
		var out []string
		for _, l := range libs {
			out = append(out, p+l)
		}
		return out
	}
	scenarios := []scenario{
		{name: "sigterm/hooks=5", args: []string{"-hooks", "5"}, libs: append(slices.Clone(libs), floors...), runs: *runs},
		{name: "sigterm/hooks=0", args: []string{"-hooks", "0"}, libs: append(slices.Clone(libs), floors...), runs: *runs},
		{name: "http-drain/clients=32/work=200ms", http: true, libs: prefix("http/", libs), runs: *httpRuns},
		{name: "sigterm/hooks=100000", args: []string{"-hooks", "100000"},
			libs: append(slices.Clone(libs), "hand+report", "hand+contract"), runs: *bigRuns},
		{name: "second-sigterm/hook=10s", args: []string{"-sleep", "10s"}, second: 200 * time.Millisecond,
			libs: libs, runs: *slowRuns},
	}

	dir, err := os.MkdirTemp("", "procbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bins := buildAll(dir)

	sized := append(prefix("minimal/", mine), "minimal/hand", "lastcall", "hand", "hand+contract", "http/lastcall", "http/hand")
	for _, lib := range sized {
		fi, err := os.Stat(bins[lib])
		if err != nil {
			log.Fatal(err)
		}
		name := strings.Replace(lib, "/", "/lib=", 1)
		if !strings.Contains(name, "lib=") {
			name = "bench/lib=" + name
		}
		fmt.Printf("BenchmarkSize/%s 1 %d bytes\n", name, fi.Size())
	}

	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		if *onlyLibs != "" {
			keep := strings.Split(*onlyLibs, ",")
			sc.libs = slices.DeleteFunc(sc.libs, func(l string) bool {
				return !slices.Contains(keep, strings.TrimPrefix(l, "http/"))
			})
			if len(sc.libs) == 0 {
				continue
			}
		}
		res := make([][]outcome, len(sc.libs))
		for run := range sc.runs {
			for i := range sc.libs {
				k := (i + run) % len(sc.libs) // rotate who goes first
				lib := sc.libs[k]
				args := append(slices.Clone(programs[lib].args), sc.args...)
				var o outcome
				var err error
				if sc.http {
					o, err = onceHTTP(bins[lib], args)
					for try := 2; errors.Is(err, errNotAllInFlight) && try <= 3; try++ {
						log.Printf("%s %s: %v; run again (try %d of 3)", sc.name, lib, err, try)
						o, err = onceHTTP(bins[lib], args)
					}
				} else {
					o, err = once(bins[lib], args, sc.second)
				}
				if err != nil {
					log.Fatalf("%s %s: %v", sc.name, lib, err)
				}
				res[k] = append(res[k], o)
			}
		}
		for k, lib := range sc.libs {
			report(sc, lib, res[k])
		}
	}
	fmt.Printf("BenchmarkProc/driver 1 %d peak-RSS-KiB\n", hwm(os.Getpid()))
}

// buildAll builds every program once, each (package, tags) pair once.
func buildAll(dir string) map[string]string {
	bins := map[string]string{}
	built := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(programs)) {
		p := programs[name]
		key := p.dir + " " + p.pkg + " " + p.tags
		if bin, ok := built[key]; ok {
			bins[name] = bin
			continue
		}
		bin := filepath.Join(dir, strings.NewReplacer("/", "_", "+", "_", "@", "_").Replace(name))
		args := []string{"build", "-o", bin}
		if p.dir != "" {
			args = []string{"-C", p.dir, "build", "-o", bin}
		}
		if p.tags != "" {
			args = append(args, "-tags", p.tags)
		}
		cmd := exec.Command("go", append(args, p.pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("go build %s: %v", p.pkg, err)
		}
		built[key], bins[name] = bin, bin
	}
	return bins
}

func report(sc scenario, lib string, runs []outcome) {
	col := func(f func(o outcome) time.Duration) []time.Duration {
		var xs []time.Duration
		for _, o := range runs {
			xs = append(xs, f(o))
		}
		return xs
	}
	exit := col(func(o outcome) time.Duration { return o.exit })
	ready := col(func(o outcome) time.Duration { return o.ready })
	cpu := col(func(o outcome) time.Duration { return o.cpu })
	var rss, rssReady []int64
	failed := 0
	for _, o := range runs {
		rss = append(rss, o.rssKiB)
		rssReady = append(rssReady, o.readyKiB)
		failed += o.failed
	}
	last := runs[len(runs)-1]
	killed := 0
	if last.killed {
		killed = 1
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }
	line := fmt.Sprintf("BenchmarkProc/%s/lib=%s %d %d ns/op %s ms-p90 %s ms-ready %s ms-ready-p90 %s ms-cpu %d ready-RSS-KiB %d peak-RSS-KiB %d exit-status %d killed",
		sc.name, strings.TrimPrefix(lib, "http/"), len(runs), median(exit).Nanoseconds(), ms(pct(exit, 0.9)),
		ms(median(ready)), ms(pct(ready, 0.9)), ms(median(cpu)), median(rssReady), median(rss), last.status, killed)
	if sc.http {
		lastResp := col(func(o outcome) time.Duration { return o.lastResponse })
		line += fmt.Sprintf(" %d failed %s ms-last-response", failed, ms(median(lastResp)))
	}
	fmt.Println(line)
	log.Printf("%-32s %-14s exit %8s ms (p90 %8s)  ready %7s ms  cpu %7s ms  status %d  RSS at ready %6d KiB, peak %6d KiB",
		sc.name, lib, ms(median(exit)), ms(pct(exit, 0.9)), ms(median(ready)), ms(median(cpu)), last.status, median(rssReady), median(rss))
}

type outcome struct {
	ready        time.Duration // from just before exec to the ready line
	exit         time.Duration // from the first signal to the end of the process
	cpu          time.Duration // user + system time of the process
	status       int           // exit code, or 128+signo
	killed       bool          // a signal ended the process
	rssKiB       int64         // getrusage's maxrss: see hwm
	readyKiB     int64         // VmHWM just before the signal: the program's own peak so far
	failed       int           // HTTP: requests without a full 200
	lastResponse time.Duration // HTTP: from the signal to the last response read
}

// proc is a started program whose ready line has been read.
type proc struct {
	cmd   *exec.Cmd
	ready time.Duration
	line  string // the ready line
}

// start starts bin and waits for a line starting with "ready".
func start(bin string, args []string) (*proc, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	// *os.File for stdout and stderr: no copying goroutine, so Wait returns
	// as soon as the process has been reaped.
	cmd.Stdout, cmd.Stderr = outW, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	err = cmd.Start()
	outW.Close()
	if err != nil {
		outR.Close()
		return nil, err
	}
	kill := time.AfterFunc(60*time.Second, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer kill.Stop()
	br := bufio.NewReader(outR)
	line, err := br.ReadString('\n')
	ready := time.Since(t0)
	if err != nil || !strings.HasPrefix(line, "ready") {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		outR.Close()
		return nil, fmt.Errorf("no ready line (got %q, %v)", line, err)
	}
	go func() { // drain: the program must never block on stdout
		io.Copy(io.Discard, br)
		outR.Close()
	}()
	return &proc{cmd: cmd, ready: ready, line: strings.TrimSpace(line)}, nil
}

// wait waits for the end of p (killing its group after 60 s) and fills
// in what the end tells.
func (p *proc) wait(o *outcome, sigAt time.Time) error {
	kill := time.AfterFunc(60*time.Second, func() { syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) })
	p.cmd.Wait()
	o.exit = time.Since(sigAt)
	if !kill.Stop() {
		return fmt.Errorf("still running 60s after SIGTERM")
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // whatever is left of the group
	st := p.cmd.ProcessState
	ws := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		o.status = ws.ExitStatus()
	case ws.Signaled():
		o.status, o.killed = 128+int(ws.Signal()), true
	}
	o.cpu = st.UserTime() + st.SystemTime()
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		o.rssKiB = ru.Maxrss // KiB on Linux
	}
	return nil
}

// once runs bin once: start, wait for "ready", SIGTERM (twice when second
// is set), wait for the end.
func once(bin string, args []string, second time.Duration) (outcome, error) {
	p, err := start(bin, args)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{ready: p.ready, readyKiB: hwm(p.cmd.Process.Pid)}
	sigAt := time.Now()
	err = p.cmd.Process.Signal(syscall.SIGTERM)
	if err == nil && second > 0 {
		time.Sleep(second - time.Since(sigAt))
		if err = p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			err = fmt.Errorf("second signal: %v (ended before it?)", err)
		}
	}
	if err != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Wait()
		return o, err
	}
	return o, p.wait(&o, sigAt)
}

// errNotAllInFlight is onceHTTP's error for a run in which the requests
// were never all in flight at once; such a run is made again.
var errNotAllInFlight = errors.New("not every request in flight at once")

// onceHTTP runs the HTTP drain once: start the server, open one keep-alive
// connection per client, send one 200 ms request on each, SIGTERM once the
// server has all of them in flight, and wait for the server's end and
// every client's response.
func onceHTTP(bin string, args []string) (outcome, error) {
	p, err := start(bin, args)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{ready: p.ready}
	waited := false
	defer func() {
		if !waited { // an error before the end: kill and reap
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			p.cmd.Wait()
		}
	}()
	addr, ok := strings.CutPrefix(p.line, "ready ")
	if !ok {
		return o, fmt.Errorf("ready line %q names no address", p.line)
	}
	base := "http://" + addr

	// One transport per client: a connection of its own, kept alive.
	clients := make([]*http.Client, httpClients)
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
	}
	defer func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()
	get := func(c *http.Client, url string) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var warm sync.WaitGroup
	var warmErr atomic.Value
	for _, c := range clients {
		warm.Go(func() {
			if err := get(c, base+"/work?ms=0"); err != nil {
				warmErr.Store(err)
			}
		})
	}
	warm.Wait()
	if err, _ := warmErr.Load().(error); err != nil {
		return o, fmt.Errorf("warm-up request: %v", err)
	}

	var sigAt atomic.Pointer[time.Time]
	var last atomic.Int64 // ns since the signal of the last response
	var failed atomic.Int32
	var early atomic.Int32 // requests ended before the signal
	var reqs sync.WaitGroup
	for _, c := range clients {
		reqs.Go(func() {
			err := get(c, fmt.Sprintf("%s/work?ms=%d", base, httpWork.Milliseconds()))
			t := sigAt.Load()
			if t == nil {
				early.Add(1)
			}
			if err != nil {
				failed.Add(1)
				return
			}
			if t != nil {
				d := int64(time.Since(*t))
				for l := last.Load(); d > l && !last.CompareAndSwap(l, d); l = last.Load() {
				}
			}
		})
	}

	// Wait until the server has every request in flight. The probe's
	// connection is closed after each answer, so that no idle connection
	// of the driver's is left for the drain to wait for. Once a request
	// has ended, all of them can no longer be in flight at once: on a busy
	// machine the last ones can reach the handler more than httpWork after
	// the first, and the run is then not the scenario's.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := inflight(probe, base)
		if err != nil {
			return o, fmt.Errorf("in-flight probe: %v", err)
		}
		if n == httpClients {
			break
		}
		if e := early.Load(); e > 0 {
			return o, fmt.Errorf("%w: %d of %d requests ended before the last one reached the handler", errNotAllInFlight, e, httpClients)
		}
		if time.Now().After(deadline) {
			return o, fmt.Errorf("%d of %d requests in flight after 10s", n, httpClients)
		}
		time.Sleep(200 * time.Microsecond)
	}

	o.readyKiB = hwm(p.cmd.Process.Pid)
	t := time.Now()
	sigAt.Store(&t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return o, err
	}
	err = p.wait(&o, t)
	waited = true
	reqs.Wait()
	o.failed = int(failed.Load())
	o.lastResponse = time.Duration(last.Load())
	return o, err
}

// inflight asks the server how many /work requests it is handling; c's
// Timeout bounds the question.
func inflight(c *http.Client, base string) (int, error) {
	resp, err := c.Get(base + "/inflight")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// hwm returns the VmHWM of a process, in KiB: the peak RSS of its own
// address space so far (0 if it cannot be read).
//
// getrusage's maxrss, read at the end, is the other figure, but it cannot
// be lower than the peak RSS of this driver: os/exec starts a program with
// vfork, and exec folds the peak of the address space it leaves (this
// process's) into the child's maxrss. The driver prints its own peak last,
// so that a reader knows below which figure maxrss says nothing.
func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func median[T int64 | time.Duration](xs []T) T { return pct(xs, 0.5) }

// pct returns the p-quantile of xs, nearest rank.
func pct[T int64 | time.Duration](xs []T, p float64) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
