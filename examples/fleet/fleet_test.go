//go:build unix

package fleet_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
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
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

var rounds = flag.Int("rounds", 10, "how many times TestRollingRestart restarts every replica in turn")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(proctest.Exit))
}

const (
	replicas   = 3
	nclients   = 32
	handler    = 100 * time.Millisecond // what /work takes
	checkEvery = 100 * time.Millisecond // HAProxy's health-check interval (inter)
	drain      = 600 * time.Millisecond // the replicas' -drain-delay: six check intervals
	warmUp     = 500 * time.Millisecond // load before the first restart
	wait       = 20 * time.Second       // bound on every wait
	poll       = 5 * time.Millisecond   // how often the runtime API is asked
	maxStarts  = 3                      // attempts to start a replica whose port was taken
	maxReqs    = 1_000_000              // per client: a bound that a test never reaches
)

// replicaArgs are the flags of every replica besides -addr.
var replicaArgs = []string{"-drain-delay", drain.String(), "-timeout", "10s", "-http-timeout", "5s"}

// haproxyConfig is the balancer in front of the replicas. The lines that
// matter to a rolling restart say why they are there; docs/kubernetes.md
// maps the same choices to a pod.
var haproxyConfig = template.Must(template.New("haproxy.cfg").Parse(`global
    maxconn 4096
    # The runtime API: the test asks "show servers state" what HAProxy sees.
    stats socket {{.Socket}} mode 600 level admin
    log stderr format raw local0 info

defaults
    mode http
    log global
    # Log only what is not normal: errors, 5xx, retries, redispatches.
    option dontlog-normal
    log-format "request status=%ST retries=%rc server=%s time_ms=%Tt term=%tsc"
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    # Far longer than a client pauses between two requests: HAProxy never
    # closes a client's keep-alive connection while the client may be
    # sending on it.
    timeout http-keep-alive 30s

frontend fe
    bind {{.Front}}
    default_backend be

backend be
    balance roundrobin
    # Keep-alive to the replicas, idle connections shared between client
    # sessions after their first request: the harder case for a drain. A
    # replica that drains answers "Connection: close", and HAProxy closes
    # that connection itself instead of having it closed under a request.
    option http-keep-alive
    http-reuse safe
    # Retry only a connection that failed before any byte of the request
    # was sent (refused: the replica's listener is closed), and on another
    # replica. Never empty-response, junk-response, response-timeout or a
    # status: the replica may have begun a POST, which must not run twice.
    retries 3
    option redispatch 1
    retry-on conn-failure
    # The readiness handler, 503 from SIGTERM on. One failed check takes a
    # replica out of the rotation (fall 1), two good ones put it back
    # (rise 2). A slow answer is not a failed one (timeout check): a 503
    # or a refused connection is seen at once anyway.
    option httpchk GET /healthz
    http-check expect status 200
    timeout check 2s
    default-server inter {{.Inter}} fall 1 rise 2
{{range .Servers}}    server {{.Name}} {{.Addr}} check
{{end}}`))

// haproxy returns the path of haproxy, or skips the test without it, or
// fails it in CI, where it must be installed (.ci/run does).
func haproxy(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err == nil {
		return path
	}
	const how = "install it with apt-get install haproxy (Debian, Ubuntu: it lands in /usr/sbin, which must be on PATH) or brew install haproxy (macOS), then run make fleet"
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatalf("haproxy not on PATH, and CI is set: %s", how)
	}
	t.Skipf("haproxy not on PATH: %s", how)
	return ""
}

// replica is one slot of the fleet: a server name in HAProxy, a port, and
// the process serving it now.
type replica struct {
	name string
	port int
	proc *proctest.Proc
}

func (r *replica) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// fleet is the replicas and the HAProxy in front of them.
type fleet struct {
	t      *testing.T
	bin    string   // examples/httpserver
	args   []string // replica flags besides -addr
	socket string   // HAProxy's runtime API
	front  string   // HAProxy's frontend, host:port
	hap    *proctest.Proc
	reps   []*replica
	rep    *report // where the replicas' ends are recorded
}

