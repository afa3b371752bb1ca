//go:build unix

package main

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testCluster is a kfake broker in the test process, reached through a
// TCP proxy that the test can pause: the broker then stops answering, the
// way a broker behind a broken network does, with every connection left
// open.
type testCluster struct {
	kf    *kfake.Cluster
	proxy *proxy
}

// newCluster starts a one-broker cluster behind a proxy. The broker
// advertises the proxy's address in its metadata, so that clients never
// reach it any other way. Both stop when the test ends.
func newCluster(t testing.TB) *testCluster {
	t.Helper()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	px := &proxy{ln: front, conns: map[net.Conn]bool{}, dropped: make(chan struct{})}
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		px.back = ln.Addr().String()
		return advertised{ln, front.Addr()}, nil
	}))
	if err != nil {
		front.Close()
		t.Fatal(err)
	}
	px.wg.Add(1)
	go px.serve()
	tc := &testCluster{kf: kf, proxy: px}
	t.Cleanup(func() {
		px.close()
		kf.Close()
	})
	return tc
}

// addr is the address the program is given: the proxy's.
func (tc *testCluster) addr() string { return tc.proxy.ln.Addr().String() }

// advertised is a listener that reports another address, the proxy's, as
// its own.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }

// proxy forwards connections to the broker until paused. Paused, it reads
// and drops what clients send, connections open and new ones included, and
// answers nothing; resume closes those connections and forwards new ones.
type proxy struct {
	ln   net.Listener
	back string // the broker's real address
	wg   sync.WaitGroup

	dropped  chan struct{} // closed once a Produce request has been dropped while paused
	dropOnce sync.Once

	mu     sync.Mutex
	paused bool
	closed bool
	conns  map[net.Conn]bool // client side, and the broker side of each
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) handle(c net.Conn) {
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()
	if paused {
		p.drop(c)
		return
	}
	b, err := net.Dial("tcp", p.back)
	if err != nil || !p.track(b) {
		return
	}
	defer p.untrack(b)
	done := make(chan struct{}, 2)
	go func() { p.forward(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
}

// forward copies the client's requests to the broker, one Kafka frame at a
// time, until the proxy is paused; from then on it drops them.
func (p *proxy) forward(b, c net.Conn) {
	for {
		frame, err := readFrame(c)
		if err != nil {
			return
		}
		p.mu.Lock()
		paused := p.paused
		p.mu.Unlock()
		if paused {
			p.count(frame)
			p.drop(c)
			return
		}
		if _, err := b.Write(frame); err != nil {
			return
		}
	}
}

// drop reads and drops the client's requests until the connection closes.
func (p *proxy) drop(c net.Conn) {
	for {
		frame, err := readFrame(c)
		if err != nil {
			return
		}
		p.count(frame)
	}
}

func (p *proxy) count(frame []byte) {
	if len(frame) >= 6 && int16(binary.BigEndian.Uint16(frame[4:6])) == kmsg.Produce.Int16() {
		p.dropOnce.Do(func() { close(p.dropped) })
	}
}

// droppedProduce returns a channel closed once a Produce request has been
// dropped while paused.
func (p *proxy) droppedProduce() <-chan struct{} { return p.dropped }

// readFrame reads one size-prefixed Kafka request.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(frame, size[:])
	_, err := io.ReadFull(r, frame[4:])
	return frame, err
}

func (p *proxy) pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// resume closes the connections that were open while paused and forwards
// new ones: nothing sent while paused reaches the broker.
func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = false
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// readIDs reads topic from the test's cluster, as readTopic does in the
// program.
func (tc *testCluster) readIDs(ctx context.Context, topic string) ([]int64, error) {
	return readTopic(ctx, []string{tc.addr()}, topic)
}
