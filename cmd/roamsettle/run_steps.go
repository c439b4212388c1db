package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

// The partner steps of the whole job that main has today, wired to the
// store. Each writes its rows in its own transaction and renders its files
// from what it stored, so that an attempt after a crash writes the same
// bytes.

// The reconcile step's amounts per currency (the ledger records them by
// these names; demo sums them).
const (
	amountBilled     = "billed excl. VAT"
	amountRecomputed = "recomputed excl. VAT"
	amountInDispute  = "in_dispute excl. VAT"
)

// reconcileStep validates, compares and explains the partner's CDRs,
// matches its stored invoice reconciliation records and raises disputes
// (reconcile's whole run, as `roamsettle reconcile` does),
// stored under the run id "reconcile:PERIOD/CC-PID", and writes the report
// that `reconcile --json` prints as reconcile.json.
type reconcileStep struct {
	db     *store.Store
	cfg    Config
	tokens *reconcile.Tokens
}

func (reconcileStep) Name() string { return "reconcile" }

func (s reconcileStep) Run(ctx context.Context, p *settle.PartnerRun) (*settle.StepReport, error) {
	pc := s.cfg.partner(p.Party.CountryCode, p.Party.PartyID)
	// The bulk path `roamsettle reconcile` takes, over the job's priced rows,
	// with the partner's stored invoice reconciliation records as its
	// invoices (the run's inputs digest counts them).
	step := &settle.ReconcileStep{Prepare: func(ctx context.Context, _ settle.Party, in *reconcile.Input) error {
		in.Policy, in.Tolerance, in.Limits = p.Policy.Pricing, pc.tolerance(), pc.limits()
		in.At, in.By = p.AsOf, "run "+p.Key.String()
		in.Tokens = s.tokens
		irrs, err := s.db.StoredInvoices(ctx, &p.Selection)
		if err != nil || len(irrs) == 0 {
			return err
		}
		for _, r := range irrs {
			in.Invoices = append(in.Invoices, reconcile.InvoiceFromIRR(r, "stored record "+r.ID))
		}
		return loadInvoices(in, nil, pc.columns(), pc.InvoiceTotals[p.Period.String()])
	}}
	// reconcile.json is written while the store writes the rows (a month
	// of a large partner: seconds each); the step ends, and the ledger
	// records the file, only once both are done.
	type written struct {
		f   settle.FileOutput
		err error
	}
	var report chan written
	step.Reported = func(owner settle.Party, rep *reconcile.Report) {
		if owner != p.Party || report != nil {
			return
		}
		report = make(chan written, 1)
		go func() {
			f, err := p.Files.Write("reconcile.json", rep.WriteJSON)
			report <- written{f, err}
		}()
	}
	wait := func() written {
		if report == nil {
			return written{err: fmt.Errorf("reconcile %s: no report", p.Party)}
		}
		return <-report
	}
	scope := settle.Scope{Period: p.Period, Partner: p.Party}
	w, err := s.db.BeginReconcile(ctx, scope)
	if err != nil {
		return nil, err
	}
	if err := step.Reconcile(ctx, s.db, w, settle.Run{Kind: settle.KindReconcile, Scope: scope}, &p.Selection); err != nil {
		w.Rollback()
		if report != nil {
			<-report
		}
		return nil, err
	}
	if err := w.Commit(ctx, settle.RunRecord{}); err != nil {
		if report != nil {
			<-report
		}
		return nil, err
	}
	rep, raised, revised := step.Reports[p.Party], step.Raised, step.Revised
	if rep == nil {
		return nil, fmt.Errorf("reconcile %s: no report", scope)
	}
	jw := wait()
	if jw.err != nil {
		return nil, jw.err
	}
	f := jw.f
	sm := rep.Summary()
	out := &settle.StepReport{Files: []settle.FileOutput{f}, Counts: map[string]int64{
		"cdrs": int64(sm.CDRs), "ok": int64(sm.OK), "mismatch": int64(sm.Mismatch), "not_verifiable": int64(sm.NotVerifiable),
		"disputed": int64(sm.Disputed), "disputes_raised": int64(raised), "disputes_revised": int64(revised)}}
	for r, n := range sm.ByReason {
		out.Counts["reason "+r] = int64(n)
	}
	curs := make([]string, 0, len(sm.Currencies))
	for c := range sm.Currencies {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		cs := sm.Currencies[c]
		for _, a := range []struct {
			name string
			v    *reconcile.JSONAmount
		}{{amountBilled, cs.Billed}, {amountRecomputed, cs.Recomputed}, {amountInDispute, cs.InDispute}} {
			if a.v == nil || a.v.ExclVAT == nil {
				continue
			}
			d, err := decimal.NewFromString(*a.v.ExclVAT)
			if err != nil {
				return nil, fmt.Errorf("reconcile summary %s %s: %w", c, a.name, err)
			}
			out.Amounts = append(out.Amounts, settle.StepAmount{Name: a.name, Currency: c, Amount: d})
		}
	}
	return out, nil
}