// startFleet starts the replicas, then HAProxy in front of them, and
// returns once HAProxy sees every replica up.
func startFleet(t *testing.T, rep *report, extra ...string) (*fleet, error) {
	hap := haproxy(t)
	f := &fleet{
		t:    t,
		bin:  proctest.Build(t, "./examples/httpserver"),
		args: append(slices.Clone(replicaArgs), extra...),
		rep:  rep,
	}
	for i := range replicas {
		r := &replica{name: fmt.Sprintf("r%d", i)}
		if err := f.start(r); err != nil {
			return nil, err
		}
		f.reps = append(f.reps, r)
	}
	if err := f.startHAProxy(hap); err != nil {
		return nil, err
	}
	for _, r := range f.reps {
		if _, err := f.waitState(r, up); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// freePort returns a loopback port that was free a moment ago. Another
// socket may take it before it is used: the callers retry.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start starts a process for r on r.port (on a new port when r has none
// yet) and waits until it listens. A port taken by another socket while
// the replica was down (an outgoing connection's ephemeral port, say) is
// tried once more after a pause; then the replica moves to a new port,
// which HAProxy learns through its runtime API.
func (f *fleet) start(r *replica) error {
	var err error
	for attempt := 1; attempt <= maxStarts; attempt++ {
		if r.port == 0 || (attempt == maxStarts && f.hap != nil) {
			old := r.port
			if r.port, err = freePort(); err != nil {
				return err
			}
			if old != 0 {
				out, err := f.api(fmt.Sprintf("set server be/%s addr 127.0.0.1 port %d", r.name, r.port))
				if err != nil {
					return err
				}
				if !strings.Contains(out, "changed") {
					return fmt.Errorf("replica %s: HAProxy did not take port %d: %q", r.name, r.port, out)
				}
				f.t.Logf("replica %s: port %d taken, moved to %d", r.name, old, r.port)
				f.rep.moved++
			}
		}
		p := proctest.Start(f.t, f.bin, append([]string{"-addr", r.addr()}, f.args...)...)
		if _, err = p.WaitLine("listening on ", wait); err == nil {
			r.proc = p
			return nil
		}
		res, werr := p.Wait(wait)
		if werr != nil || !slices.ContainsFunc(res.Stderr, func(l string) bool {
			return strings.Contains(l, "address already in use")
		}) {
			return fmt.Errorf("replica %s on %s did not start: %v (%v): %q", r.name, r.addr(), err, res, res.Stderr)
		}
		if f.hap == nil {
			r.port = 0 // not in HAProxy's configuration yet: any port will do
		}
		time.Sleep(100 * time.Millisecond) // pacing: a short-lived connection may free the port
	}
	return fmt.Errorf("replica %s: no port after %d attempts: %v", r.name, maxStarts, err)
}

// startHAProxy writes the configuration and starts HAProxy in the
// foreground, retrying with another frontend port if its own was taken.
func (f *fleet) startHAProxy(path string) error {
	dir := f.t.TempDir()
	f.socket = filepath.Join(dir, "admin.sock")
	cfg := filepath.Join(dir, "haproxy.cfg")
	for attempt := 1; attempt <= maxStarts; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		f.front = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := f.writeConfig(cfg); err != nil {
			return err
		}
		f.hap = proctest.Start(f.t, path, "-f", cfg, "-db")
		err = f.waitAPI()
		if err == nil {
			return nil
		}
		if !slices.ContainsFunc(f.hap.Stderr(), func(l string) bool { return strings.Contains(l, "cannot bind socket") }) {
			return fmt.Errorf("haproxy: %v: %q", err, f.hap.Stderr())
		}
	}
	return fmt.Errorf("haproxy: no frontend port after %d attempts", maxStarts)
}

func (f *fleet) writeConfig(path string) error {
	type server struct{ Name, Addr string }
	data := struct {
		Socket, Front, Inter string
		Servers              []server
	}{Socket: f.socket, Front: f.front, Inter: fmt.Sprintf("%dms", checkEvery.Milliseconds())}
	for _, r := range f.reps {
		data.Servers = append(data.Servers, server{r.name, r.addr()})
	}
	var b strings.Builder
	if err := haproxyConfig.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// waitAPI waits until HAProxy answers on its runtime API, or has exited.
func (f *fleet) waitAPI() error {
	deadline := time.Now().Add(wait)
	for {
		if res, err := f.hap.Wait(poll); err == nil {
			return fmt.Errorf("haproxy exited: %v", res)
		}
		_, err := f.states()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no runtime API within %v: %v", wait, err)
		}
	}
}

// api sends one command to HAProxy's runtime API and returns the answer.
func (f *fleet) api(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", f.socket, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// Operational states of a server in "show servers state" (srv_op_state).
const (
	down = 0 // SRV_ST_STOPPED
	up   = 2 // SRV_ST_RUNNING
)

// states returns each server's srv_op_state, by name.
func (f *fleet) states() (map[string]int, error) {
	out, err := f.api("show servers state be")
	if err != nil {
		return nil, err
	}
	var cols []string
	states := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if h, ok := strings.CutPrefix(l, "# "); ok {
			cols = strings.Fields(h)
			continue
		}
		fs := strings.Fields(l)
		if len(cols) == 0 || len(fs) != len(cols) {
			continue
		}
		var name string
		state := -1
		for i, c := range cols {
			switch c {
			case "srv_name":
				name = fs[i]
			case "srv_op_state":
				state, _ = strconv.Atoi(fs[i])
			}
		}
		states[name] = state
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("no server in %q", out)
	}
	return states, nil
}

// waitState polls the runtime API until HAProxy sees r in state, and
// returns how long that took.
func (f *fleet) waitState(r *replica, state int) (time.Duration, error) {
	start := time.Now()
	for {
		s, err := f.states()
		if err == nil && s[r.name] == state {
			return time.Since(start), nil
		}
		if time.Since(start) > wait {
			return 0, fmt.Errorf("HAProxy does not see %s in state %d after %v (%v, %v)", r.name, state, wait, s, err)
		}
		time.Sleep(poll)
	}
}

// restart is what one restart of a replica took.
type restart struct {
	down time.Duration // SIGTERM to HAProxy seeing the replica down
	exit time.Duration // SIGTERM to the end of the process
	up   time.Duration // start of the new process to HAProxy seeing it up
}

// restart sends SIGTERM to replica i, waits for HAProxy to take it out
// and for it to exit, starts a new one on the same port and waits until
// HAProxy sees it up.
func (f *fleet) restart(i int) (restart, error) {
	r := f.reps[i]
	var rs restart
	exited := make(chan error, 1)
	if err := r.proc.Signal(syscall.SIGTERM); err != nil {
		return rs, err
	}
	sent := time.Now()
	go func() {
		res, err := r.proc.Wait(wait)
		rs.exit = time.Since(sent)
		if err == nil {
			f.rep.ended(r, res)
		}
		exited <- err
	}()
	took, derr := f.waitState(r, down)
	if err := <-exited; err != nil {
		return rs, err
	}
	if derr != nil {
		return rs, derr
	}
	rs.down = took
	if rs.down >= rs.exit {
		f.rep.problem("%s: HAProxy saw it down %v after SIGTERM, not before it exited (%v)",
			r.name, rs.down.Round(time.Millisecond), rs.exit.Round(time.Millisecond))
	}
	start := time.Now()
	if err := f.start(r); err != nil {
		return rs, err
	}
	if _, err := f.waitState(r, up); err != nil {
		return rs, err
	}
	rs.up = time.Since(start)
	return rs, nil
}

// stop sends SIGTERM to every replica and waits for them all.
func (f *fleet) stop() error {
	for _, r := range f.reps {
		if err := r.proc.Signal(syscall.SIGTERM); err != nil {
			return err
		}
	}
	for _, r := range f.reps {
		res, err := r.proc.Wait(wait)
		if err != nil {
			return err
		}
		f.rep.ended(r, res)
	}
	return nil
}

// figures is what the clients saw over one round.
type figures struct {
	ok, keepAlive int // requests answered 200 in full; requests on keep-alive clients
	failed        map[proctest.Kind]int
	longest       time.Duration // the longest request, failed or not
	errors        []string      // the first few failures
}

func (g *figures) requests() int {
	n := g.ok
	for _, c := range g.failed {
		n += c
	}
	return n
}

func (g *figures) failures() int { return g.requests() - g.ok }

func (g *figures) add(h figures) {
	g.ok += h.ok
	g.keepAlive += h.keepAlive
	for k, c := range h.failed {
		if g.failed == nil {
			g.failed = map[proctest.Kind]int{}
		}
		g.failed[k] += c
	}
	g.longest = max(g.longest, h.longest)
	for _, e := range h.errors {
		if len(g.errors) < 8 {
			g.errors = append(g.errors, e)
		}
	}
}

func (g *figures) String() string {
	s := fmt.Sprintf("%d requests (%d keep-alive, %d fresh), %d failed", g.requests(), g.keepAlive, g.requests()-g.keepAlive, g.failures())
	if len(g.failed) > 0 {
		kinds := make([]string, 0, len(g.failed))
		for k, c := range g.failed {
			kinds = append(kinds, fmt.Sprintf("%v=%d", k, c))
		}
		slices.Sort(kinds)
		s += " (" + strings.Join(kinds, " ") + ")"
	}
	return s + fmt.Sprintf(", longest %v", g.longest.Round(time.Millisecond))
}

// load is nclients clients sending POST /work through HAProxy back to
// back, half of them on keep-alive connections, half on a fresh connection
// per request. Each request is counted in the round in which it ended.
type load struct {
	url   string
	stop  chan struct{}
	wg    sync.WaitGroup
	round atomic.Int64

	mu   sync.Mutex
	figs []figures // by round
}

func startLoad(url string, n int) *load {
	l := &load{url: url, stop: make(chan struct{}), figs: make([]figures, n+1)}
	for i := range nclients {
		l.wg.Add(1)
		go l.client(i%2 == 0)
	}
	return l
}

// client sends requests until Stop. POST is not idempotent: net/http never
// sends one again once any of it was written, so every loss shows.
func (l *load) client(keepAlive bool) {
	defer l.wg.Done()
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: wait}
	for range maxReqs {
		select {
		case <-l.stop:
			return
		default:
		}
		start := time.Now()
		kind, _, err := proctest.Post(context.Background(), hc, l.url)
		l.count(keepAlive, kind, time.Since(start), err)
		if kind != proctest.OK {
			time.Sleep(time.Millisecond) // pacing after a failure
		}
	}
}

