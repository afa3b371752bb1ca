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
//  1. srv.Shutdown is held back until it can lose no request, for at most
//     the idle grace period ([IdleGrace], 1 s by default). net/http drops
//     a request it has read but not yet handed to the handler once
//     Shutdown has begun, so new connections and requests on their way
//     are let reach the handler. A request that began before the hook may
//     be answered without Connection: close, so it is let finish. And a
//     connection that went idle less than the grace period ago may be
//     carrying the next request of a client that was just answered (a
//     request sent on a connection the server closes at that instant is
//     lost: Go's client retries only idempotent requests): it is given the
//     rest of its grace period, and such a request is served, with
//     Connection: close. Behind a load balancer that follows [Readiness],
//     with a drain delay at least the grace period, this step finds
//     nothing to wait for.
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
//
// The listener stays open during step 1, so that clients that connect
// meanwhile are served (with Connection: close). Behind a load balancer,
// or when package upgrade has handed the listener to a new process, none
// arrive. A server that takes new connections to the end, with nothing in
// front of it, can still fail a client whose connection it accepts as
// Shutdown begins: net/http drops that request unread.
package shutdownhttp
