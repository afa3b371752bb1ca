//go:build !(linux || darwin)

package upgrade

import "syscall"

const supported = false

type child struct {
	pid  int
	link *link
}

func (u *Upgrader) spawn() (*child, error)     { return nil, ErrNotSupported }
func (p *child) kill() (ws syscall.WaitStatus) { return ws }
func (p *child) release()                      {}
func isReset(error) bool                       { return false }
