package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

// jobLedger is the store's run ledger as settle's JobLedger (store keeps
// the identity in its own types; this adapter translates, as runLedger
// does for the schedule).
type jobLedger struct{ db *store.Store }

var _ settle.JobLedger = jobLedger{}

func jobStoreKey(k settle.JobKey) store.RunKey {
	return store.RunKey{Period: k.Period, Partner: k.Partner, Kind: string(k.Kind), AsOf: k.AsOf}
}

func (l jobLedger) Claim(ctx context.Context, key settle.JobKey, origin string, started time.Time) (settle.Claim, int64, error) {
	c, no, err := l.db.ClaimRun(ctx, store.RunStart{Key: jobStoreKey(key), Origin: origin, Started: started})
	if err != nil {
		return 0, 0, err
	}
	switch c {
	case store.RunClaimed:
		return settle.Claimed, no, nil
	case store.RunDone:
		return settle.Done, no, nil
	case store.RunBusy:
		return settle.Busy, no, nil
	}
	return 0, 0, fmt.Errorf("run ledger: unexpected claim %v", c)
}

func ledgerRun(r store.RunRecord) settle.LedgerRun {
	out := settle.LedgerRun{No: r.No, Status: r.Status, Inputs: r.Inputs,
		Key: settle.JobKey{Period: r.Key.Period, Partner: r.Key.Partner, Kind: settle.JobKind(r.Key.Kind), AsOf: r.Key.AsOf}}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, s.Name)
	}
	return out
}

func (l jobLedger) Lookup(ctx context.Context, key settle.JobKey) (settle.LedgerRun, error) {
	r, err := l.db.RunByKey(ctx, jobStoreKey(key))
	if err != nil {
		return settle.LedgerRun{}, err
	}
	d, err := l.db.RunByNo(ctx, r.No)
	if err != nil {
		return settle.LedgerRun{}, err
	}
	out := ledgerRun(d.RunRecord)
	for _, o := range d.Outputs {
		out.Outputs = append(out.Outputs, settle.FileOutput{Path: o.Path, Bytes: o.Bytes, SHA256: o.SHA256})
	}
	return out, nil
}

func (l jobLedger) Runs(ctx context.Context, period, partner string, kinds ...settle.JobKind) ([]settle.LedgerRun, error) {
	rs, err := l.db.Runs(ctx, store.RunFilter{Period: period, Partner: partner})
	if err != nil {
		return nil, err
	}
	var out []settle.LedgerRun
	for _, r := range rs {
		if slices.Contains(kinds, settle.JobKind(r.Key.Kind)) {
			out = append(out, ledgerRun(r))
		}
	}
	return out, nil
}

func (l jobLedger) SetInputs(ctx context.Context, no int64, inputs, policy []byte, reset bool) error {
	return l.db.SetRunInputs(ctx, no, inputs, policy, reset)
}

func (l jobLedger) RecordStep(ctx context.Context, no int64, rec settle.StepRecord) error {
	st := store.RunStep{Name: rec.Name, Started: rec.Started, Ended: rec.Ended, Counts: rec.Counts}
	for _, a := range rec.Amounts {
		st.Amounts = append(st.Amounts, store.RunAmount{Name: a.Name, Currency: a.Currency, Amount: a.Amount})
	}
	for _, o := range rec.Outputs {
		st.Outputs = append(st.Outputs, store.RunOutput{Path: o.Path, Bytes: o.Bytes, SHA256: o.SHA256})
	}
	return l.db.RecordRunStep(ctx, no, st)
}

func (l jobLedger) Finish(ctx context.Context, key settle.JobKey, status, why string) error {
	return l.db.FinishRun(ctx, jobStoreKey(key), store.RunEnd{Status: status, Err: why, Ended: time.Now()})
}

func shortHash(h [32]byte) string { return hex.EncodeToString(h[:6]) }
