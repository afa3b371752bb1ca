package shutdown

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
)

// ReportFileLimit is the most a report file written by [WithReportFile]
// holds, in bytes: the limit Kubernetes puts on a container's termination
// message.
const ReportFileLimit = 4096

// deliver hands the final report to the report file and the report func,
// on the goroutine that finish waits for, bounded.
func (c *Coordinator) deliver(rep *Report) {
	if path := c.cfg.reportFile; path != "" {
		b, err := fitJSON(rep, ReportFileLimit)
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			// The report is lost, not the shutdown: nothing else changes.
			c.log(slog.LevelError, "shutdown: report file not written",
				slog.String("path", path), slog.String("error", err.Error()))
		}
	}
	if f := c.cfg.reportFunc; f != nil {
		defer func() {
			if v := recover(); v != nil {
				c.log(slog.LevelError, "shutdown: report func panicked",
					slog.Any("panic", v))
			}
		}()
		f(rep)
	}
}

// summaryJSON is the report in at most ReportFileLimit bytes: the
// counts, and as many hooks as fit, those that did not end OK first.
type summaryJSON struct {
	reportJSON
	Summary  bool           `json:"summary"`
	Count    int            `json:"hook_count"`
	Statuses map[Status]int `json:"statuses"`
	Omitted  int            `json:"hooks_omitted"`
}

// fitJSON returns the report as JSON in at most limit bytes: the whole
// report when it fits, else a summary (summaryJSON). Error texts are cut
// to 200 bytes and stacks left out in a summary.
func fitJSON(r *Report, limit int) ([]byte, error) {
	full := r.toJSON(len(r.Hooks))
	b, err := json.Marshal(full)
	if err != nil || len(b) <= limit {
		return b, err
	}
	hooks := full.Hooks
	s := summaryJSON{reportJSON: full, Summary: true, Count: len(hooks), Statuses: map[Status]int{}}
	for i := range hooks {
		h := &hooks[i]
		if len(h.Error) > 200 {
			h.Error = h.Error[:200]
		}
		h.Stack = ""
		s.Statuses[h.Status]++
	}
	slices.SortStableFunc(hooks, func(a, b hookJSON) int { return cmp.Compare(okLast(a), okLast(b)) })

	// Room for the hooks: the summary without them, and the digits the
	// omitted count may take.
	s.Hooks = hooks[:0]
	b, err = json.Marshal(s)
	if err != nil {
		return nil, err
	}
	room := limit - len(b) - 8
	n := 0
	for ; n < len(hooks); n++ {
		hb, err := json.Marshal(hooks[n])
		if err != nil {
			return nil, err
		}
		if room -= len(hb) + 1; room < 0 {
			break
		}
	}
	s.Hooks, s.Omitted = hooks[:n], len(hooks)-n
	return json.Marshal(s)
}

func okLast(h hookJSON) int {
	if h.Status == OK {
		return 1
	}
	return 0
}
