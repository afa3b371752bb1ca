//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import "syscall"

func dup2(oldfd, newfd int) error { return syscall.Dup2(oldfd, newfd) }
