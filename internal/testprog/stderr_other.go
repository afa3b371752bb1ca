//go:build !unix

package main

import "errors"

func breakStderr() error { return errors.New("-break-stderr needs Unix") }
