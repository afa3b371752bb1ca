package shutdownhttp

import (
	"bufio"
	"net"
	"net/http"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Drain wraps an HTTP handler for a graceful drain: every response whose
// header is written after c's trigger carries "Connection: close", so
// net/http closes the connection after that response and the client opens
// a fresh one (which a load balancer following [Readiness] sends
// elsewhere). The decision is made when the header is written, not when
// the request arrives, so a request already in flight at the trigger also
// closes its connection. This keeps a keep-alive connection from being
// closed under a client that is sending on it, which is how
// Server.SetKeepAlivesEnabled(false) and a bare Server.Shutdown lose
// requests. It panics if c or next is nil.
//
// The wrapper keeps http.Flusher and http.Hijacker working and unwraps for
// http.ResponseController.
func Drain(c *shutdown.Coordinator, next http.Handler) http.Handler {
	if c == nil {
		panic("shutdownhttp: Drain: nil coordinator")
	}
	if next == nil {
		panic("shutdownhttp: Drain: nil handler")
	}
	stopping := c.Context().Done()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &drainWriter{ResponseWriter: w, stopping: stopping}
		next.ServeHTTP(dw, r)
		if !dw.wrote && closed(stopping) {
			// Nothing written: net/http sends the header after this returns.
			w.Header().Set("Connection", "close")
		}
	})
}

type drainWriter struct {
	http.ResponseWriter
	stopping <-chan struct{}
	wrote    bool
}

func (w *drainWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		if closed(w.stopping) {
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
