package shutdown

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MarshalText returns the status's String.
func (s Status) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("shutdown: unknown status %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses a status's String.
func (s *Status) UnmarshalText(b []byte) error {
	for i, name := range statusNames {
		if name == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("shutdown: unknown status %q", b)
}

type hookJSON struct {
	Name      string  `json:"name"`
	Stage     string  `json:"stage"`
	Status    Status  `json:"status"`
	StartedMS float64 `json:"started_ms"`
	ElapsedMS float64 `json:"elapsed_ms"`
	Error     string  `json:"error"`
	Stack     string  `json:"stack,omitempty"`
}

type reportJSON struct {
	Cause     *string    `json:"cause"`
	ExitCode  int        `json:"exit_code"`
	Forced    bool       `json:"forced"`
	ElapsedMS float64    `json:"elapsed_ms"`
	Hooks     []hookJSON `json:"hooks"`
}

// MarshalJSON encodes the result as one of the hooks of
// [Report.MarshalJSON].
func (h HookResult) MarshalJSON() ([]byte, error) { return json.Marshal(h.toJSON()) }

// UnmarshalJSON decodes one of the hooks of [Report.MarshalJSON]; Err
// becomes a plain error with the text that was encoded (a *PanicError for
// a panic, its Value that text).
func (h *HookResult) UnmarshalJSON(b []byte) error {
	var j hookJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = HookResult{Name: j.Name, Stage: j.Stage, Status: j.Status,
		Started: fromMS(j.StartedMS), Elapsed: fromMS(j.ElapsedMS)}
	switch {
	case j.Status == Panicked:
		h.Err = &PanicError{Value: strings.TrimPrefix(j.Error, "panic: "), Stack: []byte(j.Stack)}
	case j.Error != "":
		h.Err = errors.New(j.Error)
	}
	return nil
}

// MarshalJSON encodes the report for readers without the Go types (a
// termination message, a log pipeline, a dashboard), in this schema, which
// is stable:
//
//	{
//	  "cause": "signal: terminated",  // the cause's text; null for Shutdown(nil)
//	  "exit_code": 0,                 // Report.ExitCode()
//	  "forced": false,                // a second signal cut the shutdown short
//	  "elapsed_ms": 12.5,             // from the trigger to completion
//	  "hooks": [                      // in the order they ran, as in Report.Hooks
//	    {
//	      "name": "http",
//	      "stage": "",                // "" for Register and Go, "drain" for OnDrain
//	      "status": "ok",             // Status.String(): ok, failed, timed out, panicked, skipped
//	      "started_ms": 0.1,          // from the trigger
//	      "elapsed_ms": 3.2,
//	      "error": "",                // the error's text; "" when none
//	      "stack": "..."              // only for a panic: the panicking goroutine's frames
//	    }
//	  ]
//	}
//
// Durations are milliseconds with microsecond precision. Unmarshaling
// gives back the same values, errors as plain errors with their text.
func (r Report) MarshalJSON() ([]byte, error) { return json.Marshal(r.toJSON(len(r.Hooks))) }

// UnmarshalJSON decodes what [Report.MarshalJSON] encodes: Cause becomes a
// plain error with its text, and the exit code is kept as encoded.
func (r *Report) UnmarshalJSON(b []byte) error {
	var j struct {
		reportJSON
		Hooks []HookResult `json:"hooks"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Report{Hooks: j.Hooks, Elapsed: fromMS(j.ElapsedMS), Forced: j.Forced}
	if j.Cause != nil {
		r.Cause = errors.New(*j.Cause)
	}
	// ExitCode is derived; keep the one encoded so that it reads back the
	// same.
	if j.Forced {
		r.forcedCode = j.ExitCode
	} else {
		r.hasExit, r.exitCode = true, j.ExitCode
	}
	return nil
}

func (r *Report) toJSON(hooks int) reportJSON {
	j := reportJSON{ExitCode: r.ExitCode(), Forced: r.Forced, ElapsedMS: toMS(r.Elapsed),
		Hooks: make([]hookJSON, 0, hooks)}
	if r.Cause != nil {
		cause := r.Cause.Error()
		j.Cause = &cause
	}
	for i := range r.Hooks[:hooks] {
		j.Hooks = append(j.Hooks, r.Hooks[i].toJSON())
	}
	return j
}

func (h *HookResult) toJSON() hookJSON {
	j := hookJSON{Name: h.Name, Stage: h.Stage, Status: h.Status,
		StartedMS: toMS(h.Started), ElapsedMS: toMS(h.Elapsed)}
	if h.Err != nil {
		j.Error = h.Err.Error()
	}
	if pe, ok := h.Err.(*PanicError); ok {
		j.Stack = trimStack(pe.Stack)
	}
	return j
}

// toMS gives a duration in milliseconds, to the microsecond.
func toMS(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func fromMS(ms float64) time.Duration { return time.Duration(math.Round(ms * 1e6)) }

// trimStack keeps the frames that matter in a panicking hook's stack: from
// the call that panicked down to the hook, without the goroutine header,
// the recovery's own frames above the panic, and the package's frames
// below the hook (from invoke or runTask down: the markers of inside.go).
func trimStack(stack []byte) string {
	s := string(stack)
	if i := strings.Index(s, "\npanic("); i >= 0 {
		// The frame after panic( and its file line is where it panicked.
		s = s[i+1:]
		if j := strings.Index(s, "\n"); j >= 0 {
			s = s[j+1:]
		}
		if j := strings.Index(s, "\n"); j >= 0 {
			s = s[j+1:]
		}
	}
	for _, marker := range markers {
		if i := strings.Index(s, "\n"+marker+"("); i >= 0 {
			s = s[:i]
		}
	}
	return strings.TrimSpace(s)
}
