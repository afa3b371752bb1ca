//go:build !unix

package fdpass

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// Dup returns errors.ErrUnsupported: descriptors are not inherited by
// number here.
func Dup(syscall.Conn, string) (*os.File, error) { return nil, errors.ErrUnsupported }

// Socketpair returns errors.ErrUnsupported.
func Socketpair(string) (net.Conn, *os.File, error) { return nil, nil, errors.ErrUnsupported }

// Conn returns errors.ErrUnsupported.
func Conn(int, string) (net.Conn, error) { return nil, errors.ErrUnsupported }

// Listener returns errors.ErrUnsupported.
func Listener(int, string) (net.Listener, error) { return nil, errors.ErrUnsupported }
