// Command child is the program the proctest tests run: it prints "ready",
// then either exits with -code or, with -tick, prints "tick" at that
// interval until it is killed (or a write to stdout kills it with SIGPIPE).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	code := flag.Int("code", 0, "exit code")
	tick := flag.Duration("tick", 0, "print tick at this interval forever")
	flag.Parse()
	fmt.Println("ready")
	fmt.Fprintln(os.Stderr, "args:", flag.Args())
	for *tick > 0 {
		time.Sleep(*tick)
		fmt.Println("tick")
	}
	os.Exit(*code)
}
