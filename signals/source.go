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
var OS Source = osSource{}

type osSource struct{}

func (osSource) Notify(ch chan<- os.Signal, sigs ...os.Signal) { signal.Notify(ch, sigs...) }
func (osSource) Stop(ch chan<- os.Signal)                      { signal.Stop(ch) }
