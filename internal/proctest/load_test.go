//go:build unix

package proctest_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

// rawServer accepts connections on a loopback port and hands each to
// serve, on a goroutine of its own; the listener and the connections are
// closed when the test ends.
func rawServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// readRequest reads one request (head and body) from br.
func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err == nil
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"

func newClient(keepAlive bool) (*http.Client, *http.Transport) {
	tr := &http.Transport{DisableKeepAlives: !keepAlive}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

func TestPostKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ok", func(t *testing.T) {
		url := rawServer(t, func(c net.Conn) {
			defer c.Close()
			if readRequest(bufio.NewReader(c)) {
				c.Write([]byte(okResponse))
			}
		})
		hc, tr := newClient(false)
		defer tr.CloseIdleConnections()
		k, resp, err := proctest.Post(ctx, hc, url)
		require.NoError(t, err)
		assert.Equal(t, proctest.OK, k)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + ln.Addr().String()
		ln.Close()
		hc, tr := newClient(false)
		defer tr.CloseIdleConnections()
		k, _, err := proctest.Post(ctx, hc, url)
		assert.Equal(t, proctest.Refused, k, "%v", err)
	})

	t.Run("fresh broken", func(t *testing.T) {
		url := rawServer(t, func(c net.Conn) {
			readRequest(bufio.NewReader(c))
			c.Close() // read the request, never answer
		})
		hc, tr := newClient(true)
		defer tr.CloseIdleConnections()
		k, _, err := proctest.Post(ctx, hc, url)
		assert.Equal(t, proctest.FreshBroken, k, "%v", err)
	})

	t.Run("reused broken", func(t *testing.T) {
		url := rawServer(t, func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			if readRequest(br) {
				c.Write([]byte(okResponse)) // keep-alive: the client reuses the connection
			}
			readRequest(br) // the second request arrives; close without an answer
		})
		hc, tr := newClient(true)
		defer tr.CloseIdleConnections()
		k, _, err := proctest.Post(ctx, hc, url)
		require.Equal(t, proctest.OK, k, "%v", err)
		k, _, err = proctest.Post(ctx, hc, url)
		assert.Equal(t, proctest.ReusedBroken, k, "%v", err)
	})

	t.Run("other", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no", http.StatusInternalServerError)
		}))
		defer srv.Close()
		k, resp, err := proctest.Post(ctx, srv.Client(), srv.URL)
		assert.Equal(t, proctest.Other, k)
		assert.ErrorContains(t, err, "500")
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	})

	t.Run("short body", func(t *testing.T) {
		url := rawServer(t, func(c net.Conn) {
			defer c.Close()
			if readRequest(bufio.NewReader(c)) {
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok\n"))
			}
		})
		hc, tr := newClient(false)
		defer tr.CloseIdleConnections()
		k, _, err := proctest.Post(ctx, hc, url)
		assert.Equal(t, proctest.FreshBroken, k, "a cut body is not OK: %v", err)
	})
}

func TestTally(t *testing.T) {
	var a, b proctest.Tally
	a.Kinds[proctest.OK] = 3
	b.Kinds[proctest.Refused] = 2
	b.Retried = 1
	a.Add(b)
	assert.Equal(t, 5, a.Sent())
	assert.Equal(t, 2, a.Failed())
	assert.Equal(t, "ok=3 refused=2 fresh-broken=0 reused-broken=0 other=0 (retried=1)", a.String())
	assert.Equal(t, "Kind(9)", proctest.Kind(9).String())
}

// TestLoadAndWatch: clients that follow the watch stop once the server
// turns unready; the others go on until Stop.
func TestLoadAndWatch(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	ready.Store(true)
	var served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/work", func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		time.Sleep(time.Millisecond)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	w := proctest.WatchHealth(srv.URL+"/healthz", 5*time.Millisecond)
	clients := []proctest.Client{
		{KeepAlive: true, Follow: w.Down()},
		{KeepAlive: false, Follow: w.Down()},
		{KeepAlive: true},
		{KeepAlive: false},
	}
	l := proctest.StartLoad(srv.URL+"/work", clients)
	for served.Load() < 20 {
		time.Sleep(time.Millisecond) // load pacing: let some requests through
	}
	ready.Store(false)
	select {
	case <-w.Down():
	case <-time.After(wait):
		t.Fatal("watch never saw 503")
	}
	at, err := w.Stop()
	require.NoError(t, err)
	assert.False(t, at.IsZero())
	tallies := l.Stop()
	require.Len(t, tallies, 4)
	var total proctest.Tally
	for i, tl := range tallies {
		assert.Zero(t, tl.Failed(), "client %d: %v %v", i, tl, tl.Errors)
		assert.Positive(t, tl.Kinds[proctest.OK], "client %d", i)
		total.Add(tl)
	}
	assert.Equal(t, int(served.Load()), total.Kinds[proctest.OK])
}

func TestWatchError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	// The first poll goes out at once, even if Stop comes first, and an
	// unexpected answer ends the watch.
	_, err := proctest.WatchHealth(srv.URL, time.Hour).Stop()
	assert.ErrorContains(t, err, "418")
}
