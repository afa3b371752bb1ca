package shutdown

import (
	"reflect"
	"runtime"
)

// A call that waits for a shutdown must not wait when it is made from
// inside that shutdown: a hook that calls Shutdown would wait for itself.
// Go has no goroutine identity, so the check looks at the caller's stack
// for the two frames through which every hook and every task is run. This
// costs a stack walk, but only on a call that would otherwise block, and
// nothing at all on the path that runs hooks. A goroutine that a hook
// starts itself has a fresh stack and is not recognised; it waits like any
// other caller, which is still bounded by that hook's deadline.
var markers = [2]string{funcName(invoke), funcName(runTask)}

func funcName(f any) string {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
}

// insideHook reports whether the calling goroutine is running a hook or a
// task of any coordinator.
func insideHook() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(2, pcs)
		if n == len(pcs) {
			pcs = make([]uintptr, 2*len(pcs))
			continue
		}
		frames := runtime.CallersFrames(pcs[:n])
		for {
			f, more := frames.Next()
			if f.Function == markers[0] || f.Function == markers[1] {
				return true
			}
			if !more {
				return false
			}
		}
	}
}
