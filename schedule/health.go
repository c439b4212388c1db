package schedule

import (
	"slices"
	"time"
)

// Health is the scheduler's part of serve's /health, ready for encoding/json.
type Health struct {
	// Status is "idle" (Run not called), "ok", "failing" (the last tick had
	// a run or a pull that failed) or "stopped".
	Status   string    `json:"status"`
	Cron     string    `json:"cron"`
	Zone     string    `json:"zone"`
	Grace    string    `json:"grace"`
	NextDue  time.Time `json:"next_due,omitzero"`
	LastTick *Tick     `json:"last_tick,omitempty"`
	// Running are the scopes with a run going, e.g. "2026-10 NL-ABC final".
	Running []string `json:"running,omitempty"`
}

// Tick is one tick as it went.
type Tick struct {
	Slot        time.Time `json:"slot"` // when it was due
	Origin      Origin    `json:"origin"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
	Runs        int       `json:"runs"`   // runs started (joined or done ones excluded)
	Failed      int       `json:"failed"` // runs, ledger calls or joins that failed
	PullsFailed int       `json:"pulls_failed"`
}

// Health is a snapshot of the scheduler's state.
func (s *Scheduler) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.health
	if h.LastTick != nil {
		t := *h.LastTick
		h.LastTick = &t
		if h.Status == "ok" && (t.Failed > 0 || t.PullsFailed > 0) {
			h.Status = "failing"
		}
	}
	for sc := range s.inflight {
		h.Running = append(h.Running, sc.String())
	}
	slices.Sort(h.Running)
	return h
}

func (s *Scheduler) setNext(t time.Time) {
	s.m.nextTick.Set(unix(t))
	s.mu.Lock()
	s.health.NextDue = t
	s.mu.Unlock()
}
