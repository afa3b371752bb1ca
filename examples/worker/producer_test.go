package main

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memSink is a sink in memory. Writes block while gate is set and not
// closed, and fail with failAt from that write on (1-based; 0: never).
type memSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	synced string // the content at the last Sync
	closed bool
	failAt int
	gate   chan struct{}
}

func (s *memSink) Write(b []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.failAt > 0 && s.writes >= s.failAt {
		return 0, errors.New("disk full")
	}
	return s.buf.Write(b)
}

func (s *memSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced = s.buf.String()
	return nil
}

func (s *memSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *memSink) state() (content string, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

func TestProducerBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &memSink{}
		p := newProducer(s, 3, time.Hour)
		p.send(1)
		p.send(2)
		synctest.Wait()
		_, writes := s.state()
		assert.Zero(t, writes, "a batch is written only when full")
		p.send(3)
		synctest.Wait()
		content, writes := s.state()
		assert.Equal(t, "1\n2\n3\n", content)
		assert.Equal(t, 1, writes)
		require.NoError(t, p.close(t.Context()))
	})
}

func TestProducerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &memSink{}
		p := newProducer(s, 100, 10*time.Millisecond)
		p.send(1)
		time.Sleep(9 * time.Millisecond)
		synctest.Wait()
		_, writes := s.state()
		assert.Zero(t, writes)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		content, _ := s.state()
		assert.Equal(t, "1\n", content, "written when the interval has passed")
		require.NoError(t, p.close(t.Context()))
	})
}

func TestProducerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &memSink{}
		p := newProducer(s, 2, time.Hour)
		for id := 1; id <= 5; id++ {
			p.send(id)
		}
		require.NoError(t, p.close(t.Context()))
		assert.Equal(t, "1\n2\n3\n4\n5\n", s.synced, "close writes the rest and fsyncs")
		assert.True(t, s.closed)
		var out bytes.Buffer
		p.out = &out
		assert.NoError(t, p.summary(t.Context()))
		assert.Equal(t, "flushed 5\n", out.String())
	})
}

// TestProducerStuck: a write that never returns holds close only until
// its context ends, and the results behind it are counted as unflushed.
func TestProducerStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &memSink{gate: make(chan struct{})}
		p := newProducer(s, 1, time.Hour)
		p.send(1)
		p.send(2)
		synctest.Wait() // the loop is stuck writing
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		assert.ErrorIs(t, p.close(ctx), context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
		var out bytes.Buffer
		p.out = &out
		assert.ErrorContains(t, p.summary(t.Context()), "2 results not flushed")
		assert.Equal(t, "unflushed 2\n", out.String())
		close(s.gate) // let the loop return, so the bubble ends
	})
}

// TestProducerWriteError: after a failed write nothing more is written, so
// the sink never holds a gap; close reports the error and the results are
// counted as unflushed.
func TestProducerWriteError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &memSink{failAt: 2}
		p := newProducer(s, 1, time.Hour)
		p.send(1)
		synctest.Wait()
		p.send(2)
		synctest.Wait()
		p.send(3)
		err := p.close(t.Context())
		assert.ErrorContains(t, err, "disk full")
		content, _ := s.state()
		assert.Equal(t, "1\n", content)
		assert.True(t, s.closed)
		var out bytes.Buffer
		p.out = &out
		assert.ErrorContains(t, p.summary(t.Context()), "3 results not flushed")
		assert.Equal(t, "unflushed 3\n", out.String())
	})
}
