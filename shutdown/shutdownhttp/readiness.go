package shutdownhttp

import (
	"net/http"

	"github.com/lastcall-go/lastcall/shutdown"
)

// Readiness returns an http.Handler for a readiness probe, safe for
// concurrent requests: it answers 200 until c's shutdown is triggered and
// 503 from the trigger on, so that a load balancer stops sending new
// requests during the drain delay. It panics if c is nil.
func Readiness(c *shutdown.Coordinator) http.Handler {
	if c == nil {
		panic("shutdownhttp: Readiness: nil coordinator")
	}
	stopping := c.Context().Done()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if closed(stopping) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// closed reports whether ch is closed, without blocking.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