func (l *load) count(keepAlive bool, kind proctest.Kind, took time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := &l.figs[l.round.Load()]
	if keepAlive {
		g.keepAlive++
	}
	g.longest = max(g.longest, took)
	if kind == proctest.OK {
		g.ok++
		return
	}
	if g.failed == nil {
		g.failed = map[proctest.Kind]int{}
	}
	g.failed[kind]++
	if len(g.errors) < 3 {
		g.errors = append(g.errors, fmt.Sprintf("%v: %v", kind, err))
	}
}

// Stop ends the load, waits for the requests in flight and returns the
// figures by round.
func (l *load) Stop() []figures {
	close(l.stop)
	l.wg.Wait()
	return l.figs
}

// report is what a rolling restart saw.
type report struct {
	flags             string    // of every replica, besides -addr
	rounds            []figures // [0] is the warm-up before the first restart
	restarts          [][]restart
	ends              int // replica processes that ended
	started, finished int // /work requests, summed over every replica process
	moved             int // replicas moved to a new port
	hapLog            haproxyLog
	problems          []string // how the run broke the contract
}

func (rp *report) problem(format string, args ...any) {
	rp.problems = append(rp.problems, fmt.Sprintf(format, args...))
}

// ended records how a replica process ended: exit 0, and every request
// it started finished.
func (rp *report) ended(r *replica, res proctest.Result) {
	rp.ends++
	if !res.Exited || res.Code != 0 {
		rp.problem("%s (pid %d): %v, want exit status 0", r.name, r.proc.Pid(), res)
	}
	var started, finished int
	ok := slices.ContainsFunc(res.Stdout, func(l string) bool {
		_, err := fmt.Sscanf(l, "requests started=%d finished=%d", &started, &finished)
		return err == nil
	})
	if !ok {
		rp.problem("%s (pid %d): no stats line on stdout: %q", r.name, r.proc.Pid(), res.Stdout)
	}
	if started != finished {
		rp.problem("%s (pid %d): started %d requests, finished %d", r.name, r.proc.Pid(), started, finished)
	}
	rp.started += started
	rp.finished += finished
}

