// Command worker consumes jobs numbered 1, 2, 3, … and hands each result to
// a batching producer (kafka-python's producer, in Go) that buffers them in
// memory and writes them to -out every -batch results or -interval.
//
// On SIGTERM it stops taking jobs, finishes the one in flight, flushes,
// fsyncs, prints "flushed N" and exits 0; -out then holds exactly the ids
// 1..N, one a line. If the flush cannot finish within -flush-timeout it
// prints "unflushed K" and exits 1: results are never lost silently.
// -timeout bounds the whole shutdown and must be longer, so that the
// summary line always gets printed.
//
//	go build -o /tmp/worker ./examples/worker
//	/tmp/worker -out /tmp/results.txt & sleep 2; kill -15 $!
//
// Two flags are test seams, used by the process tests: -sink-hang makes
// every write to -out block forever (a dead disk or network mount), and
// -no-graceful leaves out the shutdown flush, the regression the tests
// must catch.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	out := flag.String("out", "results.txt", "file the results are written to (truncated first)")
	batch := flag.Int("batch", 100, "write when this many results are buffered")
	interval := flag.Duration("interval", 200*time.Millisecond, "write at least this often")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on the whole shutdown")
	flushTimeout := flag.Duration("flush-timeout", 5*time.Second, "bound on the final flush and fsync")
	job := flag.Duration("job", time.Millisecond, "how long each job takes")
	sinkHang := flag.Bool("sink-hang", false, "test seam: writes to -out never return")
	noGraceful := flag.Bool("no-graceful", false, "test seam: no flush at shutdown")
	flag.Parse()
	if *flushTimeout >= *timeout {
		log.Fatal("-flush-timeout must be shorter than -timeout")
	}

	file, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	var w sink = file
	if *sinkHang { // test seam, see above
		w = hangingSink{file}
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

// hangingSink is the -sink-hang seam: its writes never return.
type hangingSink struct{ sink }

func (hangingSink) Write([]byte) (int, error) { select {} }
