// Command fx is the uber-go/fx side of the HTTP drain scenario of
// cmd/procbench: the server started by an OnStart hook and stopped by an
// OnStop hook calling http.Server.Shutdown, the way fx's documentation
// shows. It does what App.Run does, but prints "ready ADDR" once fx is
// listening for signals.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/fx"

	"github.com/lastcall-go/lastcall/bench/internal/work"
)

func main() {
	var addr net.Addr
	app := fx.New(
		fx.NopLogger,
		fx.StopTimeout(20*time.Second),
		fx.Invoke(func(lc fx.Lifecycle) {
			srv := &http.Server{Handler: work.Handler()}
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						return err
					}
					addr = ln.Addr()
					go srv.Serve(ln)
					return nil
				},
				OnStop: srv.Shutdown,
			})
		}),
	)
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cancel()
	done := app.Wait()
	fmt.Println("ready", addr)
	sig := <-done
	stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		os.Exit(1)
	}
	os.Exit(sig.ExitCode)
}
