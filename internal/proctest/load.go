//go:build unix

package proctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Load limits: every client stops after maxRequests requests, and every
// request gives up after requestTimeout, so a load always ends.
const (
	maxRequests    = 10000
	requestTimeout = 15 * time.Second
	failurePause   = time.Millisecond // after a failed request: pacing, not synchronisation
	keptErrors     = 3                // failures kept per kind by one client
	maxErrors      = 8                // failures kept by a Tally, for the log
)

// Kind is how one request ended, as a client sees it.
type Kind int

const (
	// OK: status 200 and the whole body, as long as its Content-Length.
	OK Kind = iota
	// Refused: the connection was refused; nothing listens any more.
	Refused
	// FreshBroken: EOF or reset on a connection opened for this request.
	// The kernel had queued the connection, but the server never read the
	// request: what a client sees when a listener closes under it.
	FreshBroken
	// ReusedBroken: EOF or reset on a keep-alive connection that had
	// served an earlier request: what a client sees when the server closes
	// an idle connection while the client is sending on it. The request
	// may or may not have reached the server.
	ReusedBroken
	// Other: anything else: another status, a timeout, a malformed answer.
	Other

	numKinds
)

var kindNames = [numKinds]string{"ok", "refused", "fresh-broken", "reused-broken", "other"}

// String returns "ok", "refused", "fresh-broken", "reused-broken" or "other".
func (k Kind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Tally counts requests by how they ended.
type Tally struct {
	Kinds [numKinds]int
	// Retried counts requests that net/http's transport sent a second
	// time on a new connection because not one byte of the first attempt
	// had been written: safe, and counted only for information.
	Retried int
	// Errors holds the first few failures, for the log.
	Errors []string
}

// Sent returns the number of requests counted.
func (t Tally) Sent() int {
	n := 0
	for _, c := range t.Kinds {
		n += c
	}
	return n
}

// Failed returns the number of requests that did not end OK.
func (t Tally) Failed() int { return t.Sent() - t.Kinds[OK] }

// Add adds u's counts to t.
func (t *Tally) Add(u Tally) {
	for k, c := range u.Kinds {
		t.Kinds[k] += c
	}
	t.Retried += u.Retried
	for _, e := range u.Errors {
		if len(t.Errors) == maxErrors {
			break
		}
		t.Errors = append(t.Errors, e)
	}
}

// String lists the counts: "ok=120 refused=3 fresh-broken=0 reused-broken=0 other=0".
func (t Tally) String() string {
	var b strings.Builder
	for k, c := range t.Kinds {
		if k > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", Kind(k), c)
	}
	if t.Retried > 0 {
		fmt.Fprintf(&b, " (retried=%d)", t.Retried)
	}
	return b.String()
}

func (t *Tally) count(k Kind, retried bool, err error) {
	t.Kinds[k]++
	if retried {
		t.Retried++
	}
	if err != nil && t.Kinds[k] <= keptErrors && len(t.Errors) < maxErrors {
		t.Errors = append(t.Errors, k.String()+": "+err.Error())
	}
}

// Post sends one POST request with a small body to url through hc and
// reads the whole response. It returns how the request ended, the response
// (its body already read and closed; nil when no status line arrived) and,
// unless the kind is OK, what went wrong.
//
// POST is not idempotent, so net/http does not retry it after any of it
// was written: a request lost on a connection the server closed is
// reported, not silently sent again.
func Post(ctx context.Context, hc *http.Client, url string) (Kind, *http.Response, error) {
	k, resp, _, err := post(ctx, hc, url)
	return k, resp, err
}

func post(ctx context.Context, hc *http.Client, url string) (k Kind, resp *http.Response, retried bool, err error) {
	var reused atomic.Bool
	var conns atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		reused.Store(info.Reused)
		conns.Add(1)
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, strings.NewReader("job"))
	if err != nil {
		return Other, nil, false, err
	}
	resp, err = hc.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
			return Other, resp, conns.Load() > 1, err
		}
	}
	if err != nil {
		return Classify(err, reused.Load()), resp, conns.Load() > 1, err
	}
	return OK, resp, conns.Load() > 1, nil
}

