// Command lastcall is the smallest program using package shutdown: a
// coordinator on the default signals, one hook, the exit code of its
// report. procbench measures its binary's size against cmd/minimal/hand.
package main

import (
	"context"
	"os"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	c := shutdown.New()
	c.Register("close", func(context.Context) error { return nil })
	os.Exit(c.Wait().ExitCode())
}
