package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Deps are what the caller (cmd/roamsettle) wires in.
type Deps struct {
	Runner Runner
	Ledger Ledger
	// Pull fetches from one partner ("CC-PID") what it has for us (nil: no
	// pulls). It is called for the partners of Config.Pull once at the start
	// of each tick and before each manual run that covers them. A failed pull
	// is logged and counted, and the runs go on with what is stored: late
	// CDRs found after a final run lead to credit notes, by design.
	Pull func(ctx context.Context, partner string) error
	// PeriodZone is the zone whose months are a partner scope's periods
	// (DESIGN.md invariant 7: UTC unless the partner's policy names one). Nil
	// means UTC for every scope.
	PeriodZone func(partner string) *time.Location
	// Log receives one line per tick and per run (nil: discarded).
	Log *slog.Logger
}

// ErrStopped is returned by Trigger once the scheduler has shut down.
var ErrStopped = errors.New("schedule: stopped")

// Scheduler runs settlements on a calendar, catches up what was missed, and
// keeps one run per scope at a time. Create it with New, call Run (which
// blocks until its context ends and every run has returned), and Trigger for
// runs asked for by hand.
type Scheduler struct {
	plan plan
	d    Deps
	log  *slog.Logger
	m    *metrics

	// life is every run's context: cancelled when Run's context ends, so
	// runs stop at their next step boundary.
	life context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	state    int // idle, running, stopped
	inflight map[Scope]*flight
	excl     map[exclKey]chan struct{}
	wg       sync.WaitGroup // runs in flight
	health   Health

	// floor is, per partner scope, the first period not known to be final;
	// touched only by the tick goroutine.
	floor map[string]Period
}

const (
	stateIdle = iota
	stateRunning
	stateStopped
)

// flight is a run going on, which triggers of the same scope join.
type flight struct {
	id   RunID
	done chan struct{}
	res  Result
	err  error
}

// exclKey serialises the runs of one period and partner: a final and a
// provisional run of it would write the same output folder.
type exclKey struct {
	period  Period
	partner string
}

// Result is what a trigger got.
type Result struct {
	ID RunID
	// Claim is Done or Busy when the Ledger said the run was not to be
	// started; then Outcome is empty.
	Claim   Claim
	Outcome Outcome
	// Joined is true when the trigger found a run of the same scope going
	// and waited for it instead of starting another.
	Joined bool
}

// Ran reports whether a run was started for this result.
func (r Result) Ran() bool { return r.Claim == Claimed && r.Outcome.Status != "" }

// New validates cfg and prepares a scheduler.
func New(cfg Config, d Deps) (*Scheduler, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if d.Runner == nil || d.Ledger == nil {
		return nil, errors.New("schedule: New needs a Runner and a Ledger")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, stop := context.WithCancel(context.Background())
	s := &Scheduler{plan: p, d: d, log: log, m: newMetrics(), life: life, stop: stop,
		inflight: map[Scope]*flight{}, excl: map[exclKey]chan struct{}{}, floor: map[string]Period{}}
	s.health = Health{Status: "idle", Cron: p.cron, Zone: p.zone.String(), Grace: p.grace.String()}
	return s, nil
}

// Collectors are the scheduler's Prometheus collectors, for the caller's
// private registry.
func (s *Scheduler) Collectors() []prometheus.Collector { return s.m.collectors() }

// Run catches up the latest tick missed while the scheduler was down, then
// runs each tick when it is due, until ctx ends. It then cancels the runs
// going on (they stop at a step boundary), waits for every one of them, and
// returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateIdle {
		s.mu.Unlock()
		return errors.New("schedule: Run called twice")
	}
	s.state = stateRunning
	s.health.Status = "ok"
	s.mu.Unlock()
	defer context.AfterFunc(ctx, s.stop)()
	defer s.shutdown()
	if ctx.Err() != nil {
		return nil
	}

	cal := s.plan.cal
	last := time.Now()
	// Catch-up: the latest tick due before now stands for every tick missed.
	// Each run's identity tells the Ledger whether it already happened.
	if slot := cal.prev(last); !slot.IsZero() {
		s.tick(slot, OriginCatchUp)
		last = slot
	}
	for ctx.Err() == nil {
		next := cal.next(last)
		s.setNext(next)
		if next.IsZero() {
			<-ctx.Done()
			break
		}
		if !sleepUntil(ctx, next) {
			break
		}
		// A tick that outlasted the next one, or a suspended machine, leaves
		// ticks behind: run the latest, as a catch-up.
		slot, origin := next, OriginScheduled
		if p := cal.prev(time.Now()); p.After(next) {
			slot, origin = p, OriginCatchUp
		}
		s.tick(slot, origin)
		last = slot
	}
	return nil
}

