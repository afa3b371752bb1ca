package upgrade_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
	"github.com/lastcall-go/lastcall/upgrade"
)

// An HTTP server that upgrades in place on `kill -USR2 $(cat
// /run/app.pid)`: the new process serves on the same socket, and the old
// one drains through its coordinator, with cause ErrUpgraded.
func Example() {
	c := shutdown.New()
	up, err := upgrade.New(c, upgrade.WithPIDFile("/run/app.pid"))
	if err != nil {
		log.Fatal(err) // ErrNotSupported anywhere but Linux and macOS
	}
	ln, err := up.Listen("tcp", ":8080") // the old process's socket, systemd's, or a new one
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	stop := shutdownhttp.Server(srv) // before Serve: it watches the connections
	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
	c.Register("http", stop, shutdown.Timeout(10*time.Second)) // runs before the serve task's stop
	// Ready: the old process, if any, stops accepting and drains.
	if err := up.Ready(); err != nil {
		log.Print(err)
		c.Exit(1)
	}
	os.Exit(c.Wait().ExitCode())
}
