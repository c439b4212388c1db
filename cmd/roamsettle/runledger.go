package main

import (
	"context"
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/schedule"
	"github.com/roamsettle/roamsettle/store"
)

// runLedger is the store's run ledger as the schedule's Ledger. store may
// not import schedule (DESIGN.md's rooms), so it keeps the identity in its
// own types and this adapter translates.
type runLedger struct{ db *store.Store }

var _ schedule.Ledger = runLedger{}

func runKey(id schedule.RunID) store.RunKey {
	return store.RunKey{Period: id.Period.String(), Partner: id.Partner, Kind: string(id.Kind), AsOf: id.AsOf}
}

func (l runLedger) Begin(ctx context.Context, job schedule.Job, started time.Time) (schedule.Claim, error) {
	c, _, err := l.db.ClaimRun(ctx, store.RunStart{Key: runKey(job.RunID), Origin: string(job.Origin), Started: started})
	if err != nil {
		return 0, err
	}
	switch c {
	case store.RunClaimed:
		return schedule.Claimed, nil
	case store.RunDone:
		return schedule.Done, nil
	case store.RunBusy:
		return schedule.Busy, nil
	}
	return 0, fmt.Errorf("run ledger: unexpected claim %v", c)
}

func (l runLedger) Finish(ctx context.Context, id schedule.RunID, out schedule.Outcome) error {
	var status string
	switch out.Status {
	case schedule.Succeeded:
		status = store.RunSucceeded
	case schedule.Failed:
		status = store.RunFailed
	case schedule.Canceled:
		status = store.RunCanceled
	default:
		return fmt.Errorf("run ledger: %s: unknown status %q", id, out.Status)
	}
	return l.db.FinishRun(ctx, runKey(id), store.RunEnd{Status: status, Err: out.Err, Panicked: out.Panic, Ended: out.Ended})
}

func (l runLedger) Earliest(ctx context.Context, partner string) (schedule.Period, bool, error) {
	p, ok, err := l.db.EarliestRunPeriod(ctx, partner, string(schedule.OriginScheduled), string(schedule.OriginCatchUp))
	if err != nil || !ok {
		return schedule.Period{}, false, err
	}
	period, err := schedule.ParsePeriod(p)
	if err != nil {
		return schedule.Period{}, false, fmt.Errorf("run ledger: stored period: %w", err)
	}
	return period, true, nil
}
