package systemd_test

import (
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/lastcall-go/lastcall/shutdown"
	"github.com/lastcall-go/lastcall/systemd"
)

// A service tells systemd it is ready; here the test plays systemd's part
// with a socket of its own, which is all NOTIFY_SOCKET is.
func ExampleNotify() {
	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := filepath.Join(dir, "notify.sock")
	manager, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		log.Fatal(err)
	}
	defer manager.Close()
	os.Setenv("NOTIFY_SOCKET", addr) // systemd sets it for a Type=notify unit
	defer os.Unsetenv("NOTIFY_SOCKET")

	if err := systemd.Notify("READY=1\nSTATUS=serving"); err != nil {
		log.Fatal(err)
	}

	buf := make([]byte, 4096)
	n, _, err := manager.ReadFrom(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", buf[:n])
	// Output:
	// READY=1
	// STATUS=serving
}

// The main of a service run by a Type=notify unit with a .socket unit: it
// serves on the socket systemd passes (or binds its own when started by
// hand), says when it is ready, and lets Watch tell systemd how its
// shutdown goes.
func ExampleWatch() {
	c := shutdown.New()
	systemd.Watch(c) // STOPPING=1, EXTEND_TIMEOUT_USEC, STATUS=, WATCHDOG=1

	ls, err := systemd.Listeners()
	if err != nil {
		log.Fatal(err) // the unit and the program disagree
	}
	var l net.Listener
	if len(ls) > 0 {
		l = ls[0]
	} else if l, err = net.Listen("tcp", "127.0.0.1:8080"); err != nil {
		log.Fatal(err)
	}
	c.Register("listener", shutdown.Closer(l))
	// ... serve on l with c.Go ...

	if err := systemd.Notify("READY=1"); err != nil {
		log.Print(err) // systemd waits for READY=1 until TimeoutStartSec
	}
	os.Exit(c.Wait().ExitCode())
}

// Sockets by the name their unit gives them (FileDescriptorName=), for a
// service with more than one.
func ExampleListenersByName() {
	byName, err := systemd.ListenersByName()
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range byName["admin"] {
		fmt.Println("admin on", l.Addr())
	}
}
