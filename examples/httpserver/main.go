// Command httpserver is an HTTP service that drains gracefully on SIGTERM:
// /healthz turns 503 at once, /work keeps serving for -drain-delay with
// every response saying "Connection: close", then the listener closes, every
// request the server began gets its full response, and the process exits 0.
//
//	go build -o /tmp/httpserver ./examples/httpserver
//	/tmp/httpserver -drain-delay 5s &
//	curl -s 'localhost:8080/work?ms=200'   # worked 200ms
//	kill -15 %1                            # /healthz 503 for 5s, then exit 0
//
// /work?ms=N answers 200 after N milliseconds (0 to 60000). /healthz is
// the readiness probe. The HTTP hook is bounded by -http-timeout; past it
// the server cuts the connections still open (Close), so a connection that
// never sends a byte cannot eat the time of the hooks after it; the hook
// is then recorded timed out and the exit code is 1. The last hook prints
// how many /work requests were started and finished.
//
// On Linux and macOS it upgrades in place on SIGUSR2: it starts a new
// process of the binary found at the same path now, hands it the listening
// socket, and once the new one serves (the PID file of -pidfile names it),
// drains as on SIGTERM, without the drain delay, and exits 0. No client
// request fails or is refused across the upgrade, with nothing in front of
// the server. A new binary that fails, exits or is not ready within
// -ready-timeout is killed; this process logs why and keeps serving.
// Started by systemd-socket-activate (or a systemd .socket unit), it serves
// on the socket it is given instead of -addr.
//
//	/tmp/httpserver -pidfile /tmp/httpserver.pid &
//	kill -USR2 $(cat /tmp/httpserver.pid)  # a new process serves, the old one exits 0
//
// -warmup makes the server take that long to become ready, as one that
// loads a cache at start does; during it an upgrade signal is refused.
//
// -no-graceful is a test seam: it shuts down the way a server without a
// drain does (no drain delay, no Connection: close, Close at once), so that
// the process tests can show they catch that regression.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
	"github.com/lastcall-go/lastcall/systemd"
	"github.com/lastcall-go/lastcall/upgrade"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	drain := flag.Duration("drain-delay", 5*time.Second, "how long /work keeps serving after /healthz turns 503; left at its default, at most a quarter of -timeout")
	timeout := flag.Duration("timeout", 30*time.Second, "bound on the whole shutdown, drain delay included")
	httpTimeout := flag.Duration("http-timeout", 20*time.Second, "bound on the HTTP drain, then open connections are cut; left at its default, at most two thirds of -timeout less the drain delay, 16.7s with the other defaults")
	idleGrace := flag.Duration("idle-grace", shutdownhttp.DefaultIdleGrace, "how long a keep-alive connection must have been idle before the drain closes it")
	pidfile := flag.String("pidfile", "", "file naming the process that serves: kill -USR2 $(cat FILE) upgrades in place")
	readyTimeout := flag.Duration("ready-timeout", upgrade.DefaultReadyTimeout, "bound on the start of the new process of an upgrade")
	warmup := flag.Duration("warmup", 0, "how long the server takes to become ready")
	noGraceful := flag.Bool("no-graceful", false, "test seam: shut down without a drain")
	flag.Parse()
	fitFlags(*timeout, drain, httpTimeout)

	if *noGraceful { // test seam, see above
		*drain = 0
	}
	// During an upgrade two processes write to the same stderr.
	slog.SetDefault(slog.Default().With("pid", os.Getpid()))
	var stats counts
	c := shutdown.New(shutdown.WithDrainDelay(*drain), shutdown.WithTimeout(*timeout))
	systemd.Watch(c) // under systemd: STOPPING=1 and the time the shutdown may take
	up, err := upgrade.New(c, upgrade.WithPIDFile(*pidfile), upgrade.WithReadyTimeout(*readyTimeout))
	listen := net.Listen
	switch {
	case err == nil:
		listen = up.Listen // the upgrade's socket, or socket activation's, else a new one
	case errors.Is(err, upgrade.ErrNotSupported):
		slog.Warn("serving without in-place upgrade", "err", err)
	default:
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", shutdownhttp.Readiness(c))
	mux.Handle("/work", stats.work())
	srv := &http.Server{Handler: shutdownhttp.Drain(c, mux), ReadHeaderTimeout: 10 * time.Second}
	httpHook := shutdownhttp.Server(srv, shutdownhttp.IdleGrace(*idleGrace)) // before Serve: it watches the connections
	if *noGraceful {                                                         // test seam
		srv.Handler, httpHook = mux, shutdown.Closer(srv)
	}

	ln, err := listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// LIFO: the HTTP server drains first, the serve task ends, stats last.
	c.Register("stats", shutdown.Func(stats.print))
	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
	c.Register("http", httpHook, shutdown.Timeout(*httpTimeout))
	if *warmup > 0 {
		slog.Info("warming up", "for", *warmup)
		time.Sleep(*warmup)
	}
	if up != nil {
		// In an upgrade, Ready returns once the old process has stopped
		// accepting. ErrStopping: SIGTERM came first, the shutdown runs.
		if err := up.Ready(); err != nil && !errors.Is(err, upgrade.ErrStopping) {
			slog.Error("not ready", "err", err)
			c.Exit(1) // in an upgrade, the old process serves on
		}
	}
	fmt.Println("listening on", ln.Addr())
	os.Exit(c.Wait().ExitCode())
}

// fitFlags lets every flag work on its own: a drain delay or an HTTP
// timeout left at its default shrinks to fit inside -timeout (a quarter of
// it, and two thirds of what is left); one given that cannot fit is an
// error, reported before anything starts.
func fitFlags(timeout time.Duration, drain, httpTimeout *time.Duration) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["drain-delay"] {
		*drain = min(*drain, timeout/4)
	}
	if !set["http-timeout"] {
		*httpTimeout = min(*httpTimeout, (timeout-*drain)*2/3)
	}
	if timeout <= 0 || *drain >= timeout {
		fmt.Fprintf(os.Stderr, "-drain-delay %v must be shorter than -timeout %v\n", *drain, timeout)
		os.Exit(2)
	}
	if *httpTimeout <= 0 {
		fmt.Fprintf(os.Stderr, "-http-timeout %v must be positive\n", *httpTimeout)
		os.Exit(2)
	}
}

// counts counts the /work requests the server began and finished.
type counts struct{ started, finished atomic.Int64 }

func (n *counts) work() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > 60000 {
			http.Error(w, "ms: want 0 to 60000", http.StatusBadRequest)
			return
		}
		n.started.Add(1)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return // the connection is gone: nobody to answer
		}
		fmt.Fprintf(w, "worked %dms\n", ms)
		n.finished.Add(1)
	}
}

func (n *counts) print() {
	fmt.Printf("requests started=%d finished=%d\n", n.started.Load(), n.finished.Load())
}
