// Command oklog is the oklog/run side of the HTTP drain scenario of
// cmd/procbench: a signal actor and a server actor whose interrupt calls
// http.Server.Shutdown. It prints "ready ADDR" once it accepts.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oklog/run"

	"github.com/lastcall-go/lastcall/bench/internal/work"
)

func main() {
	// run.SignalHandler, except that signal.Notify happens before "ready"
	// is printed, as in cmd/oklog.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	var g run.Group
	g.Add(func() error {
		defer signal.Stop(sigs)
		select {
		case sig := <-sigs:
			return run.SignalError{Signal: sig}
		case <-quit:
			return nil
		}
	}, func(error) { close(quit) })

	srv := &http.Server{Handler: work.Handler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	g.Add(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, func(error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	fmt.Println("ready", ln.Addr())
	var se run.SignalError
	if err := g.Run(); err != nil && !errors.As(err, &se) {
		os.Exit(1)
	}
}
