package schedule

import (
	"context"
	"fmt"
	"time"
)

// Kind is what a run does with its period.
type Kind string

const (
	// Provisional settles a period so far: disputes and reports, no invoice
	// numbers. It may run any number of times.
	Provisional Kind = "provisional"
	// Final settles a period once and for all: numbered invoices. After it,
	// late CDRs lead to credit notes (invoicing's business).
	Final Kind = "final"
)

// Scope is what one settlement run covers. Two runs of one scope never
// overlap within a process.
type Scope struct {
	Period  Period
	Partner string // "CC-PID" (PartnerKey); "" is every partner in one run
	Kind    Kind
}

func (s Scope) String() string {
	p := s.Partner
	if p == "" {
		p = "all"
	}
	return s.Period.String() + " " + p + " " + string(s.Kind)
}

// RunID is a run's identity: the Ledger's unique key. A final run's AsOf is
// the zero time, so a period is finalised once per partner scope; a
// provisional run's AsOf is the tick it stands for, so each nightly
// provisional run of a period is its own run, and the same tick caught up
// twice (two restarts on one day) is one.
type RunID struct {
	Scope
	// AsOf (provisional only) is the due instant of the tick, or the instant
	// of a manual trigger, in UTC to the second.
	AsOf time.Time
}

func (id RunID) String() string {
	if id.Kind == Provisional {
		return id.Scope.String() + " as of " + id.AsOf.UTC().Format(time.RFC3339)
	}
	return id.Scope.String()
}

// Origin says what started a run.
type Origin string

const (
	OriginScheduled Origin = "scheduled" // a tick due now
	OriginCatchUp   Origin = "catch-up"  // a tick missed while down, run on start (or after a stall)
	OriginManual    Origin = "manual"    // Scheduler.Trigger
)

// Job is one settlement run handed to the Runner.
type Job struct {
	RunID
	Origin Origin
}

// Runner runs one settlement job (settle implements it). It honours ctx:
// when ctx is cancelled (graceful shutdown) it stops at the next step
// boundary and returns; the scheduler waits for it. It returns nil only
// when the job is complete.
type Runner interface {
	Settle(ctx context.Context, job Job) error
}

// Claim is the Ledger's answer to Begin.
type Claim int

const (
	// Claimed: no run with this identity has succeeded and none is going; the
	// ledger now records this one as running.
	Claimed Claim = iota
	// Done: a run with this identity has succeeded; nothing to do.
	Done
	// Busy: a run with this identity is going in another live process.
	Busy
)

func (c Claim) String() string {
	switch c {
	case Claimed:
		return "claimed"
	case Done:
		return "done"
	case Busy:
		return "busy"
	}
	return fmt.Sprintf("Claim(%d)", int(c))
}

// Status is how a run ended.
type Status string

const (
	Succeeded Status = "succeeded"
	Failed    Status = "failed"   // the Runner's error, or a panic it raised
	Canceled  Status = "canceled" // stopped at a step boundary by shutdown
)

// Outcome is a finished run, as the Ledger records it.
type Outcome struct {
	Status  Status
	Err     string // why, unless Succeeded; a panic reads "panic: ..."
	Panic   bool   // Failed by a panic, recovered
	Started time.Time
	Ended   time.Time
}

// Ledger records runs under their identity (store implements it, with a
// unique key on (period, partner, kind, as_of) in DuckDB; a final's zero
// AsOf and the all-partners scope's "" must be stored as values, not NULL,
// since NULLs never collide in a unique key). A lock is not idempotency: the
// unique key is what makes two triggers of one final run produce one set of
// documents, even across processes.
type Ledger interface {
	// Begin claims the identity for a new attempt of job. A failed or
	// cancelled earlier attempt does not block a new one. A record left
	// "running" by a process that died must not answer Busy forever: since
	// one process owns the database, the store marks such records
	// interrupted when it opens it.
	Begin(ctx context.Context, job Job, started time.Time) (Claim, error)
	// Finish records how the claimed run ended.
	Finish(ctx context.Context, id RunID, out Outcome) error
	// Earliest is the earliest period of a run the schedule started
	// (OriginScheduled or OriginCatchUp, any status) for a partner scope
	// ("" for the all-partners scope); ok is false when there is none. It is
	// where catch-up starts when the config has no from.
	Earliest(ctx context.Context, partner string) (p Period, ok bool, err error)
}
