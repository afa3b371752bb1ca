package shutdown

import (
	"fmt"
	"sync/atomic"
	"time"
)

// A Stage is a group of hooks that run in parallel when the shutdown
// reaches it. Stages and hooks registered with [Coordinator.Register] take
// their place in one LIFO order: the stage created last runs first, and the
// next stage starts when every hook of this one has returned or timed out.
type Stage struct {
	c     *Coordinator
	name  string
	limit int       // 0: no limit
	hooks []*Handle // registration order; frozen at the trigger
}

// Stage creates a stage at this point of the LIFO order. Its hooks, added
// with [Stage.Register], all start together when the shutdown reaches the
// stage (at most [Limit] at once), and a failing hook never cancels its
// siblings. Stage is safe for concurrent use. It panics if name is empty.
func (c *Coordinator) Stage(name string, opts ...StageOption) *Stage {
	if name == "" {
		panic("shutdown: Stage: empty name")
	}
	s := &Stage{c: c, name: name}
	for _, o := range opts {
		if o == nil {
			panic("shutdown: Stage: nil option")
		}
		o.applyStage(s)
	}
	c.mu.Lock()
	if c.phase == idle {
		c.steps = append(c.steps, step{s: s})
	}
	// A stage created after the trigger has no place left in the order:
	// its hooks are late registrations (see Register).
	c.mu.Unlock()
	return s
}

// Register adds a hook to the stage and returns its handle. It has the
// contract of [Coordinator.Register]; a hook added after the trigger runs
// as a late registration on its own, under this stage's name.
func (s *Stage) Register(name string, fn Hook, opts ...HookOption) *Handle {
	return s.c.register(s.c.newHandle("Stage.Register", name, s, fn, opts))
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.name }

// A Handle is one registered hook. Its only method, Unregister, is safe to
// call from any goroutine at any time, any number of times.
type Handle struct {
	c       *Coordinator
	stage   *Stage // nil for Register and Go
	fn      Hook
	timeout time.Duration // 0: the coordinator's hook timeout
	state   atomic.Int32  // a hookState (hook.go)

	// The hook's result: Name and Stage set at registration; Started
	// written before the state becomes running; the rest written by the
	// goroutine that ran the hook before the state becomes done, and read
	// only after it has.
	res HookResult
}

// Unregister removes the hook if it has not started, and reports whether it
// did: true means the hook will never run and is left out of the report;
// false means it already started, already ran, or was already removed.
func (h *Handle) Unregister() bool {
	if !h.transition(pending, removed) {
		return false
	}
	h.c.unregistered()
	return true
}

// limit returns h's own timeout, else the coordinator's hook timeout; 0
// means none: the hook may use the time left.
func (h *Handle) limit() time.Duration {
	if h.timeout != 0 {
		return h.timeout
	}
	return h.c.cfg.hookTimeout
}

// newHandle checks a registration and returns its handle; fn names the
// call, for the panic of a programming error.
func (c *Coordinator) newHandle(fn string, name string, stage *Stage, hook Hook, opts []HookOption) *Handle {
	if name == "" {
		panic(fmt.Sprintf("shutdown: %s: empty name", fn))
	}
	if hook == nil {
		panic(fmt.Sprintf("shutdown: %s %q: nil hook", fn, name))
	}
	var hc hookConfig
	for _, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("shutdown: %s %q: nil option", fn, name))
		}
		hc = o.applyHook(hc)
	}
	h := &Handle{c: c, stage: stage, fn: hook, timeout: hc.timeout}
	h.res.Name = name
	if stage != nil {
		h.res.Stage = stage.name
	}
	return h
}