// Classify returns the kind of a failed request's error; reused says
// whether the request went out on a keep-alive connection that had served
// an earlier one.
func Classify(err error, reused bool) Kind {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case broken(err):
		if reused {
			return ReusedBroken
		}
		return FreshBroken
	}
	return Other
}

// broken reports whether err says that the peer closed or reset the
// connection. net/http does not export all of its errors ("http: server
// closed idle connection"), hence the strings.
func broken(err error) bool {
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED} {
		if errors.Is(err, target) {
			return true
		}
	}
	s := err.Error()
	for _, sub := range []string{"server closed idle connection", "connection reset", "broken pipe", "EOF"} {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Client describes one client of a load.
type Client struct {
	// KeepAlive reuses the client's connection from one request to the
	// next; otherwise every request opens a fresh one.
	KeepAlive bool
	// Follow, when not nil, is the load balancer's verdict: once it is
	// closed, the client sends nothing more (see Watch.Down).
	Follow <-chan struct{}
}

// A Load is a set of clients sending POST requests back to back, each on
// its own goroutine with its own transport. Start one with StartLoad; Stop
// it and read its counts with Stop.
type Load struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	tallies []Tally // one per client; read after wg.Wait
}

// StartLoad starts one goroutine per client, each sending POST requests
// to url back to back and counting how each ended (see Post). A client
// stops when Stop is called, when its Follow channel is closed, after its
// first refused connection (nothing listens any more), or after 10,000
// requests; each request gives up after 15 s.
func StartLoad(url string, clients []Client) *Load {
	l := &Load{stop: make(chan struct{}), tallies: make([]Tally, len(clients))}
	for i, cl := range clients {
		l.wg.Add(1)
		go l.run(url, cl, &l.tallies[i])
	}
	return l
}

func (l *Load) run(url string, cl Client, t *Tally) {
	defer l.wg.Done()
	tr := &http.Transport{DisableKeepAlives: !cl.KeepAlive, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: requestTimeout}
	for range maxRequests {
		if closed(l.stop) || (cl.Follow != nil && closed(cl.Follow)) {
			return
		}
		k, _, retried, err := post(context.Background(), hc, url)
		t.count(k, retried, err)
		switch k {
		case OK:
		case Refused:
			return
		default:
			time.Sleep(failurePause)
		}
	}
}

// Stop tells every client to send nothing more, waits for the requests
// in flight to end, and returns one Tally per client, in the order given
// to StartLoad. It may be called once.
func (l *Load) Stop() []Tally {
	close(l.stop)
	l.wg.Wait()
	return l.tallies
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A Watch polls a readiness URL the way a load balancer's health check
// does, and closes Down the first time the URL answers 503. Start one with
// WatchHealth.
type Watch struct {
	down chan struct{}
	stop chan struct{}
	done chan struct{}
	err  error // written before done is closed
	at   time.Time
}

// WatchHealth starts polling url with GET, at once and then every
// interval, on a keep-alive connection, until it answers 503 or Stop is
// called. Any answer other than 200 or 503 before that (a refused
// connection, a timeout) ends the watch with an error, reported by Stop.
func WatchHealth(url string, every time.Duration) *Watch {
	w := &Watch{down: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(url, every)
	return w
}

func (w *Watch) run(url string, every time.Duration) {
	defer close(w.done)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: every + 5*time.Second}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		resp, err := hc.Get(url)
		if err != nil {
			w.err = fmt.Errorf("health check: %w", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			w.at = time.Now()
			close(w.down)
			return
		default:
			w.err = fmt.Errorf("health check: status %s", resp.Status)
			return
		}
		select {
		case <-tick.C:
		case <-w.stop:
			return
		}
	}
}

// Down returns a channel closed once the URL has answered 503.
func (w *Watch) Down() <-chan struct{} { return w.down }

// Done returns a channel closed once the watch has stopped polling: after
// a 503, an unexpected answer, or Stop.
func (w *Watch) Done() <-chan struct{} { return w.done }

// Stop ends the watch if it is still polling and waits for it. It returns
// the error that ended the watch early, if any, and the time the 503 was
// seen (zero if never). It may be called once.
func (w *Watch) Stop() (time.Time, error) {
	close(w.stop)
	<-w.done
	return w.at, w.err
}
