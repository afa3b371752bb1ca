package shutdown

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Status is the outcome of one hook.
type Status int

const (
	// OK: the hook returned nil.
	OK Status = iota
	// Failed: the hook returned an error before its context ended.
	Failed
	// TimedOut: the hook's context ended before the hook returned, or the
	// hook returned an error after it ended. A hook still running at its
	// deadline is abandoned, not waited for.
	TimedOut
	// Panicked: the hook panicked; its HookResult.Err is a *PanicError.
	Panicked
	// Skipped: the whole shutdown's deadline passed (or a second signal
	// forced the exit) before the hook could start.
	Skipped
)

var statusNames = [...]string{"ok", "failed", "timed out", "panicked", "skipped"}

// String returns "ok", "failed", "timed out", "panicked" or "skipped".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

var (
	// ErrSkipped is the HookResult.Err of a hook recorded Skipped.
	ErrSkipped = errors.New("shutdown: skipped: the shutdown ended before the hook started")
	// ErrForced is the HookResult.Err of a hook abandoned because a
	// second signal forced the exit.
	ErrForced = errors.New("shutdown: abandoned: a second signal forced the exit")
)

// PanicError is the error of a hook or task that panicked: the value given
// to panic and the stack of the goroutine that panicked. errors.Is and
// errors.As see through it to the value when that value is an error.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "panic: " followed by the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// ExitError is the cause of a shutdown started by [Coordinator.Exit].
type ExitError struct {
	Code int
}

// Error returns "exit code " followed by the code.
func (e *ExitError) Error() string { return "exit code " + strconv.Itoa(e.Code) }

// HookResult is the outcome of one hook or task stop step.
type HookResult struct {
	Name   string
	Stage  string // "" for a hook registered with Register or a task; "drain" for OnDrain
	Status Status
	Err    error // nil when Status is OK
	// Started is when the hook started, from the trigger (for a skipped
	// hook: when the report found it not started).
	Started time.Duration
	Elapsed time.Duration
}

// Report is the record of one shutdown. It is complete once the
// coordinator's Done channel is closed; every call that waits for the
// shutdown returns it complete, and all of them return the same *Report.
// A complete Report is never written again: reading it and calling its
// methods is safe from any number of goroutines.
type Report struct {
	// Cause is what triggered the shutdown: a *signals.Error for a signal,
	// the error of a failed task (a *PanicError if it panicked), an
	// *ExitError for Exit, or what Shutdown was given (possibly nil).
	Cause error
	// Hooks holds one result per hook, in the order they ran; within a
	// stage, in registration order. Task stop steps appear under the
	// task's name. Unregistered hooks are left out.
	Hooks []HookResult
	// Elapsed runs from the trigger to completion, drain delay included.
	Elapsed time.Duration
	// Forced is set when a second signal cut the shutdown short.
	Forced bool

	forcedCode int
	exitCode   int
	hasExit    bool
}

// Err returns every hook failure joined with errors.Join, each prefixed
// with the hook's name; nil when every hook succeeded. errors.Is and
// errors.As see through it to the hooks' own errors.
func (r *Report) Err() error {
	if r == nil {
		return nil
	}
	var errs []error
	for i := range r.Hooks {
		h := &r.Hooks[i]
		if h.Status == OK {
			continue
		}
		errs = append(errs, fmt.Errorf("hook %q %s: %w", h.Name, h.Status, h.Err))
	}
	return errors.Join(errs...)
}

// ExitCode returns the code the process should exit with, first match
// wins: 128+signo when a second signal forced the exit; the code given to
// Exit; 1 when any hook or task stop step did not end OK; else 0.
func (r *Report) ExitCode() int {
	switch {
	case r == nil:
		return 0
	case r.Forced:
		return r.forcedCode
	case r.hasExit:
		return r.exitCode
	}
	for i := range r.Hooks {
		if r.Hooks[i].Status != OK {
			return 1
		}
	}
	return 0
}

// classify turns what a hook returned into its Status.
func classify(err error, timedOut bool) Status {
	switch {
	case err == nil:
		return OK
	case isPanic(err):
		return Panicked
	case timedOut:
		return TimedOut
	}
	return Failed
}

func isPanic(err error) bool {
	_, ok := err.(*PanicError)
	return ok
}
