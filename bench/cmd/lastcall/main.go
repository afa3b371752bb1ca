// Command lastcall is the lastcall side of the whole-process scenarios of
// cmd/procbench: it registers -hooks no-op hooks (and, with -sleep, one
// hook that sleeps that long, registered last so it runs first), prints
// "ready", and shuts down on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	hooks := flag.Int("hooks", 0, "no-op hooks to register")
	sleep := flag.Duration("sleep", 0, "register one more hook that sleeps this long")
	flag.Parse()

	c := shutdown.New(shutdown.WithLogger(slog.New(slog.DiscardHandler)))
	noop := func(context.Context) error { return nil }
	for range *hooks {
		c.Register("hook", noop)
	}
	if *sleep > 0 {
		c.Register("slow", func(ctx context.Context) error {
			select {
			case <-time.After(*sleep):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	fmt.Println("ready")
	os.Exit(c.Wait().ExitCode())
}
