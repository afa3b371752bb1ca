package signals

import (
	"os"
	"sync"
)

// Fake is a Source for tests: it delivers only the signals given to Send.
// It is safe for concurrent use.
type Fake struct {
	mu   sync.Mutex
	subs map[chan<- os.Signal][]os.Signal // nil slice: every signal
}

// NewFake returns a Fake with no channels registered.
func NewFake() *Fake { return &Fake{subs: make(map[chan<- os.Signal][]os.Signal)} }

// Notify registers ch for sigs (every signal when sigs is empty), adding to
// any earlier registration of ch. It panics if ch is nil, as os/signal does.
func (f *Fake) Notify(ch chan<- os.Signal, sigs ...os.Signal) {
	if ch == nil {
		panic("signals: Fake.Notify using nil channel")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.subs[ch]
	switch {
	case len(sigs) == 0:
		f.subs[ch] = nil
	case ok && old == nil:
		// already subscribed to every signal
	default:
		f.subs[ch] = append(old, sigs...)
	}
}

// Stop unregisters ch. After Stop returns, Send delivers nothing more to ch.
func (f *Fake) Stop(ch chan<- os.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, ch)
}

// Send delivers sig to every channel registered for it, without blocking:
// like os/signal, it drops the signal for a channel whose buffer is full.
// It reports how many channels received it.
func (f *Fake) Send(sig os.Signal) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for ch, sigs := range f.subs {
		if !wants(sigs, sig) {
			continue
		}
		select {
		case ch <- sig:
			n++
		default:
		}
	}
	return n
}

// Watching reports how many channels are registered for sig: a test can
// assert that a coordinator released its signals.
func (f *Fake) Watching(sig os.Signal) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, sigs := range f.subs {
		if wants(sigs, sig) {
			n++
		}
	}
	return n
}

func wants(sigs []os.Signal, sig os.Signal) bool {
	if sigs == nil {
		return true
	}
	for _, s := range sigs {
		if s == sig {
			return true
		}
	}
	return false
}
