// Package fleet holds no code, only a process-level test: a rolling restart
// of three replicas of examples/httpserver behind a real HAProxy, under
// constant load, that must lose no client request.
//
// The test starts the replicas on loopback ports and an HAProxy in front of
// them, with a configuration generated into a temporary directory: active
// health checks on /healthz every 100 ms (fall 1, rise 2), keep-alive
// connections to the replicas, retries only on connections that failed
// before any of the request was sent. 32 clients send POST requests through
// HAProxy for the whole test, half on keep-alive connections, half on a
// fresh connection per request. Then each replica in turn is sent SIGTERM,
// waited for, started again on the same port and waited for until HAProxy
// sees it up; ten rounds of that. Every client request must succeed, every
// replica must exit 0, and the replicas together must have started and
// finished exactly as many requests as the clients got answers: none lost,
// none sent twice.
//
// A second test runs the same restart against replicas that shut down
// without a drain (httpserver's -no-graceful test seam) and must see client
// requests fail, which shows the first test can catch that regression.
//
// HAProxy is not installed by the test: it expects haproxy on PATH
// (apt-get install haproxy, brew install haproxy). Without it the tests are
// skipped, or fail when the CI environment variable is set.
//
//	make fleet                    # both tests, -race, with the figures
//	make fleet FLEET_ROUNDS=50    # more rounds
//
// docs/kubernetes.md maps the same configuration to a Kubernetes pod.
package fleet
