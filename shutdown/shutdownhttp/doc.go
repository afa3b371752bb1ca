// Package shutdownhttp holds the HTTP pieces of a graceful shutdown run by
// a [shutdown.Coordinator]: a hook that drains an *http.Server, a readiness
// handler that turns 503 at the trigger, and a middleware that closes
// keep-alive connections from the trigger on. They live apart from package
// shutdown so that a program that serves no HTTP does not link net/http.
//
//	c := shutdown.New(shutdown.WithDrainDelay(5 * time.Second))
//	mux.Handle("/healthz", shutdownhttp.Readiness(c))
//	srv := &http.Server{Handler: shutdownhttp.Drain(c, mux)}
//	stop := shutdownhttp.Server(srv) // before Serve: it watches the connections
//	c.Go("serve", func(context.Context) error { return srv.Serve(ln) })
//	c.Register("http", stop, shutdown.Timeout(10*time.Second)) // runs before the serve task's stop
//
// # The drain, in order
//
// At the trigger, [Readiness] answers 503, so that a load balancer that
// follows it stops sending new requests, and [Drain] adds "Connection:
// close" to every response, so that each client leaves its keep-alive
// connection after its next answer instead of having it closed under a
// request it may be sending. The coordinator's drain delay gives the load
// balancer time to notice. Then the [Server] hook runs:
//
//  1. Connections that went idle less than the idle grace period ago
//     ([IdleGrace], 1 s by default) are given the rest of it: a client that
//     has just been answered may be sending its next request on it right
//     now, and a request sent on a connection the server closes at that
//     instant is lost (Go's client retries only idempotent requests). Such
//     a request is served, with Connection: close.
//  2. srv.Shutdown closes the listeners and the idle connections; every
//     request in flight is answered and its connection closed.
//  3. The hook returns as soon as the last connection has closed, rather
//     than at net/http's next poll of its connections, which backs off to
//     500 ms.
//
// If the hook's context ends first, the hook cuts every connection left
// with srv.Close and returns the context's error (the hook is recorded
// TimedOut): a connection that never sends a byte cannot hold the
// shutdown. As with Server.Shutdown, hijacked connections (WebSockets) are
// not tracked: close them in a hook of their own.
package shutdownhttp