// total sums the figures of every round, warm-up included.
func (rp *report) total() figures {
	var t figures
	for _, g := range rp.rounds {
		t.add(g)
	}
	return t
}

// haproxyLog counts the requests HAProxy logged: with dontlog-normal, only
// those that were retried, redispatched, or failed.
type haproxyLog struct {
	retried, redispatched, errors int
	samples                       []string // the first three errors and two retries
}

func parseHAProxyLog(stderr []string) haproxyLog {
	var h haproxyLog
	for _, l := range stderr {
		if !strings.HasPrefix(l, "request ") {
			continue
		}
		var status int
		var retries, term string
		for f := range strings.FieldsSeq(l) {
			if v, ok := strings.CutPrefix(f, "status="); ok {
				status, _ = strconv.Atoi(v)
			}
			if v, ok := strings.CutPrefix(f, "retries="); ok {
				retries = v
			}
			if v, ok := strings.CutPrefix(f, "term="); ok {
				term = v
			}
		}
		// An error: no status, a 5xx, or a session that did not end
		// normally (the first two termination flags say who cut it, when).
		failed := status < 200 || status >= 500 || !strings.HasPrefix(term, "--")
		if failed {
			h.errors++
		}
		if retries != "0" {
			h.retried++
		}
		if strings.HasPrefix(retries, "+") {
			h.redispatched++
		}
		switch { // a few of each, for the log
		case failed && h.errors <= 3:
			h.samples = append(h.samples, l)
		case retries != "0" && h.retried <= 2:
			h.samples = append(h.samples, l)
		}
	}
	return h
}