// sleepUntil waits for the instant t, waking at least hourly so that a wall
// clock stepped forward (NTP, a resumed machine) is noticed. It returns false
// if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	for {
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		timer := time.NewTimer(min(d, time.Hour))
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
	}
}

func (s *Scheduler) shutdown() {
	s.mu.Lock()
	s.state = stateStopped
	s.health.Status = "stopped"
	s.health.NextDue = time.Time{}
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
}

// scopes are the partner scopes the schedule settles ("" for all partners).
func (s *Scheduler) scopes() []string {
	if len(s.plan.partners) == 0 {
		return []string{""}
	}
	return s.plan.partners
}

func (s *Scheduler) periodZone(partner string) *time.Location {
	if s.d.PeriodZone != nil {
		if loc := s.d.PeriodZone(partner); loc != nil {
			return loc
		}
	}
	return time.UTC
}

// tick settles, as of slot, every partner scope: each period from the
// scope's floor to the one slot falls in is finalised if its grace deadline
// is not after slot, and otherwise settled provisionally. Finals of a scope
// go in period order, and a final that does not succeed holds back the later
// ones (invoice numbers follow the periods).
func (s *Scheduler) tick(slot time.Time, origin Origin) {
	t := Tick{Slot: slot.UTC(), Origin: origin, Started: time.Now().UTC()}
	s.log.Info("schedule tick", "slot", slot, "origin", origin)
	t.PullsFailed = s.pull(s.plan.pull)
	for _, partner := range s.scopes() {
		if s.life.Err() != nil {
			break
		}
		s.settleScope(partner, slot, origin, &t)
	}
	t.Ended = time.Now().UTC()
	s.m.lastTick.Set(unix(t.Ended))
	s.mu.Lock()
	s.health.LastTick = &t
	s.mu.Unlock()
	s.log.Info("schedule tick done", "slot", slot, "origin", origin, "runs", t.Runs, "failed", t.Failed,
		"pulls_failed", t.PullsFailed, "duration", t.Ended.Sub(t.Started))
}

func (s *Scheduler) settleScope(partner string, slot time.Time, origin Origin, t *Tick) {
	loc := s.periodZone(partner)
	floor, ok := s.floor[partner]
	if !ok {
		var err error
		if floor, err = s.lowerBound(partner, slot, loc); err != nil {
			t.Failed++
			return
		}
		s.floor[partner] = floor
	}
	cur := PeriodOf(slot, loc)
	holdFinals := false
	for p := floor; !cur.Before(p) && s.life.Err() == nil; p = p.Next() {
		id := RunID{Scope: Scope{Period: p, Partner: partner, Kind: Provisional}, AsOf: slot.UTC().Truncate(time.Second)}
		if !s.plan.grace.Deadline(p, loc).After(slot) {
			if holdFinals {
				continue
			}
			id = RunID{Scope: Scope{Period: p, Partner: partner, Kind: Final}}
		}
		res, err := s.await(context.Background(), id, origin, nil)
		if res.Ran() {
			t.Runs++
		}
		if err != nil {
			t.Failed++
		}
		if id.Kind != Final {
			continue
		}
		if err == nil && (res.Claim == Done || res.Outcome.Status == Succeeded) {
			if p == s.floor[partner] {
				s.floor[partner] = p.Next()
			}
		} else {
			holdFinals = true
		}
	}
}

