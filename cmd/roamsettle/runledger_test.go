package main

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/schedule"
	"github.com/roamsettle/roamsettle/store"
)

// jobFunc is a schedule.Runner.
type jobFunc func(ctx context.Context, job schedule.Job) error

func (f jobFunc) Settle(ctx context.Context, job schedule.Job) error { return f(ctx, job) }

// The schedule over the store's ledger in a real DuckDB file: a panicking
// run is recorded as failed (panicked) and retried, a finalised period is
// not run again, a run held by someone else (the run command) is busy,
// and manual runs do not move where catch-up starts.
func TestRunLedgerUnderSchedule(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ledger.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var calls atomic.Int32
	runner := jobFunc(func(ctx context.Context, job schedule.Job) error {
		if calls.Add(1) == 1 {
			panic("first attempt explodes")
		}
		return nil
	})
	s, err := schedule.New(schedule.Config{}, schedule.Deps{Runner: runner, Ledger: runLedger{db}})
	if err != nil {
		t.Fatal(err)
	}
	jan := schedule.Request{Period: schedule.Period{Year: 2026, Month: time.January}, Kind: schedule.Final}
	if _, err := s.Trigger(ctx, jan); err == nil {
		t.Fatal("the panicking run reported no error")
	}
	key := store.RunKey{Period: "2026-01", Kind: "final"}
	r, err := db.RunByKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.RunFailed || !r.Panicked || r.Err != "panic: first attempt explodes" || r.Origin != "manual" {
		t.Fatalf("after the panic: %+v", r)
	}
	res, err := s.Trigger(ctx, jan)
	if err != nil || !res.Ran() || res.Outcome.Status != schedule.Succeeded {
		t.Fatalf("retry: %+v %v", res, err)
	}
	res, err = s.Trigger(ctx, jan)
	if err != nil || res.Claim != schedule.Done || calls.Load() != 2 {
		t.Fatalf("again: %+v %v (runner called %d times)", res, err, calls.Load())
	}
	if r, _ := db.RunByKey(ctx, key); r.Attempts != 2 || r.Status != store.RunSucceeded {
		t.Fatalf("record: %+v", r)
	}

	// February's final is held by another run (as `roamsettle run` would).
	feb := store.RunKey{Period: "2026-02", Kind: "final"}
	if c, _, err := db.ClaimRun(ctx, store.RunStart{Key: feb, Origin: "command"}); err != nil || c != store.RunClaimed {
		t.Fatal(c, err)
	}
	res, err = s.Trigger(ctx, schedule.Request{Period: schedule.Period{Year: 2026, Month: time.February}, Kind: schedule.Final})
	if err != nil || res.Claim != schedule.Busy {
		t.Fatalf("held: %+v %v", res, err)
	}

	if _, ok, err := (runLedger{db}).Earliest(ctx, ""); ok || err != nil {
		t.Fatalf("manual runs set where catch-up starts: %v %v", ok, err)
	}
	if _, err := (runLedger{db}).Begin(ctx, schedule.Job{RunID: schedule.RunID{Scope: schedule.Scope{
		Period: schedule.Period{Year: 2025, Month: time.December}, Partner: "NL-ABC", Kind: schedule.Provisional},
		AsOf: time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)}, Origin: schedule.OriginCatchUp}, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, ok, err := (runLedger{db}).Earliest(ctx, "NL-ABC")
	if err != nil || !ok || p != (schedule.Period{Year: 2025, Month: time.December}) {
		t.Fatalf("earliest: %v %v %v", p, ok, err)
	}
}
