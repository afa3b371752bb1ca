// Command grpcserver is a gRPC service that drains gracefully on SIGTERM:
// its health service turns NOT_SERVING at once, RPCs keep being served for
// -drain-delay, then GracefulStop lets every RPC the server began finish,
// and the process exits 0.
//
//	go build -C examples/grpcserver -o /tmp/grpcserver .
//	/tmp/grpcserver -drain-delay 5s &
//	kill -15 %1   # health NOT_SERVING for 5s, then GracefulStop, exit 0
//
// It serves the standard health service (grpc.health.v1.Health) and one
// unary RPC, /lastcall.examples.work.v1.Worker/Work, which answers after
// the request's ms milliseconds (0 to 60000) with the same ms.
//
// GracefulStop is bounded by -grpc-timeout: past it, Stop cuts the RPCs
// still running, so that one stuck RPC cannot eat the time of the hooks
// after it; the hook is then recorded timed out and the exit code is 1. A
// flag left at its default adapts to -timeout: the drain delay is at most
// a quarter of it, the gRPC timeout at most two thirds of what remains.
// The last hook prints how many Work RPCs were started and finished.
//
// -no-graceful is a test seam: it shuts down the way a server without a
// drain does (no drain delay, Stop at once), so that the process tests can
// show they catch that regression.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/lastcall-go/lastcall/examples/grpcserver/workv1"
	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "address to listen on")
	drain := flag.Duration("drain-delay", 5*time.Second, "how long RPCs keep being served after health turns NOT_SERVING; left at its default, at most a quarter of -timeout")
	timeout := flag.Duration("timeout", 30*time.Second, "bound on the whole shutdown, drain delay included")
	grpcTimeout := flag.Duration("grpc-timeout", 20*time.Second, "bound on GracefulStop, then Stop cuts the RPCs left; left at its default, at most two thirds of -timeout less the drain delay, 16.7s with the other defaults")
	noGraceful := flag.Bool("no-graceful", false, "test seam: shut down without a drain")
	flag.Parse()
	if err := fit(drain, grpcTimeout, *timeout, set()); err != nil {
		fmt.Fprintln(os.Stderr, "grpcserver:", err)
		flag.Usage()
		os.Exit(2)
	}
	if *noGraceful { // test seam, see above
		*drain = 0
	}

	var stats counts
	c := shutdown.New(shutdown.WithDrainDelay(*drain), shutdown.WithTimeout(*timeout))
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus(workv1.Worker_ServiceDesc.ServiceName, healthgrpc.HealthCheckResponse_SERVING)
	watches, endWatches := context.WithCancel(context.Background())
	healthgrpc.RegisterHealthServer(srv, healthService{hs, watches})
	workv1.RegisterWorkerServer(srv, worker{n: &stats})
	// A health Watch is a stream that never ends by itself, and
	// GracefulStop waits for every stream: end them as it starts.
	grpcHook := shutdown.Graceful(func() { endWatches(); srv.GracefulStop() }, srv.Stop)
	if *noGraceful { // test seam
		grpcHook = shutdown.Func(srv.Stop)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// LIFO: GracefulStop first, the serve task ends, stats last. The
	// health service turns NOT_SERVING at the trigger, before all of them.
	c.Register("stats", shutdown.Func(stats.print))
	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
	c.Register("grpc", grpcHook, shutdown.Timeout(*grpcTimeout))
	c.OnDrain("health", shutdown.Func(hs.Shutdown))
	fmt.Println("listening on", ln.Addr())
	os.Exit(c.Wait().ExitCode())
}

// set returns the names of the flags given on the command line.
func set() map[string]bool {
	m := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// fit makes the drain delay and the gRPC timeout fit inside the whole
// timeout when they were left at their defaults, so that -timeout works on
// its own; a drain delay given explicitly that leaves no time for the
// hooks is an error.
func fit(drain, grpcTimeout *time.Duration, timeout time.Duration, set map[string]bool) error {
	if timeout <= 0 || *drain < 0 || *grpcTimeout <= 0 {
		return fmt.Errorf("-timeout and -grpc-timeout must be positive, -drain-delay not negative")
	}
	if !set["drain-delay"] {
		*drain = min(*drain, timeout/4)
	}
	if *drain >= timeout {
		return fmt.Errorf("-drain-delay %v must be shorter than -timeout %v", *drain, timeout)
	}
	if !set["grpc-timeout"] {
		*grpcTimeout = min(*grpcTimeout, (timeout-*drain)*2/3)
	}
	return nil
}

// worker serves Work and counts the calls it began and finished.
type worker struct {
	workv1.UnimplementedWorkerServer
	n *counts
}

func (w worker) Work(ctx context.Context, req *workv1.WorkRequest) (*workv1.WorkResponse, error) {
	if req.Ms < 0 || req.Ms > 60000 {
		return nil, status.Error(codes.InvalidArgument, "ms: want 0 to 60000")
	}
	w.n.started.Add(1)
	t := time.NewTimer(time.Duration(req.Ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err() // the client is gone
	}
	w.n.finished.Add(1)
	return &workv1.WorkResponse{Ms: req.Ms}, nil
}

// counts counts the Work RPCs the server began and finished.
type counts struct{ started, finished atomic.Int64 }

func (n *counts) print() {
	fmt.Printf("rpcs started=%d finished=%d\n", n.started.Load(), n.finished.Load())
}

// healthService is the standard health service whose Watch streams end,
// with Unavailable, once stop is canceled.
type healthService struct {
	*health.Server
	stop context.Context
}

func (h healthService) Watch(req *healthgrpc.HealthCheckRequest, stream healthgrpc.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(h.stop, cancel)()
	err := h.Server.Watch(req, &watchStream{stream, ctx})
	if h.stop.Err() != nil {
		return status.Error(codes.Unavailable, "server stopping")
	}
	return err
}

// watchStream is a Watch stream with a context that also ends when the
// server stops.
type watchStream struct {
	healthgrpc.Health_WatchServer
	ctx context.Context
}

func (s *watchStream) Context() context.Context { return s.ctx }
