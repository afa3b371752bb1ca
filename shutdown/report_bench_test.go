package shutdown_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/signals"
)

// BenchmarkForcedReport measures the forced path with a report of 1,000
// hooks: from a second SIGTERM, while 500 hooks of a stage hang and 500
// more wait their turn, to the exit func, through the report (every hook
// recorded), its file and its func. The target (BENCHMARKS.md) is 10 ms.
func BenchmarkForcedReport(b *testing.B) {
	const hooks = 1000
	path := filepath.Join(b.TempDir(), "termination-log")
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		fake := signals.NewFake()
		exited := make(chan time.Time, 1)
		c := shutdown.New(shutdown.WithSignalSource(fake), shutdown.WithTimeout(time.Hour),
			shutdown.WithLogger(slog.New(slog.NewJSONHandler(discard{}, nil))),
			shutdown.WithReportFile(path), shutdown.WithReportFunc(func(*shutdown.Report) {}),
			shutdown.WithExitFunc(func(int) { exited <- time.Now() }))
		release := make(chan struct{})
		var started sync.WaitGroup
		started.Add(hooks / 2)
		for range hooks / 2 {
			c.Register("waits", func(context.Context) error { return nil })
		}
		s := c.Stage("hangs")
		for range hooks / 2 {
			s.Register("hangs", func(context.Context) error { started.Done(); <-release; return nil })
		}
		fake.Send(syscall.SIGTERM)
		started.Wait()
		b.StartTimer()

		sent := time.Now()
		fake.Send(syscall.SIGTERM)
		total += (<-exited).Sub(sent)

		b.StopTimer()
		<-c.Done()
		close(release)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-to-exit")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
