// Command hand is the smallest program that shuts down on a signal by
// hand, logging with log/slog: the peer of cmd/minimal/lastcall in the
// binary-size comparison.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	slog.Info("shutting down")
	cleanup := func(context.Context) error { return nil }
	if err := cleanup(context.Background()); err != nil {
		slog.Error("cleanup", "error", err)
		os.Exit(1)
	}
}
