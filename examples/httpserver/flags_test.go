//go:build unix

package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lastcall-go/lastcall/internal/proctest"
)

// Every flag works on its own: -timeout 2s alone shrinks the drain delay
// and the HTTP timeout left at their defaults to fit inside it, and the
// server drains and exits 0 within it; a drain delay given that cannot fit
// is refused before anything starts.
func TestFlagsAlone(t *testing.T) {
	bin := proctest.Build(t, "./examples/httpserver")

	p := proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-timeout", "2s")
	p.MustWaitLine("listening on ", wait)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	r := p.MustWait(wait)
	require.True(t, r.Exited && r.Code == 0, "-timeout 2s alone: %v\n%s", r, strings.Join(r.Stderr, "\n"))
	assert.Contains(t, strings.Join(r.Stderr, "\n"), "drain_delay=500ms", "a quarter of the timeout")

	r = proctest.Start(t, bin, "-addr", "127.0.0.1:0", "-timeout", "2s", "-drain-delay", "3s").MustWait(wait)
	require.True(t, r.Exited && r.Code == 2, "an explicit drain delay longer than the timeout: %v", r)
	assert.Contains(t, strings.Join(r.Stderr, "\n"), "-drain-delay 3s must be shorter than -timeout 2s")
}
