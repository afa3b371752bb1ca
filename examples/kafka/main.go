// Command kafka is kafka-python's flush-at-exit scenario with a real Kafka
// client (franz-go): it consumes jobs numbered 1, 2, 3, … and produces each
// id as one record (the id in decimal) to -topic, one partition, created if
// missing, on -brokers, with an idempotent producer that batches with
// -linger.
//
// On SIGTERM it stops taking jobs, flushes what is buffered within
// -flush-timeout, prints "produced N" (N records acknowledged) and exits
// 0: the topic then holds exactly 1..N, in order, once each. A flush that
// cannot finish prints "unflushed K" and exits 1: records are never lost
// silently.
//
//	go build -C examples/kafka -o /tmp/kafka .
//	/tmp/kafka & sleep 2; kill -15 $!
//
// With no -brokers it starts an embedded cluster (franz-go's kfake, in
// memory), and at the end reads the topic back and prints what it found.
// Brokers that do not answer within -start-timeout are an error at start:
// it says so and exits 1.
//
// The records are produced with the coordinator's InFlight context, not
// with the consume task's: the task's context is canceled at the trigger,
// and franz-go fails every buffered record whose context is canceled, after
// which Flush returns nil with the records gone. -no-inflight is the test
// seam that makes that mistake, so that the process tests can show they
// catch it.
//
// -timeout bounds the whole shutdown; -flush-timeout, left at its
// default, shrinks to half of it so that -timeout works on its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lastcall-go/lastcall/shutdown"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated seed brokers; empty: start an embedded cluster")
	topic := flag.String("topic", "jobs", "topic the records go to (one partition, created if missing)")
	linger := flag.Duration("linger", 20*time.Millisecond, "how long the producer waits to fill a batch")
	buffer := flag.Int("buffer", 10000, "at most this many records buffered; jobs wait for room")
	job := flag.Duration("job", time.Millisecond, "how long each job takes")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on the whole shutdown")
	flushTimeout := flag.Duration("flush-timeout", 5*time.Second, "bound on the final flush; left at its default, at most half of -timeout")
	startTimeout := flag.Duration("start-timeout", 10*time.Second, "how long the brokers have to answer at start")
	noInFlight := flag.Bool("no-inflight", false, "test seam: produce with the task's context")
	flag.Parse()
	if err := fit(flushTimeout, *timeout, *startTimeout, *buffer); err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		flag.Usage()
		os.Exit(2)
	}

	c := shutdown.New(shutdown.WithTimeout(*timeout))
	seeds, embedded := strings.Split(*brokers, ","), *brokers == ""
	if embedded {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			log.Fatal(err)
		}
		c.Register("cluster", shutdown.Func(cluster.Close)) // runs last
		seeds = cluster.ListenAddrs()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(*topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), // partition 0: one order
		kgo.ProducerLinger(*linger),
		kgo.MaxBufferedRecords(*buffer),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: the default, and it needs all acks
	)
	if err != nil {
		log.Fatal(err)
	}
	p := newProducer(cl, *buffer)
	c.Register("kafka", shutdown.Func(cl.Close))

	ctx, cancel := context.WithTimeout(c.Context(), *startTimeout)
	err = createTopic(ctx, cl, *topic)
	cancel()
	switch {
	case err != nil && c.Context().Err() != nil:
		fmt.Fprintln(os.Stderr, "kafka: stopped before the brokers answered")
		os.Exit(c.Wait().ExitCode())
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(os.Stderr, "kafka: brokers %s did not answer within %v\n", strings.Join(seeds, ","), *startTimeout)
		c.Exit(1)
	case err != nil:
		fmt.Fprintf(os.Stderr, "kafka: brokers %s: %v\n", strings.Join(seeds, ","), err)
		c.Exit(1)
	}

	// LIFO: the consumer stops first, then the flush, then the summary
	// says what was acknowledged, then the topic is read back, then the
	// client closes and the embedded cluster stops. The summary reads
	// only counters, before Close, so that a client stuck on a broker
	// cannot keep it from being printed; a record acknowledged after it
	// can only make it too pessimistic.
	if embedded {
		c.Register("read back", func(ctx context.Context) error {
			return readBack(ctx, seeds, *topic, p, os.Stdout)
		})
	}
	c.Register("summary", p.summary)
	c.Register("flush", p.flush, shutdown.Timeout(*flushTimeout))
	produceCtx := c.InFlight() // not canceled at the trigger
	c.Go("consume", func(ctx context.Context) error {
		if *noInFlight { // test seam, see above
			produceCtx = ctx
		}
		for id := int64(1); p.reserve(ctx); id++ {
			time.Sleep(*job) // the job
			p.produce(produceCtx, id)
		}
		return nil
	})
	fmt.Printf("producing to %s on %s\n", *topic, strings.Join(seeds, ","))
	os.Exit(c.Wait().ExitCode())
}

// fit shrinks a flush timeout left at its default to half of the whole
// timeout, so that -timeout works on its own and the hooks after the flush
// always get to run; an explicit one that leaves them no time is an error.
func fit(flushTimeout *time.Duration, timeout, startTimeout time.Duration, buffer int) error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case timeout <= 0 || *flushTimeout <= 0 || startTimeout <= 0:
		return errors.New("-timeout, -flush-timeout and -start-timeout must be positive")
	case buffer < 1:
		return errors.New("-buffer must be at least 1")
	case !set["flush-timeout"]:
		*flushTimeout = min(*flushTimeout, timeout/2)
	case *flushTimeout >= timeout:
		return fmt.Errorf("-flush-timeout %v must be shorter than -timeout %v", *flushTimeout, timeout)
	}
	return nil
}
