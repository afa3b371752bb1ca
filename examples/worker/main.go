// Command worker consumes jobs numbered 1, 2, 3, … and hands each result to
// a batching producer (kafka-python's producer, in Go) that buffers them in
// memory and writes them to -out every -batch results or -interval.
//
// On SIGTERM it stops taking jobs, finishes the one in flight, flushes,
// fsyncs, prints "flushed N" and exits 0; -out then holds exactly the ids
// 1..N, one a line. If the flush cannot finish within -flush-timeout it
// prints "unflushed K" and exits 1: results are never lost silently.
// -timeout bounds the whole shutdown. -flush-timeout must be shorter, so
// that the summary line always gets printed; left at its default it
// shrinks to half of -timeout, so that -timeout works on its own.
//
//	go build -o /tmp/worker ./examples/worker
//	/tmp/worker -out /tmp/results.txt & sleep 2; kill -15 $!
//
// Two flags are test seams, used by the process tests: -sink-hang makes
// every write to -out block forever (a dead disk or network mount; the
// first such write says so on stderr), and -no-graceful leaves out the
// shutdown flush, the regression the tests must catch.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	out := flag.String("out", "results.txt", "file the results are written to (truncated first)")
	batch := flag.Int("batch", 100, "write when this many results are buffered")
	interval := flag.Duration("interval", 200*time.Millisecond, "write at least this often")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on the whole shutdown")
	flushTimeout := flag.Duration("flush-timeout", 5*time.Second, "bound on the final flush and fsync; left at its default, at most half of -timeout")
	job := flag.Duration("job", time.Millisecond, "how long each job takes")
	sinkHang := flag.Bool("sink-hang", false, "test seam: writes to -out never return")
	noGraceful := flag.Bool("no-graceful", false, "test seam: no flush at shutdown")
	flag.Parse()
	if err := fit(flushTimeout, *timeout); err != nil {
		log.Fatal(err)
	}

	file, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	var w sink = file
	if *sinkHang { // test seam, see above
		w = &hangingSink{sink: file, name: *out}
	}
	p := newProducer(w, max(*batch, 1), *interval)

	c := shutdown.New(shutdown.WithTimeout(*timeout))
	// LIFO: the consumer stops first and hands over its last result, then
	// the flush runs, bounded by its own timeout so that the summary after
	// it always gets to say what was lost.
	c.Register("summary", p.summary)
	if !*noGraceful { // test seam: the flush left out
		c.Register("flush", p.close, shutdown.Timeout(*flushTimeout))
	}
	c.Go("consume", func(ctx context.Context) error {
		for id := 1; ctx.Err() == nil; id++ {
			time.Sleep(*job) // the job
			p.send(id)
		}
		return nil
	})
	fmt.Println("consuming jobs into", *out)
	os.Exit(c.Wait().ExitCode())
}

// fit shrinks a flush timeout left at its default to half of the whole
// timeout, so that -timeout works on its own; an explicit one that leaves
// the summary no time is an error.
func fit(flushTimeout *time.Duration, timeout time.Duration) error {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "flush-timeout" })
	switch {
	case timeout <= 0 || *flushTimeout <= 0:
		return errors.New("-timeout and -flush-timeout must be positive")
	case !set:
		*flushTimeout = min(*flushTimeout, timeout/2)
	case *flushTimeout >= timeout:
		return errors.New("-flush-timeout must be shorter than -timeout")
	}
	return nil
}

// hangingSink is the -sink-hang seam: its writes never return. The first
// one says so on stderr, so that a test knows results are stuck behind it.
type hangingSink struct {
	sink
	name string
	once sync.Once
}

func (s *hangingSink) Write([]byte) (int, error) {
	s.once.Do(func() { fmt.Fprintf(os.Stderr, "worker: a write to %s hangs\n", s.name) })
	select {}
}
