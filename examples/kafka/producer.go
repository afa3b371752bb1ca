package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A producer hands records to a franz-go client and counts what the
// brokers acknowledged: a record is produced once its promise has been
// called without an error.
//
// Jobs wait for room in the client's buffer before they are taken (reserve),
// so that Produce never blocks: a Produce blocked on a full buffer, with a
// context that must outlive the trigger, would hold the consume task past
// it until the whole deadline.
type producer struct {
	cl    *kgo.Client
	slots chan struct{} // one per record buffered in the client
	out   io.Writer     // where summary prints; os.Stdout

	sent   atomic.Int64 // handed to Produce
	acked  atomic.Int64 // acknowledged by the brokers
	failed atomic.Int64 // failed by the client

	mu  sync.Mutex
	err error // the first error a record failed with
}

func newProducer(cl *kgo.Client, buffer int) *producer {
	return &producer{cl: cl, slots: make(chan struct{}, buffer), out: os.Stdout}
}

// reserve waits for room for one more record, and reports false, taking no
// room, once ctx is done: the consumer then takes no more jobs.
func (p *producer) reserve(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if ctx.Err() != nil {
		<-p.slots
		return false
	}
	return true
}

// produce hands the record of job id to the client, in the room reserve
// took. ctx is the record's context: the client fails the record if ctx is
// canceled before the record is sent.
func (p *producer) produce(ctx context.Context, id int64) {
	p.sent.Add(1)
	rec := &kgo.Record{Partition: 0, Value: strconv.AppendInt(nil, id, 10)}
	p.cl.Produce(ctx, rec, p.promise)
}

// promise is called by the client once per record, serially; it must not
// block.
func (p *producer) promise(_ *kgo.Record, err error) {
	<-p.slots
	if err == nil {
		p.acked.Add(1)
		return
	}
	p.failed.Add(1)
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// flush waits for every buffered record to be acknowledged or failed,
// until ctx ends. Flush alone does not tell records that failed from
// records that were acknowledged: a client whose records were canceled
// flushes at once and returns nil. The failures are counted here.
func (p *producer) flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	if n := p.failed.Load(); n > 0 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("%d records failed, the first with: %w", n, p.err)
	}
	return nil
}

// summary prints "produced N", N records acknowledged, or, if any record
// handed to the client was not acknowledged, "unflushed K" and returns an
// error, so that the exit code says it too. It reads only counters, so a
// client stuck on a broker cannot hold it.
func (p *producer) summary(context.Context) error {
	acked := p.acked.Load()
	if k := p.sent.Load() - acked; k > 0 {
		fmt.Fprintln(p.out, "unflushed", k)
		return fmt.Errorf("%d records not acknowledged", k)
	}
	fmt.Fprintln(p.out, "produced", acked)
	return nil
}

// createTopic creates topic with one partition unless it exists. Its
// request is the first the client sends: it tells whether the brokers
// answer.
func createTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	_, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	return err
}

// readBack reads topic from its start to its end and prints what it
// found. It fails if the topic does not hold 1, 2, 3, … in order, once
// each, or, when every record was acknowledged, if it holds a number of
// records other than the one acknowledged.
func readBack(ctx context.Context, seeds []string, topic string, p *producer, out io.Writer) error {
	ids, err := readTopic(ctx, seeds, topic)
	if err != nil {
		return err
	}
	n, err := sequence(ids)
	if err == nil && p.sent.Load() == p.acked.Load() && int64(n) != p.acked.Load() {
		err = fmt.Errorf("holds %d records, %d acknowledged", n, p.acked.Load())
	}
	if err != nil {
		fmt.Fprintf(out, "read back %s: %v\n", topic, err)
		return err
	}
	fmt.Fprintf(out, "read back %s: %d records, 1..%d in order, once each\n", topic, n, n)
	return nil
}

// sequence checks that ids are 1, 2, 3, … and returns how many there are.
func sequence(ids []int64) (int, error) {
	for i, id := range ids {
		if id != int64(i+1) {
			return i, fmt.Errorf("record %d of %d is %d, want %d", i+1, len(ids), id, i+1)
		}
	}
	return len(ids), nil
}

// readTopic returns the ids held by partition 0 of topic, from its start
// to the end it has when readTopic starts.
func readTopic(ctx context.Context, seeds []string, topic string) ([]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("end offset of %s: %v", topic, end.Err)
	}
	var ids []int64
	for next := int64(0); next < end.Offset; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, e := range fs.Errors() {
			return nil, fmt.Errorf("fetch %s: %w", topic, e.Err)
		}
		for r := range fs.RecordsAll() {
			id, err := strconv.ParseInt(string(r.Value), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("record at offset %d: %q is not an id", r.Offset, r.Value)
			}
			ids = append(ids, id)
			next = r.Offset + 1
		}
	}
	return ids, nil
}
