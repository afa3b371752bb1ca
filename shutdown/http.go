package shutdown

import (
	"bufio"
	"net"
	"net/http"
)

// ReadinessHandler returns an http.Handler for a readiness probe, safe for
// concurrent requests: it answers 200 until the shutdown is triggered and
// 503 from the trigger on, so a load balancer stops sending new requests
// during the drain delay.
func (c *Coordinator) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if c.active.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Drain wraps an HTTP handler for a graceful drain: every response whose
// header is written after the trigger carries "Connection: close", so
// net/http closes the connection after that response and the client opens
// a fresh one (which a load balancer following the readiness handler sends
// elsewhere). The decision is made when the header is written, not when
// the request arrives, so a request already in flight at the trigger also
// closes its connection. This keeps a keep-alive connection from being
// closed under a client that is sending on it, which is how
// Server.SetKeepAlivesEnabled(false) and a bare Server.Shutdown lose
// requests. It panics if next is nil.
//
// The wrapper keeps http.Flusher and http.Hijacker working and unwraps for
// http.ResponseController.
func (c *Coordinator) Drain(next http.Handler) http.Handler {
	if next == nil {
		panic("shutdown: Drain: nil handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &drainWriter{ResponseWriter: w, c: c}
		next.ServeHTTP(dw, r)
		if !dw.wrote && c.active.Load() {
			// Nothing written: net/http sends the header after this returns.
			w.Header().Set("Connection", "close")
		}
	})
}

type drainWriter struct {
	http.ResponseWriter
	c     *Coordinator
	wrote bool
}

func (w *drainWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		if w.c.active.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *drainWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *drainWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *drainWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.wrote = true
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

func (w *drainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
