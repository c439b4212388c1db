package main

import (
	"context"
	"fmt"
	"sort"
	"time"

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

// prepare completes a partner's input as `roamsettle reconcile` does,
// with the partner's stored invoice reconciliation records as its
// invoices (the run's inputs digest counts them).
func (s reconcileStep) prepare(ctx context.Context, p *settle.PartnerRun, in *reconcile.Input) error {
	pc := s.cfg.partner(p.Party.CountryCode, p.Party.PartyID)
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
}

// Before implements settle.PartnerPrepass: the pending partners' CDRs are
// screened in one pass over the period. Reconciling partner by partner
// read every partner's rows once per partner when their CDRs arrive
// interleaved, as nightly pulls store them. A partner whose stored
// reconciliation would read other priced rows than the period's (priced
// on its own since) is left to its step. Each kept partner's run holds
// the screen (Kept) until its step takes its part.
func (s reconcileStep) Before(ctx context.Context, runs []*settle.PartnerRun) error {
	period := settle.Scope{Period: runs[0].Period}
	w, err := s.db.BeginReconcile(ctx, period)
	if err != nil {
		return err
	}
	defer w.Rollback()
	byParty := map[settle.Party]*settle.PartnerRun{}
	var keep []settle.Party
	for _, p := range runs {
		pw, err := s.db.BeginReconcile(ctx, settle.Scope{Period: p.Period, Partner: p.Party})
		if err != nil {
			return err
		}
		same := pw.PricedRunNo() == w.PricedRunNo()
		pw.Rollback()
		if same {
			byParty[p.Party] = p
			keep = append(keep, p.Party)
		}
	}
	if len(keep) < 2 {
		return nil
	}
	step := &settle.ReconcileStep{Prepare: func(ctx context.Context, owner settle.Party, in *reconcile.Input) error {
		if p := byParty[owner]; p != nil {
			return s.prepare(ctx, p, in)
		}
		return nil // not kept: its step reconciles it
	}}
	sel := runs[0].Selection
	sel.Owner = settle.Party{}
	t0 := time.Now()
	pre, err := step.ScreenOwners(ctx, s.db, w, settle.Run{Kind: settle.KindReconcile, Scope: period}, &sel, keep)
	if err != nil || pre == nil {
		return err
	}
	for _, p := range byParty {
		if p.Kept == nil {
			p.Kept = map[string]any{}
		}
		p.Kept[s.Name()] = pre
	}
	runs[0].Log.Info("reconcile: partners screened in one pass", "partners", len(keep), "elapsed", time.Since(t0).Round(time.Millisecond))
	return nil
}

func (s reconcileStep) Run(ctx context.Context, p *settle.PartnerRun) (*settle.StepReport, error) {
	// The bulk path `roamsettle reconcile` takes, over the job's priced rows.
	pre, _ := p.Kept[s.Name()].(*settle.Prescreen)
	step := &settle.ReconcileStep{Prescreen: pre, Prepare: func(ctx context.Context, _ settle.Party, in *reconcile.Input) error {
		return s.prepare(ctx, p, in)
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
	if step.Rescreened {
		p.Log.Info("reconcile: the partner's CDRs changed since the run screened them; screened again", "partner", p.Party.String())
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
