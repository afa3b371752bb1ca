//go:build !unix

package systemd_test

// runChild: child processes are a Unix test.
func runChild(string) int { return 2 }
