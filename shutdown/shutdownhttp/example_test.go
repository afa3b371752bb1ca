package shutdownhttp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
)

var quiet = []shutdown.Option{
	shutdown.WithSignals(),
	shutdown.WithLogger(slog.New(slog.DiscardHandler)),
	shutdown.WithExitFunc(func(int) {}),
}

// Readiness answers 200 until the shutdown is triggered and 503 from then
// on, so a load balancer stops sending new requests.
func ExampleReadiness() {
	c := shutdown.New(quiet...)
	mux := http.NewServeMux()
	mux.Handle("/healthz", shutdownhttp.Readiness(c))

	probe := func() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		fmt.Println(rec.Code)
	}
	probe()
	c.Shutdown(nil)
	probe()
	// Output:
	// 200
	// 503
}

// A server drained by the coordinator: Server is created before Serve (it
// watches the connections) and registered after the task that serves, so
// that LIFO drains the server first; the serve task then ends with
// http.ErrServerClosed, which is not a failure.
func ExampleServer() {
	c := shutdown.New(quiet...)
	srv := &http.Server{Handler: shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))}
	stop := shutdownhttp.Server(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
	c.Register("http", stop, shutdown.Timeout(10*time.Second))

	rep := c.Shutdown(nil)
	for _, h := range rep.Hooks {
		fmt.Println(h.Name, h.Status)
	}
	// Output:
	// http ok
	// serve ok
}
