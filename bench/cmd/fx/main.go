// Command fx is the uber-go/fx side of the whole-process scenarios of
// cmd/procbench: -hooks no-op OnStop hooks (and, with -sleep, one that
// sleeps that long, appended last so it runs first). It does what
// App.Run does (Start, wait for a signal, Stop within StopTimeout, exit
// with the signal's code), but prints "ready" once fx is listening for
// signals, which App.Run gives no place for.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"go.uber.org/fx"
)

func main() {
	hooks := flag.Int("hooks", 0, "no-op hooks to register")
	sleep := flag.Duration("sleep", 0, "register one more hook that sleeps this long")
	flag.Parse()

	app := fx.New(
		fx.NopLogger,
		fx.StopTimeout(30*time.Second),
		fx.Invoke(func(lc fx.Lifecycle) {
			noop := func(context.Context) error { return nil }
			for range *hooks {
				lc.Append(fx.Hook{OnStop: noop})
			}
			if *sleep > 0 {
				lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
					select {
					case <-time.After(*sleep):
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}})
			}
		}),
	)
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cancel()
	done := app.Wait() // starts fx's signal handling
	fmt.Println("ready")
	sig := <-done

	stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		os.Exit(1)
	}
	os.Exit(sig.ExitCode)
}
