package shutdown_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// patience bounds every wait for something that should happen promptly. It
// is generous because tests run under -race on two busy cores; a wait that
// runs out means a deadlock or a lost wake-up, not a slow machine. Inside a
// synctest bubble it is fake time, and a deadlock fails at once.
const patience = 10 * time.Second

// mustReturn runs f on a goroutine of its own and fails the test if f has
// not returned within patience.
func mustReturn(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(patience)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not return within %v", what, patience)
	}
}

// mustRecv receives from ch, failing the test if nothing arrives within
// patience. A closed channel counts as received.
func mustRecv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(patience)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %v", what, patience)
	}
	var zero T
	return zero
}

// exitCalls is an exit func that hands every code it is called with to the
// test through a buffered channel, so a test can wait for the call.
type exitCalls chan int

func newExitCalls() exitCalls { return make(exitCalls, 16) }

// exit is the func to pass to shutdown.WithExitFunc. It never blocks.
func (e exitCalls) exit(code int) {
	select {
	case e <- code:
	default: // 16 calls: the assertions on codes fail anyway
	}
}

// codes returns the codes received so far and not yet taken, without
// waiting.
func (e exitCalls) codes() []int {
	var out []int
	for {
		select {
		case code := <-e:
			out = append(out, code)
		default:
			return out
		}
	}
}

// logSink is a slog.Handler that keeps every record, for tests of what the
// coordinator logs. It is safe for concurrent use.
type logSink struct {
	mu     *sync.Mutex
	recs   *[]logRecord
	attrs  []slog.Attr
	prefix string // groups, joined with dots
}

// logRecord is one record the sink kept, its attributes resolved and keyed
// by name.
type logRecord struct {
	Level   slog.Level
	Message string
	Attrs   map[string]slog.Value
}

func newLogSink() *logSink { return &logSink{mu: new(sync.Mutex), recs: new([]logRecord)} }

// logger returns a logger writing to the sink.
func (s *logSink) logger() *slog.Logger { return slog.New(s) }

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Message: r.Message, Attrs: map[string]slog.Value{}}
	for _, a := range s.attrs {
		rec.Attrs[a.Key] = a.Value.Resolve()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[s.prefix+a.Key] = a.Value.Resolve()
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.recs = append(*s.recs, rec)
	return nil
}

func (s *logSink) WithAttrs(as []slog.Attr) slog.Handler {
	c := *s
	c.attrs = slices.Clone(s.attrs)
	for _, a := range as {
		c.attrs = append(c.attrs, slog.Attr{Key: s.prefix + a.Key, Value: a.Value})
	}
	return &c
}

func (s *logSink) WithGroup(name string) slog.Handler {
	c := *s
	c.prefix = s.prefix + name + "."
	return &c
}

// records returns a copy of the records kept so far, in the order they
// were written.
func (s *logSink) records() []logRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(*s.recs)
}

// hookRecords returns the records about one hook (those with a "hook"
// attribute), keyed by hook name, and the names in the order logged.
func hookRecords(recs []logRecord) (map[string]logRecord, []string) {
	byName := map[string]logRecord{}
	var order []string
	for _, r := range recs {
		if v, ok := r.Attrs["hook"]; ok {
			byName[v.String()] = r
			order = append(order, v.String())
		}
	}
	return byName, order
}

// text renders every attribute of the record, sorted by key, for
// assertions on what a record names.
func (r logRecord) text() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(r.Attrs)) {
		fmt.Fprintf(&b, "%s=%v ", k, r.Attrs[k].Any())
	}
	return r.Message + " " + b.String()
}
