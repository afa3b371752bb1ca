package shutdownhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
	"github.com/lastcall-go/lastcall/signals"
)

// probe serves one request to h and returns the status code and the
// Connection header.
func probe(h http.Handler) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	res := rec.Result()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("Connection")
}

// Behaviour 10: at the trigger, with no time passed, Readiness answers 503
// and Drain closes connections while the application still serves; the
// first hook starts only at the drain delay; both stay so after
// completion.
func TestReadinessAndDrainAtTheTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const drain = 5 * time.Second
		fake := signals.NewFake()
		c := shutdown.New(shutdown.WithSignalSource(fake), shutdown.WithLogger(slog.New(slog.DiscardHandler)),
			shutdown.WithExitFunc(func(int) {}), shutdown.WithDrainDelay(drain), shutdown.WithTimeout(time.Minute))
		ready := shutdownhttp.Readiness(c)
		served := 0
		app := shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			served++
			w.WriteHeader(http.StatusOK)
		}))
		started := make(chan time.Time, 1)
		c.Register("first", func(context.Context) error { started <- time.Now(); return nil })

		code, _ := probe(ready)
		assert.Equal(t, http.StatusOK, code, "ready before the trigger")
		code, conn := probe(app)
		assert.Equal(t, http.StatusOK, code)
		assert.Empty(t, conn, "Connection: close before the trigger")

		t0 := time.Now()
		require.Equal(t, 1, fake.Send(syscall.SIGTERM))
		synctest.Wait()

		require.Equal(t, t0, time.Now())
		code, _ = probe(ready)
		assert.Equal(t, http.StatusServiceUnavailable, code, "503 at once")
		code, conn = probe(app)
		assert.Equal(t, http.StatusOK, code, "the application still serves during the drain")
		assert.Equal(t, "close", conn)
		assert.Empty(t, started, "a hook started at the trigger")

		assert.Equal(t, drain, (<-started).Sub(t0), "the first hook starts at the drain delay")
		<-c.Done()
		code, _ = probe(ready)
		assert.Equal(t, http.StatusServiceUnavailable, code, "still 503 after completion")
		_, conn = probe(app)
		assert.Equal(t, "close", conn)
		assert.Equal(t, 3, served, "Drain calls the wrapped handler every time")
	})
}

// Readiness answers with no-store, so that no cache in front of the probe
// hides the turn to 503.
func TestReadinessHeaders(t *testing.T) {
	c := quietCoordinator(t)
	rec := httptest.NewRecorder()
	shutdownhttp.Readiness(c).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "ok\n", rec.Body.String())
}

func TestReadinessAndDrainProgrammingErrors(t *testing.T) {
	assert.PanicsWithValue(t, "shutdownhttp: Readiness: nil coordinator", func() { shutdownhttp.Readiness(nil) })
	assert.PanicsWithValue(t, "shutdownhttp: Drain: nil coordinator", func() {
		shutdownhttp.Drain(nil, http.NotFoundHandler())
	})
}