// rollingRestart runs a fleet of replicas started with extra flags behind
// HAProxy under load, restarts every replica in turn n times, and checks
// the contract: no client request failed; every replica exited 0 having
// finished every request it started; HAProxy took every replica out before
// it exited and never had to retry a request; the replicas together
// finished exactly as many requests as the clients got answers (none lost,
// none run twice).
func rollingRestart(t *testing.T, n int, extra ...string) *report {
	t.Helper()
	rp := &report{flags: strings.Join(append(slices.Clone(replicaArgs), extra...), " ")}
	f, err := startFleet(t, rp, extra...)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad("http://"+f.front+fmt.Sprintf("/work?ms=%d", handler.Milliseconds()), n)
	// Load pacing: the first SIGTERM comes with requests in flight on every
	// client and keep-alive connections reused.
	time.Sleep(warmUp)
	var broke error
rounds:
	for round := 1; round <= n; round++ {
		l.round.Store(int64(round))
		var rs []restart
		for i := range replicas {
			r, err := f.restart(i)
			if err != nil {
				broke = fmt.Errorf("round %d, %s: %w", round, f.reps[i].name, err)
				break rounds
			}
			rs = append(rs, r)
		}
		rp.restarts = append(rp.restarts, rs)
	}
	rp.rounds = l.Stop()
	if broke == nil {
		broke = f.stop()
	}
	rp.hapLog = parseHAProxyLog(f.hap.Stderr())
	if broke != nil {
		rp.problem("%v", broke)
		return rp
	}

	tot := rp.total()
	if tot.failures() > 0 {
		rp.problem("clients: %d of %d requests failed: %v %q", tot.failures(), tot.requests(), tot.failed, tot.errors)
	}
	if rp.started != tot.ok || rp.finished != tot.ok {
		rp.problem("replicas started %d requests and finished %d, clients got %d answers", rp.started, rp.finished, tot.ok)
	}
	if tot.requests() == 0 {
		rp.problem("no request was sent")
	}
	// A retry means HAProxy sent a request to a replica whose listener was
	// closed: saved here, lost behind a balancer that does not retry.
	if h := rp.hapLog; h.retried > 0 || h.errors > 0 {
		rp.problem("HAProxy retried %d requests and logged %d errors: %q", h.retried, h.errors, h.samples)
	}
	return rp
}

