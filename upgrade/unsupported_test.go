//go:build !(linux || darwin)

package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lastcall-go/lastcall/shutdown"
)

// TestNotSupported: where upgrades cannot work, New says so, and takes
// nothing.
func TestNotSupported(t *testing.T) {
	c := shutdown.New(shutdown.WithSignals())
	defer c.Shutdown(nil)
	u, err := New(c)
	assert.Nil(t, u)
	assert.ErrorIs(t, err, ErrNotSupported)
}
