//go:build nethttp

package main

// Built with -tags nethttp, the hand-written program links net/http, as
// every program that imports lastcall does (its HTTP adapters): the floor
// for comparing process sizes and exit times with lastcall's program.
import _ "net/http"
