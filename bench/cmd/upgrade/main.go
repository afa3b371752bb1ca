// Command upgrade measures what in-place upgrades cost the clients of
// examples/httpserver: requests per second and latency percentiles under
// the same load, once while the server makes -n upgrades in a row
// (kill -USR2 to the process the PID file names, the next one once the
// old process has exited), once for as long with no upgrade. Nothing is
// in front of the server: every request that fails or is refused counts
// as an error.
//
// The load: -clients clients (half on keep-alive connections, half on a
// fresh connection per request) sending POST /work?ms=-ms back to back.
// The server is built once without -race. The program is a subreaper
// (Linux), so that it reaps every old process, however many upgrades
// down, and checks that each exited 0.
//
//	cd bench && go run ./cmd/upgrade -n 100
//
// It prints one table; the target is a p99 latency during upgrades no
// more than 1.5 times the steady one, and no error.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 100, "upgrades in the upgrade phase")
	clients := flag.Int("clients", 32, "clients, half of them on keep-alive connections")
	ms := flag.Int("ms", 10, "handler time of each request, in milliseconds")
	gap := flag.Duration("gap", 0, "pause between one upgrade's end and the next USR2")
	warm := flag.Duration("warm", 2*time.Second, "load before each phase's measurement starts")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("upgrade: ")
	if runtime.GOOS != "linux" {
		log.Fatal("Linux only (PR_SET_CHILD_SUBREAPER)")
	}
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		log.Fatalf("PR_SET_CHILD_SUBREAPER: %v", errno)
	}
	dir, err := os.MkdirTemp("", "upgrade-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "httpserver")
	if err := build(bin); err != nil {
		log.Fatal(err)
	}
	reaper := startReaper() // after the build: it reaps every child

	fmt.Printf("in-place upgrades of examples/httpserver under load: %d clients (%d keep-alive), POST /work?ms=%d, %d CPUs, %s\n",
		*clients, (*clients+1)/2, *ms, runtime.NumCPU(), runtime.Version())

	// The upgrade phase first: the steady phase then runs as long.
	up, err := phase(bin, dir, reaper, *clients, *ms, *warm, func(s *server) error {
		for i := range *n {
			if err := s.upgrade(); err != nil {
				return fmt.Errorf("upgrade %d: %w", i+1, err)
			}
			time.Sleep(*gap) // pacing between upgrades, not a synchronisation
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	steady, err := phase(bin, dir, reaper, *clients, *ms, *warm, func(*server) error {
		time.Sleep(up.elapsed) // the same load, as long, with no upgrade
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	fmt.Printf("%-9s %9s %9s %8s %8s %8s %8s %8s %8s %7s\n",
		"phase", "duration", "requests", "req/s", "p50", "p90", "p99", "p99.9", "max", "errors")
	for _, r := range []*result{steady, up} {
		fmt.Printf("%-9s %8.1fs %9d %8.0f %8s %8s %8s %8s %8s %7d\n", r.name, r.elapsed.Seconds(), len(r.lat),
			float64(len(r.lat))/r.elapsed.Seconds(), r.pct(50), r.pct(90), r.pct(99), r.pct(99.9), r.pct(100), r.errors)
	}
	fmt.Printf("upgrades: %d, every old process exited 0; USR2 to the old process's exit: mean %v, max %v\n",
		len(up.upgrades), mean(up.upgrades).Round(time.Millisecond), slices.Max(append(up.upgrades, 0)).Round(time.Millisecond))
	ratio := float64(up.pctDur(99)) / float64(steady.pctDur(99))
	verdict := "met"
	if ratio > 1.5 || up.errors > 0 || steady.errors > 0 {
		verdict = "NOT met"
	}
	fmt.Printf("p99 during upgrades / steady p99: %.2f; errors: %d; target (p99 ratio <= 1.5, 0 errors): %s\n",
		ratio, up.errors+steady.errors, verdict)
	for _, e := range append(steady.errs, up.errs...) {
		fmt.Println("  error:", e)
	}
}

// build compiles examples/httpserver from the library module, the parent
// of the bench module.
func build(bin string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	root := filepath.Dir(filepath.Dir(strings.TrimSpace(string(gomod))))
	cmd := exec.Command("go", "build", "-o", bin, "./examples/httpserver")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// result is one phase's measurement.
type result struct {
	name     string
	elapsed  time.Duration
	lat      []time.Duration // of the requests answered 200, sorted
	errors   int
	errs     []string
	upgrades []time.Duration // USR2 to the old process's exit
}

func (r *result) pctDur(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i]
}

func (r *result) pct(p float64) string {
	return r.pctDur(p).Round(10 * time.Microsecond).String()
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// phase starts a server, puts it under load, lets the load warm up, runs
// during, stops the load and the server, and returns what the clients
// measured from the end of the warm-up to the end of during.
func phase(bin, dir string, reaper *reaper, clients, ms int, warm time.Duration, during func(*server) error) (*result, error) {
	s, err := start(bin, dir, reaper)
	if err != nil {
		return nil, err
	}
	defer s.kill()
	l := startLoad(fmt.Sprintf("%s/work?ms=%d", s.base, ms), clients)
	time.Sleep(warm) // load pacing: connections made, caches warm
	l.measure()
	begin := time.Now()
	err = during(s)
	elapsed := time.Since(begin)
	r := l.stop()
	r.elapsed, r.upgrades = elapsed, s.upgrades
	r.name = "steady"
	if len(s.upgrades) > 0 {
		r.name = "upgrades"
	}
	if err != nil {
		return nil, err
	}
	if err := s.stop(); err != nil {
		return nil, err
	}
	return r, nil
}

// server is the running server and its output.
type server struct {
	reaper   *reaper
	pidfile  string
	base     string
	pgid     int
	serving  int
	stderr   *lines
	upgrades []time.Duration
}

func start(bin, dir string, reaper *reaper) (*server, error) {
	pidfile := filepath.Join(dir, "httpserver.pid")
	os.Remove(pidfile)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-pidfile", pidfile, "-drain-delay", "5s", "-timeout", "30s")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{reaper: reaper, pidfile: pidfile, pgid: cmd.Process.Pid, serving: cmd.Process.Pid, stderr: readLines(errR)}
	line, err := readLines(outR).wait(0, 20*time.Second, func(l string) bool { return strings.HasPrefix(l, "listening on ") })
	if err != nil {
		s.kill()
		return nil, err
	}
	s.base = "http://" + strings.TrimPrefix(line, "listening on ")
	return s, nil
}

// upgrade sends USR2 to the serving process, waits for its "upgrade:
// done" record and for its exit, and checks the exit status.
func (s *server) upgrade() error {
	old := s.serving
	from := s.stderr.mark()
	sent := time.Now()
	if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
		return err
	}
	me := fmt.Sprintf(" pid=%d ", old)
	rec, err := s.stderr.wait(from, 30*time.Second, func(l string) bool {
		return strings.Contains(l, me) && (strings.Contains(l, "upgrade: done") || strings.Contains(l, "upgrade: failed"))
	})
	if err != nil {
		return err
	}
	if strings.Contains(rec, "upgrade: failed") {
		return errors.New(rec)
	}
	pid, err := strconv.Atoi(field(rec, "new_pid"))
	if err != nil {
		return fmt.Errorf("no new_pid in %q", rec)
	}
	ws, at, err := s.reaper.wait(old, 30*time.Second)
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("old process %d: wait status %#x, want exit 0", old, int(ws))
	}
	if b, err := os.ReadFile(s.pidfile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		return fmt.Errorf("PID file %q (%v), want %d", b, err, pid)
	}
	s.upgrades = append(s.upgrades, at.Sub(sent))
	s.serving = pid
	return nil
}

// stop sends SIGTERM to the serving process and waits for it.
func (s *server) stop() error {
	if err := syscall.Kill(s.serving, syscall.SIGTERM); err != nil {
		return err
	}
	ws, _, err := s.reaper.wait(s.serving, 30*time.Second)
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("last process %d: wait status %#x, want exit 0", s.serving, int(ws))
	}
	return nil
}

func (s *server) kill() { syscall.Kill(-s.pgid, syscall.SIGKILL) }

// field returns the value of key=value in a log record.
func field(rec, key string) string {
	for f := range strings.FieldsSeq(rec) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// reaper reaps every child of this process (a subreaper: the old
// processes of upgrades are its children once their parents have
// exited) and keeps their statuses.
type reaper struct {
	mu      sync.Mutex
	changed *sync.Cond
	status  map[int]syscall.WaitStatus
	at      map[int]time.Time
}

func startReaper() *reaper {
	r := &reaper{status: map[int]syscall.WaitStatus{}, at: map[int]time.Time{}}
	r.changed = sync.NewCond(&r.mu)
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil { // ECHILD: nothing to reap yet
				time.Sleep(10 * time.Millisecond) // polling for children to appear, not a synchronisation
				continue
			}
			r.mu.Lock()
			r.status[pid], r.at[pid] = ws, time.Now()
			r.changed.Broadcast()
			r.mu.Unlock()
		}
	}()
	return r
}

// wait waits up to d for pid to be reaped.
func (r *reaper) wait(pid int, d time.Duration) (syscall.WaitStatus, time.Time, error) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() {
		r.mu.Lock()
		r.changed.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if ws, ok := r.status[pid]; ok {
			return ws, r.at[pid], nil
		}
		if time.Now().After(deadline) {
			return 0, time.Time{}, fmt.Errorf("process %d still running after %v", pid, d)
		}
		r.changed.Wait()
	}
}

// lines reads a stream line by line and lets a reader wait for a line.
type lines struct {
	mu      sync.Mutex
	changed *sync.Cond
	all     []string
	ended   bool
}

func readLines(rd io.Reader) *lines {
	l := &lines{}
	l.changed = sync.NewCond(&l.mu)
	go func() {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			l.changed.Broadcast()
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.ended = true
		l.changed.Broadcast()
		l.mu.Unlock()
	}()
	return l
}

func (l *lines) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// wait waits up to d for a line from index from on that match accepts.
func (l *lines) wait(from int, d time.Duration, match func(string) bool) (string, error) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() {
		l.mu.Lock()
		l.changed.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for ; from < len(l.all); from++ {
			if match(l.all[from]) {
				return l.all[from], nil
			}
		}
		if l.ended {
			return "", errors.New("the server's output closed")
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no such line within %v; last: %q", d, l.all[max(0, len(l.all)-5):])
		}
		l.changed.Wait()
	}
}