// lowerBound is where a scope's catch-up starts: the configured from, or the
// earliest period the schedule ran for it, or the period of this first tick.
func (s *Scheduler) lowerBound(partner string, slot time.Time, loc *time.Location) (Period, error) {
	if !s.plan.from.IsZero() {
		return s.plan.from, nil
	}
	p, ok, err := s.d.Ledger.Earliest(s.life, partner)
	if err != nil {
		s.m.ledgerErrors.Inc()
		s.log.Error("schedule: ledger earliest", "partner", partner, "err", err)
		return Period{}, err
	}
	if ok {
		return p, nil
	}
	return PeriodOf(slot, loc), nil
}

// pull calls the Pull hook for each partner in turn and returns how many
// failed. A panicking hook counts as failed.
func (s *Scheduler) pull(partners []string) (failed int) {
	if s.d.Pull == nil {
		return 0
	}
	for _, p := range partners {
		if s.life.Err() != nil {
			return failed
		}
		err := func() (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("panic: %v", v)
					s.log.Error("schedule: pull panicked", "partner", p, "panic", v, "stack", string(debug.Stack()))
				}
			}()
			return s.d.Pull(s.life, p)
		}()
		if err != nil {
			failed++
			s.m.pulls.WithLabelValues(outcomeFailed).Inc()
			s.log.Warn("schedule: pull failed; runs go on with what is stored", "partner", p, "err", err)
			continue
		}
		s.m.pulls.WithLabelValues(outcomeSucceeded).Inc()
	}
	return failed
}

// Request is a run asked for by hand (the run command, the admin socket).
type Request struct {
	Period  Period
	Partner string // any form PartnerKey reads; "" for all partners
	Kind    Kind
}

// Trigger runs a settlement now, or joins the run of the same scope already
// going (two triggers at once give one run). A final run of a period already
// finalised is not run again (Result.Claim is Done). A final run is refused
// while its period has not ended; the grace period binds only the schedule.
// The run belongs to the scheduler: if ctx ends first, Trigger returns
// ctx's error and the run goes on. The error is the run's (failed,
// panicked, cancelled) or the Ledger's.
func (s *Scheduler) Trigger(ctx context.Context, r Request) (Result, error) {
	partner := ""
	if r.Partner != "" {
		var err error
		if partner, err = PartnerKey(r.Partner); err != nil {
			return Result{}, fmt.Errorf("schedule: %w", err)
		}
	}
	if r.Period.IsZero() || r.Period.Month < time.January || r.Period.Month > time.December {
		return Result{}, fmt.Errorf("schedule: no period given")
	}
	id := RunID{Scope: Scope{Period: r.Period, Partner: partner, Kind: r.Kind}}
	now := time.Now()
	switch r.Kind {
	case Provisional:
		id.AsOf = now.UTC().Truncate(time.Second)
	case Final:
		if end := r.Period.End(s.periodZone(partner)); end.After(now) {
			return Result{ID: id}, fmt.Errorf("schedule: %s cannot be finalised before the period ends (%s)", id, end.Format(time.RFC3339))
		}
	default:
		return Result{}, fmt.Errorf("schedule: kind %q is not provisional or final", r.Kind)
	}
	var pulls []string
	if partner == "" {
		pulls = s.plan.pull
	} else if slices.Contains(s.plan.pull, partner) {
		pulls = []string{partner}
	}
	return s.await(ctx, id, OriginManual, pulls)
}

// await starts id's run, or joins the run of its scope already going, and
// waits for it (or for ctx).
func (s *Scheduler) await(ctx context.Context, id RunID, origin Origin, pulls []string) (Result, error) {
	s.mu.Lock()
	if s.state == stateStopped {
		s.mu.Unlock()
		return Result{ID: id}, ErrStopped
	}
	f, joined := s.inflight[id.Scope]
	if !joined {
		f = &flight{id: id, done: make(chan struct{})}
		s.inflight[id.Scope] = f
		s.wg.Add(1)
		go s.fly(f, origin, pulls)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		r := f.res
		r.Joined = joined
		return r, f.err
	case <-ctx.Done():
		return Result{ID: f.id, Joined: joined}, ctx.Err()
	}
}

