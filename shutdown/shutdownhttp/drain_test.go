package shutdownhttp_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/shutdown/shutdownhttp"
)

func drainCoordinator(t *testing.T) *shutdown.Coordinator {
	c := shutdown.New(shutdown.WithSignals(), shutdown.WithLogger(slog.New(slog.DiscardHandler)),
		shutdown.WithExitFunc(func(int) {}))
	t.Cleanup(func() { c.Shutdown(nil) })
	return c
}

// A request in flight when the shutdown is triggered still gets
// Connection: close, because the decision is made when the header is
// written.
func TestDrainInFlightRequestClosesConnection(t *testing.T) {
	c := drainCoordinator(t)
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})))
	defer srv.Close()

	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL)
		got <- result{resp, err}
	}()
	<-entered
	c.Shutdown(nil) // no hooks: completes at once; the request is still in flight
	close(release)
	r := <-got
	require.NoError(t, r.err)
	defer r.resp.Body.Close()
	assert.True(t, r.resp.Close, "the response must say Connection: close")
}

func TestDrainBeforeTriggerKeepsConnection(t *testing.T) {
	c := drainCoordinator(t)
	h := shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Empty(t, rec.Header().Get("Connection"))
}

func TestDrainAfterTrigger(t *testing.T) {
	c := drainCoordinator(t)
	c.Shutdown(nil)
	cases := map[string]http.HandlerFunc{
		"write":        func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") },
		"write header": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) },
		"nothing":      func(w http.ResponseWriter, r *http.Request) {},
		"flush": func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
		},
		"response controller": func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, http.NewResponseController(w).Flush())
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			shutdownhttp.Drain(c, fn).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			assert.Equal(t, "close", rec.Result().Header.Get("Connection"))
		})
	}
}

func TestDrainKeepsHijack(t *testing.T) {
	c := drainCoordinator(t)
	srv := httptest.NewServer(shutdownhttp.Drain(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = rw.Flush()
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(bufio.NewReader(resp.Body))
	assert.Equal(t, "hijacked", string(b))
}

func TestDrainNilPanics(t *testing.T) {
	c := drainCoordinator(t)
	assert.PanicsWithValue(t, "shutdownhttp: Drain: nil handler", func() { shutdownhttp.Drain(c, nil) })
}
