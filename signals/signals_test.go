package signals_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lastcall-go/lastcall/signals"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDefault(t *testing.T) {
	got := signals.Default()
	if runtime.GOOS == "windows" {
		assert.Equal(t, []os.Signal{os.Interrupt, syscall.SIGTERM}, got)
	} else {
		assert.Equal(t, []os.Signal{syscall.SIGINT, syscall.SIGTERM}, got)
	}
	got[0] = nil
	assert.NotNil(t, signals.Default()[0], "each call returns a new slice")
}

type customSignal struct{}

func (customSignal) String() string { return "custom" }
func (customSignal) Signal()        {}

func TestExitCode(t *testing.T) {
	assert.Equal(t, 143, signals.ExitCode(syscall.SIGTERM))
	assert.Equal(t, 130, signals.ExitCode(syscall.SIGINT))
	assert.Equal(t, 130, signals.ExitCode(os.Interrupt))
	assert.Equal(t, 129, signals.ExitCode(syscall.SIGHUP))
	assert.Equal(t, 1, signals.ExitCode(customSignal{}), "a signal with no number")
	assert.Equal(t, 1, signals.ExitCode(nil))
}

func TestError(t *testing.T) {
	var err error = fmt.Errorf("wrapped: %w", &signals.Error{Signal: syscall.SIGTERM})
	var se *signals.Error
	require.True(t, errors.As(err, &se))
	assert.Equal(t, syscall.SIGTERM, se.Signal)
	assert.Equal(t, "signal: terminated", se.Error())
	assert.Equal(t, "signal: <nil>", (&signals.Error{}).Error())
}

func TestFakeDeliversOnlyWhatIsAskedFor(t *testing.T) {
	f := signals.NewFake()
	term := make(chan os.Signal, 1)
	all := make(chan os.Signal, 4)
	f.Notify(term, syscall.SIGTERM)
	f.Notify(all)

	assert.Equal(t, 2, f.Send(syscall.SIGTERM))
	assert.Equal(t, syscall.SIGTERM, <-term)
	assert.Equal(t, syscall.SIGTERM, <-all)

	assert.Equal(t, 1, f.Send(syscall.SIGINT), "only the channel registered for every signal")
	assert.Equal(t, syscall.SIGINT, <-all)
	select {
	case s := <-term:
		t.Fatalf("term got %v", s)
	default:
	}
}

func TestFakeNotifyAddsSignals(t *testing.T) {
	f := signals.NewFake()
	ch := make(chan os.Signal, 2)
	f.Notify(ch, syscall.SIGTERM)
	f.Notify(ch, syscall.SIGINT)
	assert.Equal(t, 1, f.Watching(syscall.SIGTERM))
	assert.Equal(t, 1, f.Watching(syscall.SIGINT))
	assert.Equal(t, 0, f.Watching(syscall.SIGHUP))
	f.Notify(ch) // now every signal
	f.Notify(ch, syscall.SIGQUIT)
	assert.Equal(t, 1, f.Watching(syscall.SIGHUP), "still every signal")
}

func TestFakeDropsWhenFull(t *testing.T) {
	f := signals.NewFake()
	ch := make(chan os.Signal, 1)
	f.Notify(ch, syscall.SIGTERM)
	assert.Equal(t, 1, f.Send(syscall.SIGTERM))
	assert.Equal(t, 0, f.Send(syscall.SIGTERM), "a full channel drops the signal, as os/signal does")
	assert.Len(t, ch, 1)
}

func TestFakeStop(t *testing.T) {
	f := signals.NewFake()
	ch := make(chan os.Signal, 1)
	f.Notify(ch, syscall.SIGTERM)
	f.Stop(ch)
	assert.Equal(t, 0, f.Watching(syscall.SIGTERM))
	assert.Equal(t, 0, f.Send(syscall.SIGTERM))
	f.Stop(ch) // stopping twice is harmless
}

func TestFakeNilChannelPanics(t *testing.T) {
	assert.PanicsWithValue(t, "signals: Fake.Notify using nil channel", func() {
		signals.NewFake().Notify(nil, syscall.SIGTERM)
	})
}
