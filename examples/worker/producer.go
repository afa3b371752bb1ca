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
	"time"
)

// A sink is where a producer writes: a file, in this example.
type sink interface {
	io.WriteCloser
	Sync() error
}

// A producer batches results in memory and writes them to a sink, the way
// kafka-python's KafkaProducer batches records: send only appends to the
// batch; a background goroutine writes the batch when it holds size
// results, and every interval whatever it holds; close writes what is
// left, fsyncs and closes the sink. Unlike KafkaProducer, whose buffer is
// bounded by buffer_memory, the batch grows without bound while the sink
// is slow: send never blocks.
//
// The counters tell what would be lost: a result is flushed once it has
// been written and fsynced. After a write error the producer writes
// nothing more, so the sink never holds a gap.
type producer struct {
	w    sink
	out  io.Writer // where summary prints; os.Stdout
	size int
	full chan struct{} // a batch is full; buffered, never blocks send
	stop chan struct{} // closed by close
	done chan struct{} // closed when the background loop returns

	mu  sync.Mutex
	buf []int

	sent    atomic.Int64 // handed to send
	written atomic.Int64 // written to the sink
	synced  atomic.Int64 // written and fsynced: flushed
	err     error        // the first write error; only the writing goroutine touches it
}

func newProducer(w sink, size int, interval time.Duration) *producer {
	p := &producer{
		w:    w,
		out:  os.Stdout,
		size: size,
		full: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go p.loop(interval)
	return p
}

// send hands one result to the producer. It never blocks on the sink.
func (p *producer) send(id int) {
	p.mu.Lock()
	p.buf = append(p.buf, id)
	p.sent.Add(1)
	n := len(p.buf)
	p.mu.Unlock()
	if n >= p.size {
		select {
		case p.full <- struct{}{}:
		default:
		}
	}
}

// loop is the only writer until close: it writes a batch when one is full
// or when interval has passed.
func (p *producer) loop(interval time.Duration) {
	defer close(p.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		case <-p.full:
		}
		p.write()
	}
}

// write writes the buffered results to the sink, in order.
func (p *producer) write() {
	p.mu.Lock()
	ids := p.buf
	p.buf = nil
	p.mu.Unlock()
	if len(ids) == 0 || p.err != nil {
		return
	}
	b := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, '\n')
	}
	if _, err := p.w.Write(b); err != nil {
		p.err = err
		return
	}
	p.written.Add(int64(len(ids)))
}

// close stops the background loop, writes what is left, fsyncs and closes
// the sink. It is the shutdown hook: if the loop is stuck in a write past
// ctx, close returns ctx's error and the results not flushed stay counted
// in unflushed. A write of its own that hangs is abandoned by the
// coordinator at the deadline, with the same outcome.
func (p *producer) close(ctx context.Context) error {
	close(p.stop)
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.write()
	if p.err != nil {
		return errors.Join(p.err, p.w.Close())
	}
	n := p.written.Load()
	if err := p.w.Sync(); err != nil {
		return errors.Join(err, p.w.Close())
	}
	p.synced.Store(n)
	return p.w.Close()
}

// summary prints "flushed N", N results written and fsynced, or, if any
// result handed to send was not, "unflushed K" and returns an error, so
// that the exit code says it too. It is the last shutdown hook; it reads
// only counters, so a write stuck in the sink cannot hold it.
func (p *producer) summary(context.Context) error {
	synced := p.synced.Load()
	if k := p.sent.Load() - synced; k > 0 {
		fmt.Fprintln(p.out, "unflushed", k)
		return fmt.Errorf("%d results not flushed", k)
	}
	fmt.Fprintln(p.out, "flushed", synced)
	return nil
}
