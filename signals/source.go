package signals

import (
	"os"
	"os/signal"
)

// Source delivers operating-system signals to channels. Its methods have the
// contract of os/signal's Notify and Stop: Notify with no signals means every
// signal; delivery never blocks, so a signal arriving while the channel is
// full is dropped; after Stop returns, the channel receives no more signals.
type Source interface {
	Notify(ch chan<- os.Signal, sigs ...os.Signal)
	Stop(ch chan<- os.Signal)
}

// OS is the Source backed by os/signal.
//
// Unlike a bare signal.Notify, OS.Notify leaves alone a signal that is
// ignored when it is called: a program started with SIGINT ignored (a
// background job of a shell script, `cmd &`) or SIGHUP ignored (nohup) was
// made immune on purpose by whoever started it, and signal.Notify would
// silently undo that. Such a signal is not delivered; the others are.
var OS Source = osSource{}

type osSource struct{}

func (osSource) Notify(ch chan<- os.Signal, sigs ...os.Signal) {
	if len(sigs) == 0 {
		signal.Notify(ch)
		return
	}
	wanted := make([]os.Signal, 0, len(sigs))
	for _, s := range sigs {
		if !signal.Ignored(s) {
			wanted = append(wanted, s)
		}
	}
	if len(wanted) > 0 {
		signal.Notify(ch, wanted...)
	}
}

func (osSource) Stop(ch chan<- os.Signal) { signal.Stop(ch) }