// log prints the figures of a run.
func (rp *report) log(t *testing.T) {
	t.Helper()
	t.Logf("%d replicas of httpserver %s behind HAProxy, %d clients, POST /work?ms=%d",
		replicas, rp.flags, nclients, handler.Milliseconds())
	var longestDown, longestExit, longestUp time.Duration
	for i, rs := range rp.restarts {
		var d, e, u time.Duration
		for _, r := range rs {
			d, e, u = max(d, r.down), max(e, r.exit), max(u, r.up)
		}
		longestDown, longestExit, longestUp = max(longestDown, d), max(longestExit, e), max(longestUp, u)
		g := rp.rounds[i+1]
		t.Logf("round %2d: %v; SIGTERM to out of HAProxy <= %v, to exit <= %v; start to back in <= %v",
			i+1, &g, d.Round(time.Millisecond), e.Round(time.Millisecond), u.Round(time.Millisecond))
	}
	tot := rp.total()
	t.Logf("total: %d rounds, %d restarts, %d replica processes ended; clients: %v",
		len(rp.restarts), len(rp.restarts)*replicas, rp.ends, &tot)
	t.Logf("  replicas: started %d requests, finished %d; HAProxy logged %d retried (%d redispatched), %d errors",
		rp.started, rp.finished, rp.hapLog.retried, rp.hapLog.redispatched, rp.hapLog.errors)
	t.Logf("  longest: SIGTERM to out of HAProxy %v, SIGTERM to exit %v, start to back in %v; request %v",
		longestDown.Round(time.Millisecond), longestExit.Round(time.Millisecond),
		longestUp.Round(time.Millisecond), tot.longest.Round(time.Millisecond))
	if rp.moved > 0 {
		t.Logf("  %d replicas moved to a new port (theirs was taken)", rp.moved)
	}
	for _, s := range rp.hapLog.samples {
		t.Logf("  haproxy: %s", s)
	}
}

// TestRollingRestart: three replicas behind HAProxy, constant load, each
// replica restarted in turn for -rounds rounds (10 by default). Not one
// client request may fail.
func TestRollingRestart(t *testing.T) {
	rp := rollingRestart(t, *rounds)
	rp.log(t)
	for _, p := range rp.problems {
		t.Error(p)
	}
}

// TestMutantCaught runs the same rolling restart against replicas that
// break the drain, and must see the contract broken, so that
// TestRollingRestart is known to catch those regressions:
//
//   - no-graceful (httpserver's test seam: no drain delay, no
//     Connection: close, Close at once): client requests fail;
//   - drain-delay-0: no drain delay and no idle grace period (the HTTP
//     hook's grace alone keeps the listener open long enough for HAProxy
//     to see the 503), so the listener closes before HAProxy has seen the
//     503, requests meet a closed port and HAProxy has to retry them on
//     another replica. HAProxy's retry hides it from the clients (but for
//     a request now and then on an idle connection the replica has just
//     closed); behind a balancer that does not retry, they would fail.
func TestMutantCaught(t *testing.T) {
	t.Run("no-graceful", func(t *testing.T) {
		rp := rollingRestart(t, 1, "-no-graceful")
		rp.log(t)
		rp.logCaught(t)
		tot := rp.total()
		assert.Positive(t, tot.failures(), "no client request failed against replicas without a drain: the test proves nothing")
	})
	t.Run("drain-delay-0", func(t *testing.T) {
		rp := rollingRestart(t, 2, "-drain-delay", "0s", "-idle-grace", "0s")
		rp.log(t)
		rp.logCaught(t)
		assert.Positive(t, rp.hapLog.retried, "HAProxy never retried a request to replicas without a drain delay: the test proves nothing")
	})
}

func (rp *report) logCaught(t *testing.T) {
	t.Helper()
	for _, p := range rp.problems {
		t.Logf("caught: %.200s", p)
	}
}
