package shutdown

import (
	"fmt"
	"strings"
	"time"
)

// timelineWidth is the number of columns of the time axis.
const timelineWidth = 48

// Timeline returns the report as text to be read at a glance: a header
// with the cause, the exit code and the time taken, then one line per
// hook, in report order, with a bar on the time axis from the trigger to
// completion. The drain delay is the gap before the first hook of the
// walk, the hooks of a stage are bars side by side, and a hook that timed
// out or was cut short is drawn with '#' to the point where it was left
// behind; a skipped hook has no bar.
//
//	shutdown: signal: terminated; exit code 1; 10s
//	stage  hook   |0s                                           10s|
//	drain  health |=                                               | ok            100µs
//	       http   |    ==                                          | ok            400ms
//	flush  kafka  |      ###############                           | timed out        3s
//	flush  file   |      =                                         | failed        200ms
//	       cache  |                     =                          | panicked         0s
//	       db     |                     =                          | ok              1ms
//	       stuck  |                     ###########################| timed out      5.6s
//	       never  |                                                | skipped
func (r *Report) Timeline() string {
	total := r.Elapsed
	if total <= 0 {
		total = time.Nanosecond
	}
	stageW, nameW := len("stage"), len("hook")
	for _, h := range r.Hooks {
		stageW, nameW = max(stageW, len(h.Stage)), max(nameW, len(h.Name))
	}
	cause := "Shutdown(nil)"
	if r.Cause != nil {
		cause = r.Cause.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "shutdown: %s; exit code %d; %s", cause, r.ExitCode(), round(r.Elapsed))
	if r.Forced {
		b.WriteString("; forced by a second signal")
	}
	end := round(r.Elapsed).String()
	fmt.Fprintf(&b, "\n%-*s  %-*s |0s%*s|\n", stageW, "stage", nameW, "hook", timelineWidth-2, end)
	for _, h := range r.Hooks {
		line := fmt.Sprintf("%-*s  %-*s |%s| %-9s", stageW, h.Stage, nameW, h.Name, bar(h, total), h.Status)
		if h.Status != Skipped {
			line += fmt.Sprintf(" %9s", round(h.Elapsed))
		}
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// bar draws one hook on the time axis: '=' while it ran, '#' for a hook
// that timed out, at least one column for a hook that ran at all.
func bar(h HookResult, total time.Duration) string {
	cols := []byte(strings.Repeat(" ", timelineWidth))
	if h.Status == Skipped {
		return string(cols)
	}
	col := func(d time.Duration) int {
		return min(timelineWidth, int(int64(d)*timelineWidth/int64(total)))
	}
	from := min(col(h.Started), timelineWidth-1)
	to := max(col(h.Started+h.Elapsed), from+1)
	mark := byte('=')
	if h.Status == TimedOut {
		mark = '#'
	}
	for i := from; i < to; i++ {
		cols[i] = mark
	}
	return string(cols)
}

// round shortens a duration for reading: to the microsecond under a
// millisecond, to 0.1 ms under a second, to 10 ms above.
func round(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}
