//go:build contract

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func init() { contract = full }

// full is -contract: what lastcall's contract requires of a shutdown,
// written by hand: SIGPIPE caught from the trigger on, the hooks on a
// goroutine bounded by a deadline and a second signal, each timed and its
// result kept, a log record at the start, per hook and at the end (to a
// logger that discards them), the exit code from the results, the signals
// released at the end.
func full(hooks []func(context.Context) error) int {
	log := slog.New(slog.DiscardHandler)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	fmt.Println("ready")
	sig := <-sigs
	start := time.Now()
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	log.LogAttrs(context.Background(), slog.LevelInfo, "shutdown: started", slog.String("cause", sig.String()))
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(30*time.Second))
	defer cancel()
	done := make(chan []result, 1)
	go func() {
		res := walk(ctx, hooks, start)
		for i := range res {
			r := &res[i]
			log.LogAttrs(context.Background(), slog.LevelInfo, "shutdown: hook",
				slog.String("hook", r.Name), slog.Int("status", r.Status), slog.Duration("elapsed", r.Elapsed))
		}
		done <- res
	}()
	code := 0
	select {
	case res := <-done:
		for _, r := range res {
			if r.Status != 0 {
				code = 1
			}
		}
	case <-ctx.Done():
		code = 1
	case sig := <-sigs:
		return 128 + int(sig.(syscall.Signal))
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "shutdown: complete",
		slog.Duration("elapsed", time.Since(start)), slog.Int("exit_code", code))
	signal.Stop(sigs)
	return code
}
