package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
)

// eventLog records the events an observer sees, safely from any
// goroutine.
type eventLog struct {
	mu     sync.Mutex
	events []shutdown.Event
}

func (l *eventLog) observe(e shutdown.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []shutdown.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]shutdown.Event(nil), l.events...)
}

// lines renders the events as "kind name status" lines.
func (l *eventLog) lines() []string {
	var out []string
	for _, e := range l.all() {
		switch e.Kind {
		case shutdown.HookStarted:
			out = append(out, fmt.Sprintf("%s %s", e.Kind, e.Hook.Name))
		case shutdown.HookEnded:
			out = append(out, fmt.Sprintf("%s %s %s", e.Kind, e.Hook.Name, e.Hook.Status))
		default:
			out = append(out, e.Kind.String())
		}
	}
	return out
}

// An observer sees the trigger, each hook's start and end in the order
// they ran, the hooks the shutdown ended, and the completion with the
// final report, before Done is closed.
func TestObserveEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newTest(t, shutdown.WithTimeout(10*time.Second))
		var log eventLog
		c.Observe(log.observe)
		doneAtCompleted := true
		c.Observe(func(e shutdown.Event) {
			if e.Kind == shutdown.Completed {
				select {
				case <-c.Done():
					doneAtCompleted = false
				default:
				}
			}
		})
		release := make(chan struct{})
		defer close(release)
		errFlush := errors.New("disk full")
		c.Register("never reached", func(context.Context) error { return nil })
		c.Register("hangs", func(context.Context) error { <-release; return nil })
		c.Register("flush", func(context.Context) error { return errFlush })
		c.Register("http", func(context.Context) error { return nil })

		t0 := time.Now()
		cause := errors.New("deploy")
		rep := c.Shutdown(cause)
		assert.Equal(t, []string{
			"triggered",
			"hook started http", "hook ended http ok",
			"hook started flush", "hook ended flush failed",
			"hook started hangs",
			"hook ended hangs timed out", "hook ended never reached skipped",
			"completed",
		}, log.lines())

		events := log.all()
		assert.Equal(t, cause, events[0].Cause)
		assert.Equal(t, t0.Add(10*time.Second), events[0].Deadline)
		assert.ErrorIs(t, events[4].Hook.Err, errFlush)
		last := events[len(events)-1]
		assert.Same(t, rep, last.Report)
		assert.Equal(t, cause, last.Cause)
		assert.True(t, doneAtCompleted, "Completed comes before Done is closed")
	})
}

// Observers count failures per hook without parsing the log: what a
// metrics system needs.
func ExampleCoordinator_Observe() {
	c := shutdown.New(quiet...)
	failures := map[string]int{} // e.g. a Prometheus counter vector
	var mu sync.Mutex
	c.Observe(func(e shutdown.Event) {
		if e.Kind == shutdown.HookEnded && e.Hook.Status != shutdown.OK {
			mu.Lock()
			failures[e.Hook.Name+" "+e.Hook.Status.String()]++
			mu.Unlock()
		}
	})
	c.Register("db", shutdown.Func(func() {}))
	c.Register("queue", func(context.Context) error { return errors.New("broker gone") })
	c.Shutdown(nil)
	fmt.Println(failures)
	// Output:
	// map[queue failed:1]
}

// A panicking observer is recovered and logged; the others and the
// shutdown go on.
func TestObservePanicIsRecovered(t *testing.T) {
	sink := newLogSink()
	c, _, _ := newTest(t, shutdown.WithLogger(sink.logger()))
	c.Observe(func(shutdown.Event) { panic("metrics exploded") })
	var log eventLog
	c.Observe(log.observe)
	c.Register("h", func(context.Context) error { return nil })
	rep := c.Shutdown(nil)
	require.NoError(t, rep.Err())
	assert.Len(t, log.all(), 4, "the next observer still sees every event")
	n := 0
	for _, r := range sink.records() {
		if r.Message == "shutdown: observer panicked" {
			n++
		}
	}
	assert.Equal(t, 4, n, "each panic is logged")
}

// An observer that blocks cannot hold the shutdown: the hooks' events come
// from goroutines the coordinator leaves behind at the deadline, and the
// last events are waited for until the deadline, or FinalGrace past it.
func TestObserveSlowObserverIsLeftBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, rec := newTest(t, shutdown.WithTimeout(10*time.Second))
		release := make(chan struct{})
		defer close(release)
		c.Observe(func(e shutdown.Event) {
			if e.Kind == shutdown.HookEnded || e.Kind == shutdown.Completed {
				<-release
			}
		})
		c.Register("b", func(context.Context) error { return nil })
		c.Register("a", func(context.Context) error { return nil })
		t0 := time.Now()
		rep := c.Shutdown(nil)
		assert.Equal(t, 10*time.Second+shutdown.FinalGrace, time.Since(t0))
		assert.Equal(t, shutdown.OK, result(t, rep, "a").Status, "its outcome was final before the observers were told")
		assert.Equal(t, shutdown.Skipped, result(t, rep, "b").Status, "the observer held the walker past the deadline")
		assert.Empty(t, rec.Codes(), "a caller waits: nobody else ends the process")
	})
}

// An observer added during the shutdown sees the events from then on.
func TestObserveAddedDuringShutdown(t *testing.T) {
	c, _, _ := newTest(t)
	var log eventLog
	c.Register("second", func(context.Context) error { return nil })
	c.Register("first", func(context.Context) error { c.Observe(log.observe); return nil })
	c.Shutdown(nil)
	assert.Equal(t, []string{"hook ended first ok", "hook started second", "hook ended second ok", "completed"}, log.lines())
}

func TestObserveNilPanics(t *testing.T) {
	c, _, _ := newTest(t)
	assert.PanicsWithValue(t, "shutdown: Observe: nil function", func() { c.Observe(nil) })
}

func TestEventKindString(t *testing.T) {
	assert.Equal(t, "triggered", shutdown.Triggered.String())
	assert.Equal(t, "completed", shutdown.Completed.String())
	assert.Equal(t, "EventKind(9)", shutdown.EventKind(9).String())
}
