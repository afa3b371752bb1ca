// Command lastcall is the lastcall side of the HTTP drain scenario of
// cmd/procbench: an http.Server drained by shutdownhttp.Server, its handler
// wrapped in shutdownhttp.Drain, /healthz the shutdownhttp.Readiness
// handler, no drain delay. It prints "ready ADDR" once it accepts.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lastcall-go/lastcall/bench/internal/work"
	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
)

func main() {
	c := shutdown.New(shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	mux := work.Handler()
	mux.Handle("/healthz", shutdownhttp.Readiness(c))
	srv := &http.Server{Handler: shutdownhttp.Drain(c, mux)}
	hook := shutdownhttp.Server(srv) // before Serve: it watches the connections
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
	c.Register("http", hook, shutdown.Timeout(20*time.Second))
	fmt.Println("ready", ln.Addr())
	os.Exit(c.Wait().ExitCode())
}
