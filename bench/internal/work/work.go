// Package work is the handler every HTTP server of cmd/procbench serves,
// so that they differ only in how they shut down: /work?ms=N answers 200
// after N ms, /inflight the number of /work requests being handled.
package work

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Handler returns a mux with /work and /inflight.
func Handler() *http.ServeMux {
	var inflight atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms: want a number of milliseconds", http.StatusBadRequest)
			return
		}
		inflight.Add(1)
		defer inflight.Add(-1)
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the connection is gone: nobody to answer
		}
		fmt.Fprintf(w, "worked %dms\n", ms)
	})
	mux.HandleFunc("/inflight", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, inflight.Load())
	})
	return mux
}
