//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

import "errors"

func dup2(oldfd, newfd int) error { return errors.New("-break-stderr: no dup2 on this system") }