// fly runs one flight to its end: the period-and-partner lock, the Ledger's
// claim, the pulls, the job with panics recovered, the recorded outcome.
func (s *Scheduler) fly(f *flight, origin Origin, pulls []string) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, f.id.Scope)
		s.mu.Unlock()
		close(f.done)
	}()
	f.res.ID = f.id
	release, err := s.exclude(exclKey{f.id.Period, f.id.Partner})
	if err != nil {
		f.err = err
		return
	}
	defer release()
	job := Job{RunID: f.id, Origin: origin}
	claim, err := s.d.Ledger.Begin(s.life, job, time.Now())
	if err != nil {
		s.m.ledgerErrors.Inc()
		s.log.Error("schedule: ledger begin", "run", f.id, "err", err)
		f.err = fmt.Errorf("schedule: %s: ledger: %w", f.id, err)
		return
	}
	f.res.Claim = claim
	if claim != Claimed {
		s.m.skipped.WithLabelValues(string(f.id.Kind), claim.String()).Inc()
		s.log.Info("schedule: run not started", "run", f.id, "ledger", claim)
		return
	}
	s.pull(pulls)
	out := s.execute(job)
	f.res.Outcome = out
	s.m.observe(f.id.Kind, out, origin)
	// The outcome is recorded even when shutdown cancelled the run.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.life), 30*time.Second)
	defer cancel()
	if err := s.d.Ledger.Finish(ctx, f.id, out); err != nil {
		s.m.ledgerErrors.Inc()
		s.log.Error("schedule: ledger finish", "run", f.id, "status", out.Status, "err", err)
		f.err = fmt.Errorf("schedule: %s: recording %s: %w", f.id, out.Status, err)
	}
	if out.Status != Succeeded {
		f.err = errors.Join(fmt.Errorf("schedule: %s %s: %s", f.id, out.Status, out.Err), f.err)
	}
}

// exclude waits for the period-and-partner lock; release gives it back.
func (s *Scheduler) exclude(k exclKey) (release func(), err error) {
	s.mu.Lock()
	sem, ok := s.excl[k]
	if !ok {
		sem = make(chan struct{}, 1)
		s.excl[k] = sem
	}
	s.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-s.life.Done():
		return nil, s.life.Err()
	}
}

// execute calls the Runner, turning a panic into a failed outcome.
func (s *Scheduler) execute(job Job) (out Outcome) {
	out.Started = time.Now().UTC()
	s.m.running.Inc()
	defer s.m.running.Dec()
	s.log.Info("schedule: run", "run", job.RunID, "origin", job.Origin)
	defer func() {
		if v := recover(); v != nil {
			out.Status, out.Err, out.Panic, out.Ended = Failed, fmt.Sprintf("panic: %v", v), true, time.Now().UTC()
			s.log.Error("schedule: run panicked; recorded as failed", "run", job.RunID, "panic", v,
				"stack", string(debug.Stack()))
		}
	}()
	err := s.d.Runner.Settle(s.life, job)
	out.Ended = time.Now().UTC()
	switch {
	case err == nil:
		out.Status = Succeeded
	case s.life.Err() != nil && errors.Is(err, context.Canceled):
		out.Status, out.Err = Canceled, err.Error()
	default:
		out.Status, out.Err = Failed, err.Error()
	}
	lvl := slog.LevelInfo
	if out.Status != Succeeded {
		lvl = slog.LevelError
	}
	s.log.Log(context.Background(), lvl, "schedule: run ended", "run", job.RunID, "status", out.Status,
		"err", out.Err, "duration", out.Ended.Sub(out.Started))
	return out
}
