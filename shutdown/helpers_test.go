package shutdown_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"testing"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// The first signal.Notify of a process starts the runtime's signal
// goroutines. Started inside a synctest bubble (the coordinator's first
// trigger catches SIGPIPE), they would belong to it, and the runtime aborts
// with "select on synctest channel from outside bubble". Start them here,
// outside any bubble; Stop leaves the signal as it was.
func init() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	signal.Stop(ch)
}

// exitRecorder is an exit func that records the codes it is called with and
// returns, so a test can assert how the process would have ended.
type exitRecorder struct {
	mu    sync.Mutex
	codes []int
}

// Exit records code. Pass it to shutdown.WithExitFunc.
func (r *exitRecorder) Exit(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes = append(r.codes, code)
}

// Codes returns a copy of the codes recorded so far, in call order.
func (r *exitRecorder) Codes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.codes)
}

// newTest returns a coordinator that listens to a fake signal source, logs
// nowhere and exits through a recorder; opts come after these defaults, so a
// test can override any of them. A t.Cleanup shuts the coordinator down so
// its goroutine never outlives the test.
func newTest(t testing.TB, opts ...shutdown.Option) (*shutdown.Coordinator, *signals.Fake, *exitRecorder) {
	t.Helper()
	fake := signals.NewFake()
	rec := &exitRecorder{}
	all := append([]shutdown.Option{
		shutdown.WithSignalSource(fake),
		shutdown.WithLogger(slog.New(slog.DiscardHandler)),
		shutdown.WithExitFunc(rec.Exit),
	}, opts...)
	c := shutdown.New(all...)
	t.Cleanup(func() { c.Shutdown(nil) })
	return c, fake, rec
}

// recorder collects names in the order hooks append them, safely from
// any goroutine.
type recorder struct {
	mu    sync.Mutex
	names []string
}

func (r *recorder) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, name)
}

// Names returns a copy of the names recorded so far.
func (r *recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.names)
}

// hook returns a hook that records name and returns nil.
func (r *recorder) hook(name string) shutdown.Hook {
	return func(context.Context) error {
		r.add(name)
		return nil
	}
}

// names returns the hook names of a report, in report order.
func names(rep *shutdown.Report) []string {
	out := make([]string, 0, len(rep.Hooks))
	for _, h := range rep.Hooks {
		out = append(out, h.Name)
	}
	return out
}

// result returns the report entry for the hook called name, failing the
// test if there is none.
func result(t testing.TB, rep *shutdown.Report, name string) shutdown.HookResult {
	t.Helper()
	for _, h := range rep.Hooks {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no hook %q in report %v", name, names(rep))
	return shutdown.HookResult{}
}