// load is the clients: each sends POST requests back to back on its own
// transport and records the latency of each answered one once measuring.
type load struct {
	stopCh    chan struct{}
	measuring chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	res       result
}

func startLoad(url string, n int) *load {
	l := &load{stopCh: make(chan struct{}), measuring: make(chan struct{})}
	for i := range n {
		l.wg.Add(1)
		go l.client(url, i%2 == 0) // (n+1)/2 on keep-alive connections
	}
	return l
}

func (l *load) measure() { close(l.measuring) }

func (l *load) stop() *result {
	close(l.stopCh)
	l.wg.Wait()
	slices.SortFunc(l.res.lat, cmp.Compare)
	return &l.res
}

func (l *load) client(url string, keepAlive bool) {
	defer l.wg.Done()
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	var lat []time.Duration
	var errs []string
	nerr := 0
	defer func() {
		l.mu.Lock()
		l.res.lat = append(l.res.lat, lat...)
		l.res.errors += nerr
		for _, e := range errs {
			if len(l.res.errs) < 8 {
				l.res.errs = append(l.res.errs, e)
			}
		}
		l.mu.Unlock()
	}()
	for {
		select {
		case <-l.stopCh:
			return
		default:
		}
		start := time.Now()
		err := post(hc, url)
		d := time.Since(start)
		select {
		case <-l.measuring:
		default:
			continue
		}
		if err != nil {
			nerr++
			if len(errs) < 2 {
				errs = append(errs, err.Error())
			}
			continue
		}
		lat = append(lat, d)
	}
}

func post(hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader("job"))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return err
}
